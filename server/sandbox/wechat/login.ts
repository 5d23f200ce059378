import { Router } from '@koa/router';
import type { Context } from 'koa';
import { loginCode, openid as randomOpenid, randomString, sessionKey } from '../shared/random';

/**
 * WeChat mini-program login: `GET /sns/jscode2session` with WeChat's answer shapes. Every
 * answer is HTTP 200 JSON; a success carries `openid, session_key` (and `unionid` when
 * known) and no `errcode`; an error carries `errcode, errmsg`.
 */

/** The errors a minted code can be made to produce (`POST /sandbox/wechat/codes {errcode}`). */
export const INJECTABLE_LOGIN_ERRORS = [40029, 40163, 45011, 40226, -1] as const;
export type InjectableLoginError = (typeof INJECTABLE_LOGIN_ERRORS)[number];

const ERROR_MESSAGES: Readonly<Record<number, string>> = {
  [-1]: 'system error',
  40002: 'invalid grant_type',
  40013: 'invalid appid',
  40029: 'invalid code',
  40125: 'invalid appsecret',
  40163: 'code been used',
  40226: 'high risk level user, login blocked',
  41002: 'appid missing',
  41004: 'appsecret missing',
  41008: 'missing code',
  45011: 'api minute-quota reach limit  mustslower  retry next minute',
};

/** A successful `jscode2session` answer; `unionid` only when the user has one. */
interface WechatSession {
  session_key: string;
  openid: string;
  unionid?: string;
}

/** A failed `jscode2session` answer (still HTTP 200). */
interface WechatLoginError {
  errcode: number;
  errmsg: string;
}

/** WeChat's per-user limit on code exchanges. */
const RATE_LIMIT_PER_MINUTE = 100;

export interface WechatOptions {
  appId: string;
  secret: string;
  loginCodeTtlMs: number;
  now: () => number;
  log: (line: string) => void;
}

export interface MintCodeInput {
  openid?: string;
  unionid?: string;
  errcode?: InjectableLoginError;
  /** How many exchanges answer `errcode` before the code behaves normally. Default: all of them. */
  times?: number;
}

interface LoginCode {
  code: string;
  openid: string;
  unionid?: string;
  errcode?: InjectableLoginError;
  errorsLeft?: number;
  createdAt: number;
  used: boolean;
}

export class WechatEmulator {
  private readonly codes = new Map<string, LoginCode>();
  /** Exchange times per openid, for the per-minute limit. */
  private readonly calls = new Map<string, number[]>();

  constructor(private readonly options: WechatOptions) {}

  /** Mints a login code, as `wx.login` would hand the mini-program. */
  mintCode(input: MintCodeInput = {}): { code: string; openid: string } {
    const entry: LoginCode = {
      code: loginCode(),
      openid: input.openid ?? randomOpenid(),
      unionid: input.unionid,
      errcode: input.errcode,
      errorsLeft: input.errcode === undefined ? undefined : input.times,
      createdAt: this.options.now(),
      used: false,
    };
    this.codes.set(entry.code, entry);
    return { code: entry.code, openid: entry.openid };
  }

  /** The answer of `jscode2session` for the given query. */
  exchange(query: Record<string, string | undefined>): WechatSession | WechatLoginError {
    const { appid, secret, js_code: jsCode, grant_type: grantType } = query;
    if (!appid) return error(41002);
    if (!secret) return error(41004);
    if (!jsCode) return error(41008);
    if (grantType !== 'authorization_code') return error(40002);
    if (appid !== this.options.appId) return error(40013);
    if (secret !== this.options.secret) return error(40125);

    const entry = this.codes.get(jsCode);
    if (!entry) return error(40029);
    const now = this.options.now();
    if (now - entry.createdAt > this.options.loginCodeTtlMs) {
      this.codes.delete(jsCode);
      return error(40029);
    }
    if (entry.errcode !== undefined && (entry.errorsLeft === undefined || entry.errorsLeft > 0)) {
      if (entry.errorsLeft !== undefined) entry.errorsLeft -= 1;
      return error(entry.errcode);
    }
    if (entry.used) return error(40163);
    if (!this.withinRateLimit(entry.openid, now)) return error(45011);
    entry.used = true;
    const answer: WechatSession = { session_key: sessionKey(), openid: entry.openid };
    if (entry.unionid !== undefined) answer.unionid = entry.unionid;
    return answer;
  }

  private withinRateLimit(openid: string, now: number): boolean {
    const recent = (this.calls.get(openid) ?? []).filter((at) => now - at < 60_000);
    if (recent.length >= RATE_LIMIT_PER_MINUTE) {
      this.calls.set(openid, recent);
      return false;
    }
    recent.push(now);
    this.calls.set(openid, recent);
    return true;
  }

  routes(): Router {
    const router = new Router();
    router.get('/sns/jscode2session', (ctx: Context) => {
      const query: Record<string, string | undefined> = {};
      for (const [name, value] of Object.entries(ctx.query)) {
        query[name] = Array.isArray(value) ? value[0] : value;
      }
      const answer = this.exchange(query);
      this.options.log(`wechat jscode2session -> ${'errcode' in answer ? answer.errcode : `openid ${answer.openid}`}`);
      ctx.status = 200;
      ctx.body = answer;
    });
    return router;
  }
}

function error(errcode: number): WechatLoginError {
  // Real answers end with a request id, e.g. "invalid code, rid: 6523a7c3-4e1f1a9b-2c3d4e5f".
  const rid = [8, 8, 8].map((length) => randomString(length, '0123456789abcdef')).join('-');
  return { errcode, errmsg: `${ERROR_MESSAGES[errcode] ?? 'error'}, rid: ${rid}` };
}
