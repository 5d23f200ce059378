/**
 * The errors of the WeChat Pay APIv3 adapter. Recognised by a tag as well as `instanceof`
 * (jest runs test files in separate realms), like `AppError`.
 */

const VERIFICATION_TAG = Symbol.for('miniprogram-checkout.WechatPayVerificationError');
const REFUSAL_TAG = Symbol.for('miniprogram-checkout.WechatPayRefusal');

/**
 * Why a signed message (an API answer or a notification) was not accepted:
 * - `MISSING_HEADERS`: a `Wechatpay-Timestamp`, `-Nonce`, `-Signature` or `-Serial` header is absent;
 * - `REPEATED_HEADERS`: one of them came more than once (which one signs is anyone's guess: a
 *   genuine signature beside a forged one must not pass);
 * - `STALE_TIMESTAMP`: `Wechatpay-Timestamp` is not a number of seconds within the allowed skew;
 * - `UNKNOWN_SERIAL`: no platform certificate or 微信支付公钥 has the `Wechatpay-Serial` (after a
 *   re-download of `/v3/certificates` when one was allowed);
 * - `BAD_SIGNATURE`: the RSA-SHA256 signature does not verify with the key the serial names;
 * - `BAD_CIPHERTEXT`: AEAD_AES_256_GCM decryption failed (tampered ciphertext, wrong tag, wrong
 *   APIv3 key, wrong nonce or associated data);
 * - `BAD_BODY`: the body or the decrypted resource is not the documented JSON;
 * - `NO_CERTIFICATES`: `/v3/certificates` gave nothing usable.
 */
export type WechatPayVerificationReason =
  | 'MISSING_HEADERS'
  | 'REPEATED_HEADERS'
  | 'STALE_TIMESTAMP'
  | 'UNKNOWN_SERIAL'
  | 'BAD_SIGNATURE'
  | 'BAD_CIPHERTEXT'
  | 'BAD_BODY'
  | 'NO_CERTIFICATES';

/**
 * A message that claims to come from WeChat Pay and cannot be trusted. For a notification, the
 * route answers `httpStatus` with `{"code":"FAIL","message"}` (see `notificationRefusal`); for
 * an API answer, the outcome of the call is unknown (as with `UpstreamBadAnswer`): WeChat may
 * have done what was asked.
 */
export class WechatPayVerificationError extends Error {
  readonly [VERIFICATION_TAG] = true;

  constructor(
    readonly reason: WechatPayVerificationReason,
    message: string,
  ) {
    super(message);
    this.name = 'WechatPayVerificationError';
  }

  /**
   * The status a notification refused for this reason is answered with: 401 for a signature
   * that cannot be checked or fails, 400 for a body that is not what WeChat sends, 500 when
   * decryption fails (our APIv3 key may be wrong: WeChat retries and the merchant can fix it).
   */
  get httpStatus(): 400 | 401 | 500 {
    switch (this.reason) {
      case 'BAD_BODY':
        return 400;
      case 'BAD_CIPHERTEXT':
      case 'NO_CERTIFICATES':
        return 500;
      default:
        return 401;
    }
  }

  static is(error: unknown): error is WechatPayVerificationError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[VERIFICATION_TAG] === true;
  }
}

/**
 * WeChat Pay answered a call with a verified 4xx and its error body `{code, message}`: it refused
 * the request and did nothing (e.g. 400 `PARAM_ERROR`, 401 `SIGN_ERROR`, 403 `NOT_ENOUGH`,
 * 404 `ORDER_NOT_EXIST` / `RESOURCE_NOT_EXISTS`; "错误码" on pay.weixin.qq.com, APIv3 接口规则).
 */
export class WechatPayRefusal extends Error {
  readonly [REFUSAL_TAG] = true;

  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
  ) {
    super(`WeChat Pay refused (HTTP ${status} ${code}): ${detail}`);
    this.name = 'WechatPayRefusal';
  }

  static is(error: unknown): error is WechatPayRefusal {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[REFUSAL_TAG] === true;
  }
}
