import { createHash, createPrivateKey, type KeyObject } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { requestRaw, UpstreamUnreachable, type RawAnswer } from '../../http-json';
import { WechatPayRefusal, WechatPayVerificationError } from './errors';
import { readNotification, type WechatPayNotification } from './notification';
import {
  normalizeSerial,
  PlatformKeys,
  readCertificates,
  type PlatformCertificate,
  type PlatformPublicKeyConfig,
} from './platform-keys';
import {
  refundAnswerSchema,
  toRefund,
  toTransaction,
  transactionSchema,
  type WechatPayRefund,
  type WechatPayTransaction,
} from './resources';
import {
  authorizationHeader,
  newNonce,
  requestPaymentFields,
  verifySignedMessage,
  type MerchantCredentials,
  type MessageHeaders,
  type RequestPaymentFields,
} from './signing';

/**
 * A direct merchant's client of WeChat Pay APIv3 for mini-program payments (pay.weixin.qq.com,
 * "JSAPI下单", "查询订单", "关闭订单", "申请退款", "查询单笔退款", "下载平台证书", "申请交易账单",
 * "下载账单";
 * payments-beyond.md, "WeChat Pay APIv3"). Every request is signed with the merchant key
 * (`WECHATPAY2-SHA256-RSA2048`) and every answer's `Wechatpay-Signature` is verified with the
 * platform key its `Wechatpay-Serial` names before anything in it is believed.
 *
 * Errors: `UpstreamUnreachable` / `UpstreamBusy` (no answer, 502/503/504: outcome unknown,
 * retry), `UpstreamBadAnswer` (another 5xx, or an unreadable 2xx: outcome unknown),
 * `WechatPayVerificationError` (an answer that cannot be trusted, an unsigned 429 among them:
 * outcome unknown), `WechatPayRefusal` (a verified 4xx, e.g. 429 `FREQUENCY_LIMITED`: nothing
 * was done).
 */

export interface WechatPayClientOptions {
  /** @example 'https://api.mch.weixin.qq.com', or the sandbox's origin */
  baseUrl: string;
  /** 商户号 */
  mchid: string;
  /** The mini-program's AppID, which prepays and `paySign` name. */
  appid: string;
  /** The serial of the merchant's API certificate (商户API证书序列号). */
  merchantSerialNo: string;
  /** The merchant's API private key (`apiclient_key.pem`), PEM. */
  merchantPrivateKey: string;
  /** The APIv3 key: 32 characters. */
  apiV3Key: string;
  /** The 微信支付公钥 and its id, when the merchant has one. */
  platformPublicKey?: PlatformPublicKeyConfig;
  /**
   * Whether the merchant has platform certificates to download from `/v3/certificates`
   * (merchants registered since about late 2024 have only the public key). @default true
   */
  platformCertificates?: boolean;
  /** The least time between two certificate downloads, ms. @default 60000 */
  certificateDownloadIntervalMs?: number;
  /** Told of every `GET /v3/certificates` once it ended (metrics and logs). */
  onCertificateDownload?: (report: CertificateDownloadReport) => void;
  /** Deadline of each call, ms. @default 10000 */
  timeoutMs?: number;
  /** @default DEFAULT_MAX_SKEW_SECONDS (300) */
  maxSkewSeconds?: number;
  /** ms clock. @default Date.now */
  now?: () => number;
}

/**
 * How one `GET /v3/certificates` ended, in the outcomes of the upstream metrics: `ok`; `refused`
 * (WeChat answered a 4xx, e.g. SIGN_ERROR for a wrong merchant key or serial); `unavailable` (no
 * answer, timed out, busy, or 429); `failed` (an answer that cannot be used or trusted).
 */
export type CertificateDownloadOutcome = 'ok' | 'refused' | 'unavailable' | 'failed';

/** What one certificate download did, for metrics and logs; carries no key material. */
export interface CertificateDownloadReport {
  outcome: CertificateDownloadOutcome;
  /** How long it took, s. */
  seconds: number;
  /** The serials WeChat listed (normalised); empty when it failed. */
  listed: string[];
  /** Of `listed`, those not held before (a certificate WeChat issued since). */
  learned: string[];
  /** Why it failed, when it did. */
  error?: string;
}

/** "JSAPI下单" for a mini-program payer. */
export interface JsapiPrepayInput {
  /** 6–32 of `[0-9A-Za-z_-|*]`, unique per merchant. */
  outTradeNo: string;
  /** ≤ 127 characters, shown to the payer. */
  description: string;
  /** Fen, ≥ 1. */
  amount: number;
  /** The payer's openid under `appid`. */
  openid: string;
  /** An https URL WeChat will POST notifications to. */
  notifyUrl: string;
  /** When the order stops being payable, ms. */
  expiresAt?: number;
  /** Given back in queries and notifications, ≤ 128 characters. */
  attach?: string;
}

/** "申请退款" against a merchant order. */
export interface RefundInput {
  outTradeNo: string;
  /** Unique per merchant; retry a failed request with the same one. */
  outRefundNo: string;
  /** Fen: this refund, and the order total (WeChat checks it). */
  refund: number;
  total: number;
  reason?: string;
  notifyUrl?: string;
}

const prepayAnswerSchema = z.object({ prepay_id: z.string().min(1) });
const tradeBillAnswerSchema = z.object({
  download_url: z.string().min(1),
  hash_type: z.string(),
  hash_value: z.string().min(1),
});

/** The types of "申请交易账单": every order of the day, its successful payments, or its refunds. */
export type TradeBillType = 'ALL' | 'SUCCESS' | 'REFUND';

/** Where a day's trade bill can be downloaded ("申请交易账单"), and the hash the file must have. */
export interface TradeBillLink {
  downloadUrl: string;
  /** `SHA1`. */
  hashType: string;
  /** Hex. */
  hashValue: string;
}
const errorAnswerSchema = z.object({
  code: z.string(),
  message: z.string().optional(),
});

const CHINA_OFFSET_MS = 8 * 60 * 60 * 1000;

/** RFC 3339 in China time with its offset (`2026-11-01T10:00:00+08:00`), as APIv3 writes times. */
export function rfc3339China(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000 + CHINA_OFFSET_MS).toISOString().slice(0, 19)}+08:00`;
}

export class WechatPayClient {
  /** The platform keys, shared with notification verification. */
  readonly platformKeys: PlatformKeys;
  private readonly merchant: MerchantCredentials;
  private readonly now: () => number;

  /** Throws when a key is not valid PEM or the APIv3 key is not 32 bytes. */
  constructor(private readonly options: WechatPayClientOptions) {
    if (Buffer.byteLength(options.apiV3Key, 'utf8') !== 32) throw new RangeError('the APIv3 key must be 32 bytes');
    this.now = options.now ?? Date.now;
    this.merchant = {
      mchid: options.mchid,
      serialNo: options.merchantSerialNo,
      privateKey: createPrivateKey(options.merchantPrivateKey),
    };
    this.platformKeys = new PlatformKeys({
      publicKey: options.platformPublicKey,
      download: options.platformCertificates === false ? undefined : () => this.downloadCertificates(),
      minDownloadIntervalMs: options.certificateDownloadIntervalMs,
      now: this.now,
    });
  }

  /** The merchant's private key, for callers that sign something else with it. */
  get merchantPrivateKey(): KeyObject {
    return this.merchant.privateKey;
  }

  /** `POST /v3/pay/transactions/jsapi` → the `prepay_id` (valid two hours). */
  async prepayJsapi(input: JsapiPrepayInput): Promise<{ prepayId: string }> {
    const body: Record<string, unknown> = {
      appid: this.options.appid,
      mchid: this.options.mchid,
      description: input.description,
      out_trade_no: input.outTradeNo,
      notify_url: input.notifyUrl,
      amount: { total: input.amount, currency: 'CNY' },
      payer: { openid: input.openid },
    };
    if (input.expiresAt !== undefined) body.time_expire = rfc3339China(input.expiresAt);
    if (input.attach !== undefined) body.attach = input.attach;
    const answer = await this.call('POST', '/v3/pay/transactions/jsapi', body);
    return {
      prepayId: this.parse(prepayAnswerSchema, answer, 'a prepay without prepay_id').prepay_id,
    };
  }

  /** The `wx.requestPayment` fields for `prepayId`, signed now with the merchant key. */
  requestPayment(prepayId: string): RequestPaymentFields {
    return requestPaymentFields(this.options.appid, prepayId, this.merchant.privateKey, {
      timestamp: Math.floor(this.now() / 1000),
      nonce: newNonce(),
    });
  }

  /**
   * `GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=…`; null when WeChat has no such
   * order (404 `ORDER_NOT_EXIST`).
   */
  async queryTransaction(outTradeNo: string): Promise<WechatPayTransaction | null> {
    const path =
      `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}` +
      `?mchid=${encodeURIComponent(this.options.mchid)}`;
    try {
      const answer = await this.call('GET', path);
      const transaction = toTransaction(this.parse(transactionSchema, answer, 'a query without a transaction'));
      if (transaction.outTradeNo !== outTradeNo)
        throw this.badAnswer(`a query for ${outTradeNo} answered ${transaction.outTradeNo}`);
      return transaction;
    } catch (error) {
      if (WechatPayRefusal.is(error) && error.status === 404) return null;
      throw error;
    }
  }

  /**
   * `POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close {mchid}` → 204: the order can no
   * longer be paid. A paid order is refused (`WechatPayRefusal`), so query after a refusal.
   */
  async closeTransaction(outTradeNo: string): Promise<void> {
    const answer = await this.exchange(
      'POST',
      `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}/close`,
      { mchid: this.options.mchid },
    );
    // A 202 (USER_PAYING in "关闭订单"'s error list) is no close: the payer may be paying.
    if (answer.status !== 204 && answer.status !== 200) throw this.refusalOf(answer);
  }

  /**
   * `POST /v3/refund/domestic/refunds`: usually answers `PROCESSING`; the outcome comes by
   * notification or `queryRefund`. Repeating the same `outRefundNo` refunds once.
   */
  async createRefund(input: RefundInput): Promise<WechatPayRefund> {
    const body: Record<string, unknown> = {
      out_trade_no: input.outTradeNo,
      out_refund_no: input.outRefundNo,
      amount: { refund: input.refund, total: input.total, currency: 'CNY' },
    };
    if (input.reason !== undefined) body.reason = input.reason;
    if (input.notifyUrl !== undefined) body.notify_url = input.notifyUrl;
    const answer = await this.call('POST', '/v3/refund/domestic/refunds', body);
    return toRefund(this.parse(refundAnswerSchema, answer, 'a refund answer without a refund'));
  }

  /** `GET /v3/refund/domestic/refunds/{out_refund_no}`; null when WeChat has no such refund (404). */
  async queryRefund(outRefundNo: string): Promise<WechatPayRefund | null> {
    try {
      const answer = await this.call('GET', `/v3/refund/domestic/refunds/${encodeURIComponent(outRefundNo)}`);
      const refund = toRefund(this.parse(refundAnswerSchema, answer, 'a refund query without a refund'));
      if (refund.outRefundNo !== outRefundNo)
        throw this.badAnswer(`a query for ${outRefundNo} answered ${refund.outRefundNo}`);
      return refund;
    } catch (error) {
      if (WechatPayRefusal.is(error) && error.status === 404) return null;
      throw error;
    }
  }

  /**
   * `GET /v3/bill/tradebill?bill_date=YYYY-MM-DD&bill_type=…` ("申请交易账单"): where the bill of a
   * day (China time) can be downloaded. WeChat makes it after 10:00 the next day and keeps three
   * months; before that it refuses with 400 `STATEMENT_CREATING`, and a day without a payment with
   * 400 `NO_STATEMENT_EXIST` (both `WechatPayRefusal`).
   */
  async tradeBill(billDate: string, billType: TradeBillType): Promise<TradeBillLink> {
    const query = new URLSearchParams({ bill_date: billDate, bill_type: billType });
    const answer = await this.call('GET', `/v3/bill/tradebill?${query.toString()}`);
    const link = this.parse(tradeBillAnswerSchema, answer, 'a trade bill without download_url');
    return { downloadUrl: link.download_url, hashType: link.hash_type, hashValue: link.hash_value };
  }

  /**
   * "下载账单": a signed GET of `link.downloadUrl`. The file WeChat answers is not signed; its SHA1
   * must be `link.hashValue` instead (the document says to check it). Only a URL at our `baseUrl`'s
   * origin is followed, so a forged link cannot make us sign requests to another host. Returns the
   * file's text (UTF-8, not compressed: no `tar_type` is asked for). Throws
   * `WechatPayVerificationError` `BAD_BODY` for another origin, another hash type or a file whose
   * hash differs, `WechatPayRefusal` for a verified 4xx, and what every call throws.
   */
  async downloadBill(link: TradeBillLink): Promise<string> {
    const url = new URL(link.downloadUrl, this.options.baseUrl);
    if (url.origin !== new URL(this.options.baseUrl).origin) {
      throw new WechatPayVerificationError('BAD_BODY', `the download_url ${url.origin} is not WeChat Pay's`);
    }
    if (link.hashType.toUpperCase() !== 'SHA1') {
      throw new WechatPayVerificationError('BAD_BODY', `hash_type ${link.hashType} is not SHA1`);
    }
    const answer = await this.send('GET', `${url.pathname}${url.search}`);
    if (answer.status !== 200) {
      await this.verify(answer, (serial) => this.platformKeys.keyFor(serial));
      throw this.refusalOf(answer);
    }
    const hash = createHash('sha1').update(answer.text, 'utf8').digest('hex');
    if (hash !== link.hashValue.toLowerCase()) {
      throw new WechatPayVerificationError('BAD_BODY', 'the downloaded bill does not match its hash_value');
    }
    return answer.text;
  }

  /**
   * `GET /v3/certificates`: the platform certificates, decrypted with the APIv3 key. The answer
   * is verified like any other, with the certificates it brings or a key already held (its
   * serial may be the public key's). Called by `platformKeys` when a serial is unknown; each call
   * is reported to `onCertificateDownload`. A refused download throws
   * `WechatPayVerificationError` `NO_CERTIFICATES` naming WeChat's code.
   */
  async downloadCertificates(): Promise<PlatformCertificate[]> {
    const started = performance.now();
    const held = new Set(this.platformKeys.certificateSerials());
    const report = (outcome: CertificateDownloadOutcome, listed: string[], error?: unknown) =>
      this.options.onCertificateDownload?.({
        outcome,
        seconds: (performance.now() - started) / 1000,
        listed,
        learned: listed.filter((serial) => !held.has(serial)),
        ...(error instanceof Error && { error: error.message }),
      });
    let answer: RawAnswer;
    try {
      answer = await this.send('GET', '/v3/certificates');
    } catch (error) {
      report(error instanceof UpstreamUnreachable ? 'unavailable' : 'failed', [], error);
      throw error;
    }
    if (answer.status !== 200) {
      // Often nothing here can verify this answer (no certificate held yet), yet its code is what
      // the operator needs to see (SIGN_ERROR: a wrong merchant key or serial).
      const refusal = this.refusalOf(answer);
      const error = new WechatPayVerificationError(
        'NO_CERTIFICATES',
        `GET /v3/certificates was refused: ${refusal.message}`,
      );
      report(answer.status === 429 ? 'unavailable' : 'refused', [], error);
      throw error;
    }
    try {
      const certificates = readCertificates(answer.text, this.options.apiV3Key);
      await this.verify(answer, async (serial) => {
        const own = certificates.find((certificate) => certificate.serialNo === normalizeSerial(serial));
        return own ? own.publicKey : this.platformKeys.keyFor(serial, { download: false });
      });
      report(
        'ok',
        certificates.map((certificate) => certificate.serialNo),
      );
      return certificates;
    } catch (error) {
      report('failed', [], error);
      throw error;
    }
  }

  /** Verifies and reads a notification POSTed to us; see `readNotification` for what it throws. */
  readNotification(request: { headers: MessageHeaders; body: string }): Promise<WechatPayNotification> {
    return readNotification(request, {
      keyFor: (serial, options) => this.platformKeys.keyFor(serial, options),
      apiV3Key: this.options.apiV3Key,
      mchid: this.options.mchid,
      appid: this.options.appid,
      now: this.now,
      maxSkewSeconds: this.options.maxSkewSeconds,
    });
  }

  /** Sends, verifies the answer, and throws a refusal for a 4xx; the verified answer otherwise. */
  private async exchange(method: 'GET' | 'POST', path: string, body?: Record<string, unknown>): Promise<RawAnswer> {
    const answer = await this.send(method, path, body);
    await this.verify(answer, (serial) => this.platformKeys.keyFor(serial));
    if (answer.status >= 400) throw this.refusalOf(answer);
    return answer;
  }

  private async call(method: 'GET' | 'POST', path: string, body?: Record<string, unknown>): Promise<unknown> {
    const answer = await this.exchange(method, path, body);
    if (answer.status === 204 || answer.text === '') return {};
    try {
      return JSON.parse(answer.text) as unknown;
    } catch {
      throw this.badAnswer('an answer that is not JSON');
    }
  }

  private send(method: 'GET' | 'POST', path: string, body?: Record<string, unknown>): Promise<RawAnswer> {
    const url = new URL(path, this.options.baseUrl);
    const text = body === undefined ? undefined : JSON.stringify(body);
    const authorization = authorizationHeader(
      this.merchant,
      {
        method,
        pathWithQuery: `${url.pathname}${url.search}`,
        body: text ?? '',
      },
      { timestamp: Math.floor(this.now() / 1000), nonce: newNonce() },
    );
    return requestRaw({
      method,
      url: url.toString(),
      body: text,
      headers: {
        authorization,
        accept: 'application/json',
        // Naming the 微信支付公钥 asks WeChat to sign the answer with it rather than with a
        // platform certificate ("如何从平台证书切换成微信支付公钥"): without it a migrating merchant's
        // answers would never move off the certificates.
        ...(this.options.platformPublicKey && { 'wechatpay-serial': this.options.platformPublicKey.id }),
        'user-agent': 'miniprogram-checkout wechatpay-apiv3',
      },
      timeoutMs: this.options.timeoutMs ?? 10_000,
      // WeChat signs its 429 FREQUENCY_LIMITED: verified, it is a refusal ("未受理"), not a doubt.
      readStatuses: [429],
    });
  }

  private async verify(answer: RawAnswer, keyFor: (serial: string) => Promise<KeyObject>): Promise<void> {
    await verifySignedMessage(answer.headers, answer.text, keyFor, {
      now: this.now,
      maxSkewSeconds: this.options.maxSkewSeconds,
    });
  }

  private refusalOf(answer: RawAnswer): Error {
    let json: unknown;
    try {
      json = JSON.parse(answer.text);
    } catch {
      json = undefined;
    }
    const parsed = errorAnswerSchema.safeParse(json);
    return parsed.success
      ? new WechatPayRefusal(answer.status, parsed.data.code, parsed.data.message ?? '')
      : new WechatPayRefusal(answer.status, `HTTP_${answer.status}`, answer.text.slice(0, 200));
  }

  private parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw this.badAnswer(what);
    return parsed.data;
  }

  private badAnswer(what: string): WechatPayVerificationError {
    return new WechatPayVerificationError('BAD_BODY', `WeChat Pay answered ${what}`);
  }
}
