import { execFile } from 'node:child_process';
import { generateKeyPair, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeDirectory } from '../../make-directory';
import { digits, randomString } from '../shared/random';

/**
 * The emulated WeChat Pay's keys: the merchant's API key pair and certificate serial, the APIv3
 * key, the platform's 微信支付公钥 (id `PUB_KEY_ID_…`) and its platform certificates (real X.509,
 * self-signed by the `openssl` CLI, since node:crypto cannot make certificates). Development keys
 * only: generated once per data directory (`wechatpay-keys.json`) or once per sandbox in memory,
 * and handed to anyone who asks `GET /sandbox/wechatpay/keys`.
 */

/** Which key the emulated WeChat Pay signs answers and notifications with. */
export type SigningMode = 'certificate' | 'public_key';

/** A platform certificate and its private key (PEM); `validFrom`/`validTo` in ms. */
export interface PlatformCertificateRecord {
  serialNo: string;
  certificatePem: string;
  privateKeyPem: string;
  validFrom: number;
  validTo: number;
}

export interface WechatPaySandboxKeys {
  mchid: string;
  appid: string;
  /** The merchant API certificate's serial, which requests must name in `serial_no`. */
  serialNo: string;
  merchantPrivateKey: string;
  merchantPublicKey: string;
  apiV3Key: string;
  platformPublicKeyId: string;
  platformPublicKey: string;
  platformPrivateKey: string;
  /** Oldest first; the last one signs in certificate mode. */
  certificates: PlatformCertificateRecord[];
  mode: SigningMode;
}

const KEYS_FILE = 'wechatpay-keys.json';
/** Certificates WeChat issues are valid five years. */
const CERTIFICATE_DAYS = 1825;

const generateRsa = promisify(generateKeyPair);
const run = promisify(execFile);

async function rsaPair(): Promise<{ privateKey: string; publicKey: string }> {
  return generateRsa('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

/** 40 upper-case hex digits, the shape of WeChat's serials, with a first byte that keeps DER positive and unpadded. */
function certificateSerial(): string {
  const bytes = randomBytes(20);
  bytes[0] = 0x10 + (bytes[0] % 0x70);
  return bytes.toString('hex').toUpperCase();
}

/**
 * A new platform key pair and its self-signed X.509 certificate, made with `openssl req -x509`.
 * Throws when the `openssl` CLI is missing or fails.
 */
export async function issuePlatformCertificate(): Promise<PlatformCertificateRecord> {
  const pair = await rsaPair();
  const serialNo = certificateSerial();
  const directory = mkdtempSync(join(tmpdir(), 'wechatpay-sandbox-'));
  try {
    const keyFile = join(directory, 'platform-key.pem');
    writeFileSync(keyFile, pair.privateKey, { mode: 0o600 });
    const { stdout } = await run('openssl', [
      'req',
      '-x509',
      '-new',
      '-key',
      keyFile,
      '-subj',
      '/C=CN/O=Tenpay.com/OU=WeChat Pay sandbox/CN=Tenpay.com sandbox platform certificate',
      '-days',
      String(CERTIFICATE_DAYS),
      '-set_serial',
      `0x${serialNo}`,
      '-sha256',
      '-config',
      '/dev/null',
    ]);
    const certificate = new X509Certificate(stdout);
    return {
      serialNo,
      certificatePem: stdout,
      privateKeyPem: pair.privateKey,
      validFrom: Date.parse(certificate.validFrom),
      validTo: Date.parse(certificate.validTo),
    };
  } catch (error) {
    throw new Error(
      `the WeChat Pay sandbox needs the openssl CLI to make its platform certificate: ${(error as Error).message}`,
      { cause: error },
    );
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** A fresh set of development keys for `mchid` and `appid`, in certificate mode. */
export async function generateSandboxKeys(ids: { mchid: string; appid: string }): Promise<WechatPaySandboxKeys> {
  const [merchant, platform, certificate] = await Promise.all([rsaPair(), rsaPair(), issuePlatformCertificate()]);
  return {
    mchid: ids.mchid,
    appid: ids.appid,
    serialNo: certificateSerial(),
    merchantPrivateKey: merchant.privateKey,
    merchantPublicKey: merchant.publicKey,
    apiV3Key: randomString(32),
    platformPublicKeyId: `PUB_KEY_ID_01${ids.mchid.replace(/\D/g, '').slice(0, 10)}${digits(20)}`,
    platformPublicKey: platform.publicKey,
    platformPrivateKey: platform.privateKey,
    certificates: [certificate],
    mode: 'certificate',
  };
}

/**
 * Holds the keys: made on first use (key generation takes a moment and most sandboxes never
 * serve WeChat Pay), read from `directory` when it has them, and written back after every change.
 */
export class SandboxKeyRing {
  private loading?: Promise<WechatPaySandboxKeys>;

  constructor(
    private readonly ids: { mchid: string; appid: string },
    private readonly directory?: string,
    private readonly given?: WechatPaySandboxKeys,
  ) {}

  /** The keys, generated (or read from the data directory) the first time. */
  get(): Promise<WechatPaySandboxKeys> {
    this.loading ??= this.load();
    return this.loading;
  }

  /** Switches the signing mode and keeps it. */
  async setMode(mode: SigningMode): Promise<WechatPaySandboxKeys> {
    const keys = await this.get();
    keys.mode = mode;
    this.save(keys);
    return keys;
  }

  /**
   * Issues a new platform certificate that signs from now on; the previous one stays listed by
   * `/v3/certificates` (as WeChat lists the old and new ones while merchants switch over).
   */
  async rotateCertificate(): Promise<WechatPaySandboxKeys> {
    const keys = await this.get();
    const fresh = await issuePlatformCertificate();
    keys.certificates = [...keys.certificates.slice(-1), fresh];
    this.save(keys);
    return keys;
  }

  private async load(): Promise<WechatPaySandboxKeys> {
    if (this.given) return structuredClone(this.given);
    const file = this.directory ? join(this.directory, KEYS_FILE) : undefined;
    if (file && existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as WechatPaySandboxKeys;
    const keys = await generateSandboxKeys(this.ids);
    this.save(keys);
    return keys;
  }

  private save(keys: WechatPaySandboxKeys): void {
    if (!this.directory) return;
    makeDirectory(this.directory);
    const file = join(this.directory, KEYS_FILE);
    writeFileSync(`${file}.tmp`, JSON.stringify(keys, null, 2), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }
}
