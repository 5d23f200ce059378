import { generateKeyPairSync } from 'node:crypto';
import { issuePlatformCertificate } from '../../server/sandbox/wechatpay/keys';

/** A fresh RSA key pair in PEM: SPKI public, unencrypted PKCS#8 private. */
export function rsaPem(bits = 2048): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

/** A fresh P-256 key pair in PEM (SPKI, PKCS#8). */
export function ecPem(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

/** A fresh Ed25519 key pair in PEM (SPKI, PKCS#8). */
export function ed25519Pem(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

/**
 * Writes, through `write(name, pem)`, the key files a setting that takes an RSA key of 2048 bits
 * or more meets by mistake: `ec_key.pem`/`ec_pub.pem` (P-256), `ed25519_key.pem`/`ed25519_pub.pem`,
 * `rsa<bits>_key.pem`/`rsa<bits>_pub.pem` for each of `smallRsaBits`, PKCS#1 `pkcs1_key.pem`/
 * `pkcs1_pub.pem` (2048-bit, which a key setting may take), `encrypted_key.pem` (2048-bit,
 * passphrase-protected) and `cert.pem` (an X.509 certificate).
 */
export async function writeOtherKeyFiles(
  write: (name: string, pem: string) => unknown,
  smallRsaBits: readonly number[],
): Promise<void> {
  const pairs: Array<[string, { publicKey: string; privateKey: string }]> = [
    ['ec', ecPem()],
    ['ed25519', ed25519Pem()],
    ...smallRsaBits.map((bits): [string, { publicKey: string; privateKey: string }] => [`rsa${bits}`, rsaPem(bits)]),
    [
      'pkcs1',
      generateKeyPairSync('rsa', {
        modulusLength: 2048,
        publicKeyEncoding: { type: 'pkcs1', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
      }),
    ],
  ];
  for (const [name, pair] of pairs) {
    write(`${name}_key.pem`, pair.privateKey);
    write(`${name}_pub.pem`, pair.publicKey);
  }
  write(
    'encrypted_key.pem',
    generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' },
    }).privateKey,
  );
  write('cert.pem', (await issuePlatformCertificate()).certificatePem);
}
