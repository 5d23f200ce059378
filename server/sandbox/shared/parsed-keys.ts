import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

/**
 * The sandboxes' keys parsed once, by their PEM text. A sandbox signs or verifies with the same
 * few keys on every request, and parsing a PEM costs about as much as verifying an RSA signature,
 * so each text is parsed on first use only. Keyed by the text itself, a rotated key (a new
 * platform certificate) or the other signing mode's key is another entry, used from the very
 * request that names it. Bounded: the oldest entries go first once `MAX_KEYS` are held.
 */

/** More than any sandbox holds at once (WeChat Pay: the merchant key, the 微信支付公钥, two certificates). */
const MAX_KEYS = 64;

class PemCache {
  private readonly keys = new Map<string, KeyObject>();

  constructor(private readonly parse: (pem: string) => KeyObject) {}

  get(pem: string): KeyObject {
    let key = this.keys.get(pem);
    if (key === undefined) {
      key = this.parse(pem);
      this.keys.set(pem, key);
      if (this.keys.size > MAX_KEYS) this.keys.delete(this.keys.keys().next().value as string);
    }
    return key;
  }
}

const privateKeys = new PemCache((pem) => createPrivateKey(pem));
const publicKeys = new PemCache((pem) => createPublicKey(pem));

/** The private key of `pem` (PKCS#8 or PKCS#1), parsed once. Throws what `createPrivateKey` throws. */
export function privateKeyOf(pem: string): KeyObject {
  return privateKeys.get(pem);
}

/** The public key of `pem` (SPKI, PKCS#1 or a certificate), parsed once. Throws what `createPublicKey` throws. */
export function publicKeyOf(pem: string): KeyObject {
  return publicKeys.get(pem);
}
