import { requestRaw, UpstreamBadAnswer } from '../../http-json';
import { saysProviderFailed, saysRecordMissing } from '../douyin-refusal-words';

/**
 * The server-to-server calls of Douyin's 通用交易系统 at `https://open.douyin.com` (or the
 * sandbox), each with the `access-token` header holding a client token (developer.open-douyin.com,
 * 小程序 → 服务端 → 接口调用凭证 → "获取应用授权调用凭证": `POST /oauth/client_token/`).
 *
 * Answers are `{err_no, err_msg, log_id, data}`; err_no 0 is success (the order and refund
 * pages' response examples; the exact set of non-zero codes is unconfirmed here, so a refusal
 * carries whatever Douyin said). Throws `DouyinTradeRefusal` for a readable non-zero answer, and
 * what `requestRaw` throws (`UpstreamUnreachable`, `UpstreamBusy`, `UpstreamBadAnswer`) when
 * nothing readable came back.
 */

/** A readable refusal: Douyin's `err_no` and `err_msg` (or the token endpoint's `error_code`, `description`). */
export class DouyinTradeRefusal extends Error {
  constructor(
    readonly errNo: number,
    readonly errMsg: string,
    readonly path: string,
  ) {
    super(`${path}: err_no ${errNo} ${errMsg}`.trim());
    this.name = 'DouyinTradeRefusal';
  }

  static is(error: unknown): error is DouyinTradeRefusal {
    return error instanceof DouyinTradeRefusal;
  }

  /**
   * Whether it says the order or refund asked about does not exist: its words name the record as
   * missing and no setting (see `saysRecordMissing`; Douyin's err_no for it is unconfirmed).
   */
  get saysNotFound(): boolean {
    return saysRecordMissing(this.errMsg);
  }

  /** Whether its words say Douyin itself failed, so the call may have taken effect (see `saysProviderFailed`). */
  get saysDouyinFailed(): boolean {
    return saysProviderFailed(this.errMsg);
  }

  /** Whether it says the client token is not (or no longer) valid: the next call fetches a new one. */
  get saysTokenInvalid(): boolean {
    return /access[-_ ]?token|client[-_ ]?token|token.*(invalid|expired|过期|无效)/i.test(this.errMsg);
  }

  /** Whether it only asks to wait (busy, rate-limited: 频繁, 繁忙, 稍后). */
  get saysBusy(): boolean {
    return /频繁|繁忙|稍后|busy|too many|rate/i.test(this.errMsg);
  }
}

export const CLIENT_TOKEN_PATH = '/oauth/client_token/';
export const ORDER_QUERY_PATH = '/api/trade_basic/v1/developer/order_query/';
export const REFUND_CREATE_PATH = '/api/trade_basic/v1/developer/refund_create/';
export const REFUND_QUERY_PATH = '/api/trade_basic/v1/developer/refund_query/';

/** Renew a client token this long before Douyin says it expires: a call made just before must not carry a dead one. */
const TOKEN_RENEW_MARGIN_MS = 5 * 60 * 1000;

export interface DouyinTradeClientOptions {
  /** `https://open.douyin.com`, or the sandbox's URL. */
  baseUrl: string;
  /** The mini-program's AppID (`client_key`) and AppSecret (`client_secret`). */
  appId: string;
  secret: string;
  timeoutMs: number;
  now: () => number;
}

export class DouyinTradeClient {
  private token?: { value: string; renewAt: number };
  private fetching?: Promise<string>;

  constructor(private readonly options: DouyinTradeClientOptions) {}

  /**
   * A client token, fetched once and kept until shortly before its `expires_in` (seconds; 7200 in
   * Douyin's example) runs out. Douyin keeps the previous token valid for 5 minutes after a new one
   * is made ("获取应用授权调用凭证", 注意事项), so one instance renewing never cuts another off for long.
   * Concurrent callers share one fetch.
   */
  async clientToken(): Promise<string> {
    const now = this.options.now();
    if (this.token && now < this.token.renewAt) return this.token.value;
    this.fetching ??= this.fetchToken().finally(() => (this.fetching = undefined));
    return this.fetching;
  }

  private async fetchToken(): Promise<string> {
    const answer = await this.post(CLIENT_TOKEN_PATH, {
      client_key: this.options.appId,
      client_secret: this.options.secret,
      grant_type: 'client_credential',
    });
    const data = record(answer.data);
    const errorCode = Number(data.error_code ?? 0);
    if (errorCode !== 0) {
      throw new DouyinTradeRefusal(errorCode, text(data.description ?? answer.message), CLIENT_TOKEN_PATH);
    }
    const value = data.access_token;
    const expiresIn = Number(data.expires_in);
    if (typeof value !== 'string' || value === '' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
      throw new UpstreamBadAnswer(this.url(CLIENT_TOKEN_PATH), 200, JSON.stringify(answer));
    }
    this.token = { value, renewAt: this.options.now() + Math.max(0, expiresIn * 1000 - TOKEN_RENEW_MARGIN_MS) };
    return value;
  }

  /**
   * POSTs `body` to a 通用交易系统 path with the client token and returns `data` of a successful
   * answer. A refusal naming the token drops it, so the next call fetches another.
   */
  async call(path: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const token = await this.clientToken();
    const answer = await this.post(path, body, { 'access-token': token });
    const errNo = Number(answer.err_no ?? 0);
    if (!Number.isFinite(errNo)) throw new UpstreamBadAnswer(this.url(path), 200, JSON.stringify(answer));
    if (errNo !== 0) {
      const refusal = new DouyinTradeRefusal(errNo, text(answer.err_msg ?? answer.err_tips), path);
      if (refusal.saysTokenInvalid && this.token?.value === token) this.token = undefined;
      throw refusal;
    }
    return record(answer.data);
  }

  private url(path: string): string {
    return `${this.options.baseUrl.replace(/\/+$/, '')}${path}`;
  }

  private async post(
    path: string,
    body: Record<string, unknown>,
    headers: Record<string, string> = {},
  ): Promise<Record<string, unknown>> {
    const url = this.url(path);
    const answer = await requestRaw({
      method: 'POST',
      url,
      body: JSON.stringify(body),
      headers,
      timeoutMs: this.options.timeoutMs,
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer.text);
    } catch {
      throw new UpstreamBadAnswer(url, answer.status, answer.text);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new UpstreamBadAnswer(url, answer.status, answer.text);
    }
    return parsed as Record<string, unknown>;
  }
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** A field read as text: strings and numbers as written, anything else empty. */
function text(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}
