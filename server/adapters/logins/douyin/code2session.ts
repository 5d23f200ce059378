import { AppError } from '../../../domain/errors';
import type { LoginCodes, LoginIdentity, LoginProvider } from '../../../domain/ports';
import { isUsableIdentifier } from '../../../domain/text';
import { requestJson, UpstreamBadAnswer, UpstreamUnreachable } from '../../http-json';

export interface DouyinLoginOptions {
  /** `https://developer.toutiao.com` in production; the sandbox otherwise. */
  apiBaseUrl: string;
  appId: string;
  secret: string;
  timeoutMs?: number;
}

/**
 * Douyin's err_no values that mean the shopper's code is bad or spent (call tt.login again).
 * Douyin documents 40018 (code) and 40019 (anonymous_code); anything else is Douyin's or our
 * configuration's problem, which the shopper cannot fix.
 */
const BAD_CODE_ERRNOS = new Set([40018, 40019]);
const CONFIGURATION_ERRNOS = new Set([40014, 40015, 40017]);

/** `POST /api/apps/v2/jscode2session`: a `tt.login` code for the shopper's openid. */
export class DouyinLogin implements LoginProvider {
  constructor(private readonly options: DouyinLoginOptions) {}

  async exchangeCode({ code, anonymousCode }: LoginCodes): Promise<LoginIdentity> {
    let answer: Record<string, unknown>;
    try {
      answer = await requestJson({
        method: 'POST',
        url: new URL('/api/apps/v2/jscode2session', this.options.apiBaseUrl).toString(),
        body: { appid: this.options.appId, secret: this.options.secret, code, anonymous_code: anonymousCode },
        timeoutMs: this.options.timeoutMs ?? 5000,
      });
    } catch (error) {
      if (error instanceof UpstreamUnreachable)
        throw new AppError('DOUYIN_UNAVAILABLE', 'Douyin could not be reached: retry shortly');
      if (error instanceof UpstreamBadAnswer)
        throw new AppError('DOUYIN_UNAVAILABLE', 'Douyin gave an unreadable answer: retry shortly');
      throw error;
    }

    const errNo = typeof answer.err_no === 'number' ? answer.err_no : -1;
    const tips = typeof answer.err_tips === 'string' ? answer.err_tips : '';
    if (errNo !== 0) {
      if (BAD_CODE_ERRNOS.has(errNo)) {
        throw new AppError('LOGIN_CODE_INVALID', 'The login code is invalid or used: call tt.login again', { errNo });
      }
      if (CONFIGURATION_ERRNOS.has(errNo)) {
        throw new AppError('DOUYIN_ERROR', `Douyin refused the login (err_no ${errNo} ${tips})`.trim(), { errNo });
      }
      throw new AppError('DOUYIN_UNAVAILABLE', `Douyin could not log the user in (err_no ${errNo}): retry shortly`, {
        errNo,
      });
    }
    const data = (typeof answer.data === 'object' && answer.data !== null ? answer.data : {}) as Record<
      string,
      unknown
    >;
    const present = (value: unknown) => value !== undefined && value !== null && value !== '';
    const unusable = ['openid', 'anonymous_openid', 'unionid'].some(
      (field) => present(data[field]) && !isUsableIdentifier(data[field]),
    );
    const openid = present(data.openid) ? (data.openid as string) : undefined;
    const anonymousOpenid = present(data.anonymous_openid) ? (data.anonymous_openid as string) : undefined;
    if (unusable || !isUsableIdentifier(data.session_key) || (!openid && !anonymousOpenid)) {
      throw new AppError('DOUYIN_UNAVAILABLE', 'Douyin answered without a usable openid/session_key');
    }
    return {
      // A shopper not logged in to Douyin is known by the anonymous openid only.
      openid: openid ?? `anonymous:${anonymousOpenid}`,
      sessionKey: data.session_key,
      unionid: present(data.unionid) ? (data.unionid as string) : undefined,
    };
  }
}
