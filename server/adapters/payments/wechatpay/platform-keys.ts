import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { decryptResource } from './aead';
import { WechatPayVerificationError } from './errors';

/**
 * The keys WeChat Pay signs with, found by the `Wechatpay-Serial` of each message
 * (pay.weixin.qq.com, "平台证书", "微信支付公钥", "如何从平台证书切换成微信支付公钥";
 * payments-beyond.md, "WeChat Pay APIv3"): a platform certificate's serial, or the id
 * `PUB_KEY_ID_…` of the 微信支付公钥. A merchant migrating from certificates to the public key
 * gets messages signed either way, so both are consulted, by serial, for every message.
 *
 * Certificates come from `GET /v3/certificates`, each encrypted with the APIv3 key; they are
 * cached and downloaded again when a message names a serial we do not hold (WeChat issues a new
 * certificate before it starts signing with it), at most once per `minDownloadIntervalMs`, so a
 * rotated certificate is picked up without a restart and a flood of forged serials cannot make us
 * flood WeChat. The certificate chain up to WeChat's CA is not checked: the AEAD tag, made with
 * the APIv3 key only WeChat and the merchant hold, is what vouches for a downloaded certificate.
 *
 * That once-a-minute budget is shared: a message anyone can send (a notification) must not spend
 * it, or forged serials would keep it spent and a genuine notification signed with a freshly
 * rotated certificate would be refused until the minute passed. So a notification's unknown
 * serial costs a download only with a `voucher` (see `keyFor`), and each voucher buys at most one
 * download that did not find its serial per `VOUCHER_MEMORY_MS`: a captured genuine resource
 * replayed under fresh serials cannot keep the budget spent either.
 */

/** A platform certificate, decrypted and parsed. */
export interface PlatformCertificate {
  /** Upper-case hex, as `Wechatpay-Serial` carries it. */
  serialNo: string;
  publicKey: KeyObject;
  /** ms */
  validFrom: number;
  /** ms */
  validTo: number;
  pem: string;
}

/** The 微信支付公钥: its id (`PUB_KEY_ID_…`) and the key as SPKI PEM (`pub_key.pem`). */
export interface PlatformPublicKeyConfig {
  id: string;
  pem: string;
}

export interface PlatformKeysOptions {
  /** The 微信支付公钥, for merchants that have one. */
  publicKey?: PlatformPublicKeyConfig;
  /**
   * Downloads the platform certificates (`client.downloadCertificates`); absent for a merchant
   * with no platform certificate (registered since about late 2024).
   */
  download?: () => Promise<PlatformCertificate[]>;
  /** The least time between two downloads, ms. @default 60000 */
  minDownloadIntervalMs?: number;
  /**
   * The least time after a download that failed (no answer, an answer that did not read), ms: it
   * learned nothing, so waiting the full interval would only keep refusing WeChat Pay's retries of
   * a notification signed with a new certificate. @default 5000
   */
  retryAfterFailedDownloadMs?: number;
  /** @default Date.now */
  now?: () => number;
}

/** How long a voucher that bought a fruitless download buys no other, ms. */
export const VOUCHER_MEMORY_MS = 60 * 60 * 1000;
/** How many spent vouchers are remembered at most (the oldest are forgotten first). */
const MAX_SPENT_VOUCHERS = 1024;

/** How `keyFor` may look a serial up. */
export interface KeyLookupOptions {
  /**
   * `false`: only the keys held now are consulted (what the certificate download itself verifies
   * its answer with, and a notification before it is known to vouch for itself). @default true
   */
  download?: boolean;
  /**
   * Something only WeChat Pay or the merchant could have made, for a message anyone could send: a
   * digest of a notification's resource that decrypted with the APIv3 key. A voucher that already
   * bought a download which did not find its serial buys no other for `VOUCHER_MEMORY_MS`.
   */
  voucher?: string;
}

/** Upper-case hex without leading zeros, so `0A1B` and `a1b` name the same certificate. */
export function normalizeSerial(serial: string): string {
  return serial
    .trim()
    .toUpperCase()
    .replace(/^0+(?=.)/, '');
}

export class PlatformKeys {
  private certificates = new Map<string, PlatformCertificate>();
  private readonly publicKey?: { id: string; key: KeyObject };
  private lastDownloadAt?: number;
  private lastDownloadFailed = false;
  private downloading?: Promise<void>;
  private downloadCount = 0;
  /** Voucher → when it bought a download that did not find its serial (ms); oldest first. */
  private readonly spentVouchers = new Map<string, number>();
  private readonly now: () => number;

  /** Throws when `publicKey.pem` is not a public key. */
  constructor(private readonly options: PlatformKeysOptions) {
    this.now = options.now ?? Date.now;
    if (options.publicKey) {
      this.publicKey = {
        id: options.publicKey.id,
        key: createPublicKey(options.publicKey.pem),
      };
    }
  }

  /** How many downloads were started (for logs and tests). */
  get downloads(): number {
    return this.downloadCount;
  }

  /** The serials of the certificates held now (normalised). */
  certificateSerials(): string[] {
    return [...this.certificates.keys()];
  }

  /**
   * The public key a `Wechatpay-Serial` names: the 微信支付公钥 when the serial is its id, else a
   * cached certificate valid now, else one from a fresh download when one is allowed (`options`,
   * the download interval, and an unspent `voucher` when one is given). Throws
   * `WechatPayVerificationError` `UNKNOWN_SERIAL` when none matches; a failing download throws
   * what the download threw (`UpstreamUnreachable`, …).
   */
  async keyFor(serial: string, options: KeyLookupOptions = {}): Promise<KeyObject> {
    if (this.publicKey && serial.trim() === this.publicKey.id) return this.publicKey.key;
    const wanted = normalizeSerial(serial);
    const cached = this.usable(wanted);
    if (cached) return cached;
    const { voucher } = options;
    if (
      options.download !== false &&
      this.options.download &&
      (voucher === undefined || !this.spent(voucher)) &&
      this.downloadAllowed()
    ) {
      await this.refresh();
      const fresh = this.usable(wanted);
      if (fresh) return fresh;
      if (voucher !== undefined) this.spend(voucher);
    }
    throw new WechatPayVerificationError(
      'UNKNOWN_SERIAL',
      `no platform certificate or public key with serial ${serial.slice(0, 64)}`,
    );
  }

  /**
   * Downloads the certificates now (calls already waiting on a download share it) and keeps the
   * ones valid now. Throws what the download throws; the cache stays as it was then.
   */
  refresh(): Promise<void> {
    if (!this.options.download) return Promise.resolve();
    if (this.downloading) return this.downloading;
    this.lastDownloadAt = this.now();
    this.downloadCount += 1;
    const download = this.options.download;
    this.downloading = (async () => {
      try {
        this.lastDownloadFailed = true;
        const certificates = await download();
        const now = this.now();
        const kept = new Map<string, PlatformCertificate>();
        for (const certificate of certificates) {
          if (certificate.validTo > now) kept.set(normalizeSerial(certificate.serialNo), certificate);
        }
        // Certificates WeChat no longer lists but that are still valid keep verifying older messages.
        for (const [serial, certificate] of this.certificates) {
          if (!kept.has(serial) && certificate.validTo > now) kept.set(serial, certificate);
        }
        this.certificates = kept;
        this.lastDownloadFailed = false;
      } finally {
        this.downloading = undefined;
      }
    })();
    return this.downloading;
  }

  private downloadAllowed(): boolean {
    if (this.downloading) return true;
    const least = this.options.minDownloadIntervalMs ?? 60_000;
    const interval = this.lastDownloadFailed
      ? Math.min(least, this.options.retryAfterFailedDownloadMs ?? 5_000)
      : least;
    return this.lastDownloadAt === undefined || this.now() - this.lastDownloadAt >= interval;
  }

  private spent(voucher: string): boolean {
    const at = this.spentVouchers.get(voucher);
    if (at === undefined) return false;
    if (this.now() - at < VOUCHER_MEMORY_MS) return true;
    this.spentVouchers.delete(voucher);
    return false;
  }

  private spend(voucher: string): void {
    this.spentVouchers.delete(voucher);
    this.spentVouchers.set(voucher, this.now());
    if (this.spentVouchers.size > MAX_SPENT_VOUCHERS) {
      this.spentVouchers.delete(this.spentVouchers.keys().next().value as string);
    }
  }

  private usable(serial: string): KeyObject | undefined {
    const certificate = this.certificates.get(serial);
    if (!certificate) return undefined;
    const now = this.now();
    return certificate.validFrom <= now && now < certificate.validTo ? certificate.publicKey : undefined;
  }
}

const certificatesAnswerSchema = z.object({
  data: z.array(
    z.object({
      serial_no: z.string().min(1),
      effective_time: z.string().optional(),
      expire_time: z.string().optional(),
      encrypt_certificate: z.object({
        algorithm: z.string(),
        nonce: z.string(),
        associated_data: z.string().optional(),
        ciphertext: z.string(),
      }),
    }),
  ),
});

/**
 * Reads the body of `GET /v3/certificates` ("下载平台证书"): decrypts each certificate with the
 * APIv3 key, parses it as X.509, and checks that its own serial is the `serial_no` listed.
 * Throws `WechatPayVerificationError`: `BAD_BODY` (not the documented shape), `BAD_CIPHERTEXT`
 * (a certificate that does not decrypt), `NO_CERTIFICATES` (nothing usable: an entry that is not
 * a certificate, or whose serial differs).
 */
export function readCertificates(body: string, apiV3Key: string): PlatformCertificate[] {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new WechatPayVerificationError('BAD_BODY', '/v3/certificates answered something that is not JSON');
  }
  const parsed = certificatesAnswerSchema.safeParse(json);
  if (!parsed.success) throw new WechatPayVerificationError('BAD_BODY', '/v3/certificates answered without data[]');
  return parsed.data.data.map((entry) => {
    let pem: string;
    try {
      pem = decryptResource(entry.encrypt_certificate, apiV3Key);
    } catch (error) {
      if (!WechatPayVerificationError.is(error)) throw error;
      throw new WechatPayVerificationError(
        'BAD_CIPHERTEXT',
        `certificate ${entry.serial_no} does not decrypt with our APIv3 key (is APIv3 key right?): ${error.message}`,
      );
    }
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(pem);
    } catch {
      throw new WechatPayVerificationError('NO_CERTIFICATES', `certificate ${entry.serial_no} is not X.509`);
    }
    if (normalizeSerial(certificate.serialNumber) !== normalizeSerial(entry.serial_no)) {
      throw new WechatPayVerificationError(
        'NO_CERTIFICATES',
        `certificate listed as ${entry.serial_no} has serial ${certificate.serialNumber}`,
      );
    }
    return {
      serialNo: normalizeSerial(entry.serial_no),
      publicKey: certificate.publicKey,
      validFrom: Date.parse(certificate.validFrom),
      validTo: Date.parse(certificate.validTo),
      pem,
    };
  });
}
