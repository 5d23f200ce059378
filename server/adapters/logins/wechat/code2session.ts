import { AppError } from '../../../domain/errors';
import type { LoginCodes, LoginIdentity, LoginProvider } from '../../../domain/ports';
import { isUsableIdentifier } from '../../../domain/text';
import { requestJson, UpstreamBadAnswer, UpstreamUnreachable } from '../../http-json';

export interface WechatLoginOptions {
  /** `https://api.weixin.qq.com` in production; the sandbox otherwise. */
  apiBaseUrl: string;
  appId: string;
  secret: string;
  timeoutMs?: number;
}

/** WeChat's documented jscode2session errcodes, and what each means for our caller. */
const ERRCODES: Record<
  number,
  { code: 'LOGIN_CODE_INVALID' | 'LOGIN_RATE_LIMITED' | 'LOGIN_REJECTED' | 'WECHAT_UNAVAILABLE'; message: string }
> = {
  40029: { code: 'LOGIN_CODE_INVALID', message: 'The login code is invalid: call wx.login again' },
  40163: { code: 'LOGIN_CODE_INVALID', message: 'The login code was already used: call wx.login again' },
  45011: { code: 'LOGIN_RATE_LIMITED', message: 'Too many logins for this user: wait a minute and retry' },
  40226: { code: 'LOGIN_REJECTED', message: 'WeChat refused this user (high-risk account)' },
  [-1]: { code: 'WECHAT_UNAVAILABLE', message: 'WeChat is busy: retry shortly' },
};

/** `GET /sns/jscode2session`: a one-time `wx.login` code for the shopper's openid. */
export class WechatLogin implements LoginProvider {
  constructor(private readonly options: WechatLoginOptions) {}

  async exchangeCode({ code }: LoginCodes): Promise<LoginIdentity> {
    const url = new URL('/sns/jscode2session', this.options.apiBaseUrl);
    url.search = new URLSearchParams({
      appid: this.options.appId,
      secret: this.options.secret,
      js_code: code,
      grant_type: 'authorization_code',
    }).toString();

    let answer: Record<string, unknown>;
    try {
      answer = await requestJson({ method: 'GET', url: url.toString(), timeoutMs: this.options.timeoutMs ?? 5000 });
    } catch (error) {
      if (error instanceof UpstreamUnreachable)
        throw new AppError('WECHAT_UNAVAILABLE', 'WeChat could not be reached: retry shortly');
      if (error instanceof UpstreamBadAnswer) throw new AppError('WECHAT_ERROR', 'WeChat gave an unreadable answer');
      throw error;
    }

    const errcode = typeof answer.errcode === 'number' ? answer.errcode : 0;
    if (errcode !== 0) {
      const known = ERRCODES[errcode];
      if (known) throw new AppError(known.code, known.message, { errcode });
      // 40013/40125 and friends: our own appid/secret are wrong, which the shopper cannot fix.
      throw new AppError('WECHAT_ERROR', `WeChat refused the login (errcode ${errcode})`, { errcode });
    }
    if (!isUsableIdentifier(answer.openid) || !isUsableIdentifier(answer.session_key)) {
      throw new AppError('WECHAT_ERROR', 'WeChat answered without a usable openid/session_key');
    }
    if (answer.unionid !== undefined && !isUsableIdentifier(answer.unionid)) {
      throw new AppError('WECHAT_ERROR', 'WeChat answered an unusable unionid');
    }
    return {
      openid: answer.openid,
      sessionKey: answer.session_key,
      unionid: answer.unionid,
    };
  }
}
