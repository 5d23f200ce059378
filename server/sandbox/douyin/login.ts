import { randomUUID } from 'node:crypto';
import { Router } from '@koa/router';
import type { Context } from 'koa';
import { BodyTooLargeError, parseJsonObject, readBody } from '../shared/http';
import { loginCode, randomString, sessionKey } from '../shared/random';

/**
 * Douyin (ByteDance) mini-program login: `POST /api/apps/v2/jscode2session` with a JSON
 * body `{appid, secret, code, anonymous_code}`, as served by developer.toutiao.com.
 * `tt.login` hands the mini-program a `code` (a logged-in user) and an `anonymousCode`
 * (always); at least one must be sent. Every answer is HTTP 200 JSON:
 *
 *   {err_no: 0, err_tips: "success", log_id, data: {session_key, openid, anonymous_openid, unionid}}
 *
 * A field that does not apply is the empty string (no `code` → no `session_key`, `openid`,
 * `unionid`; no `anonymous_code` → no `anonymous_openid`), as in Douyin's documented examples.
 * An error has a non-zero `err_no`, an `err_tips`, and — as in Douyin's documented error
 * example — `data` with every field empty (not `null`): a client must look at `err_no`.
 *
 * Both codes are single-use and expire (the sandbox's `loginCodeTtlMs`, 5 minutes by default).
 */

/**
 * err_no values of `jscode2session`, from Douyin's code2Session page (2021 revision, quoted in
 * public SDKs) and its older v1 page:
 *   -1 系统错误, 40014 未传必要参数, 40015 appid 错误, 40017 secret 错误, 40018 code 错误,
 *   40019 acode (anonymous_code) 错误; "其它: 参数为空".
 * The numbers are confirmed by that table. The err_tips texts "bad params" (40014), "bad appid"
 * (40015), "bad secret" (40017) and "bad code" (40018) are confirmed by answers quoted in
 * Douyin's documentation and developer forum; "system error" (-1) and "bad anonymous_code"
 * (40019) are UNCONFIRMED guesses in the same style. Which condition produces which number
 * for a *reused* or *expired* code (here: 40018 / 40019, the same as an unknown code) is
 * likewise UNCONFIRMED: the documentation says codes are single-use, not what reuse answers.
 * 40020 and above are not emulated: no public source says what they mean for this API.
 */
export const DOUYIN_LOGIN_ERRORS: Readonly<Record<number, string>> = {
  [-1]: 'system error',
  40014: 'bad params',
  40015: 'bad appid',
  40017: 'bad secret',
  40018: 'bad code',
  40019: 'bad anonymous_code',
};

/** The err_no values a minted code pair can be made to produce (`POST /sandbox/douyin/codes {errNo}`). */
export const INJECTABLE_DOUYIN_LOGIN_ERRORS = [-1, 40014, 40015, 40017, 40018, 40019] as const;
export type InjectableDouyinLoginError = (typeof INJECTABLE_DOUYIN_LOGIN_ERRORS)[number];

export const DouyinErrNo = {
  SYSTEM_ERROR: -1,
  BAD_PARAMS: 40014,
  BAD_APPID: 40015,
  BAD_SECRET: 40017,
  BAD_CODE: 40018,
  BAD_ANONYMOUS_CODE: 40019,
} as const;

export interface DouyinOptions {
  appId: string;
  secret: string;
  loginCodeTtlMs: number;
  now: () => number;
  log: (line: string) => void;
}

export interface MintDouyinCodeInput {
  openid?: string;
  unionid?: string;
  errNo?: InjectableDouyinLoginError;
  /** How many exchanges answer `errNo` before the pair behaves normally. Default: all of them. */
  times?: number;
}

export interface MintedDouyinCode {
  code: string;
  anonymousCode: string;
  openid: string;
  anonymousOpenid: string;
}

/** One `tt.login` result: a code and an anonymous code sharing their fate. */
interface LoginPair {
  openid: string;
  anonymousOpenid: string;
  unionid: string;
  errNo?: InjectableDouyinLoginError;
  errorsLeft?: number;
  createdAt: number;
}

interface CodeEntry {
  pair: LoginPair;
  kind: 'code' | 'anonymous';
  used: boolean;
}

export type DouyinAnswer = {
  err_no: number;
  err_tips: string;
  log_id: string;
  data: { session_key: string; openid: string; anonymous_openid: string; unionid: string };
};

/**
 * A Douyin openid. Real ones are opaque strings such as `_000QadFMhmWRKwyhyKr3Yj4f7Yd5zwc1t4h`
 * (the exact alphabet and length are UNCONFIRMED): the sandbox uses `_000` + 32 alphanumerics.
 */
function douyinOpenid(): string {
  return `_000${randomString(32)}`;
}

/** Douyin's `log_id`: a 14-digit China-time stamp followed by hex, e.g. `2024102117013250E8ABC6F2D070B…`. */
function logId(now: number): string {
  const stamp = new Date(now + 8 * 3600 * 1000).toISOString().replace(/\D/g, '').slice(0, 14);
  return `${stamp}${randomString(18, '0123456789ABCDEF')}`;
}

export class DouyinEmulator {
  private readonly codes = new Map<string, CodeEntry>();

  constructor(private readonly options: DouyinOptions) {}

  /** Mints a `tt.login` result: a code and an anonymous code for one user. */
  mintCode(input: MintDouyinCodeInput = {}): MintedDouyinCode {
    const pair: LoginPair = {
      openid: input.openid ?? douyinOpenid(),
      anonymousOpenid: douyinOpenid(),
      unionid: input.unionid ?? randomUUID(),
      errNo: input.errNo,
      errorsLeft: input.errNo === undefined ? undefined : input.times,
      createdAt: this.options.now(),
    };
    const code = loginCode();
    const anonymousCode = loginCode();
    this.codes.set(code, { pair, kind: 'code', used: false });
    this.codes.set(anonymousCode, { pair, kind: 'anonymous', used: false });
    return { code, anonymousCode, openid: pair.openid, anonymousOpenid: pair.anonymousOpenid };
  }

  /** The answer of `jscode2session` for a request body (already parsed, or undefined when it was not a JSON object). */
  exchange(body: Record<string, unknown> | undefined): DouyinAnswer {
    const now = this.options.now();
    if (!body) return this.error(DouyinErrNo.BAD_PARAMS, now);
    const text = (name: string): string | undefined | null => {
      const value = body[name];
      if (value === undefined || value === null || value === '') return undefined;
      return typeof value === 'string' ? value : null; // null: present but not a string
    };
    const appid = text('appid');
    const secret = text('secret');
    const code = text('code');
    const anonymousCode = text('anonymous_code');
    if (!appid || !secret || code === null || anonymousCode === null || (!code && !anonymousCode)) {
      return this.error(DouyinErrNo.BAD_PARAMS, now);
    }
    if (appid !== this.options.appId) return this.error(DouyinErrNo.BAD_APPID, now);
    if (secret !== this.options.secret) return this.error(DouyinErrNo.BAD_SECRET, now);

    // Check both codes before spending either: a refused exchange spends nothing.
    const lookups: Array<{ given: string; entry: CodeEntry }> = [];
    for (const [given, kind, errNo] of [
      [code, 'code', DouyinErrNo.BAD_CODE],
      [anonymousCode, 'anonymous', DouyinErrNo.BAD_ANONYMOUS_CODE],
    ] as const) {
      if (!given) continue;
      const entry = this.codes.get(given);
      if (!entry || entry.kind !== kind) return this.error(errNo, now);
      if (now - entry.pair.createdAt > this.options.loginCodeTtlMs) {
        this.codes.delete(given);
        return this.error(errNo, now);
      }
      lookups.push({ given, entry });
    }
    for (const { entry } of lookups) {
      const { pair } = entry;
      if (pair.errNo !== undefined && (pair.errorsLeft === undefined || pair.errorsLeft > 0)) {
        if (pair.errorsLeft !== undefined) pair.errorsLeft -= 1;
        return this.error(pair.errNo, now);
      }
    }
    for (const { entry } of lookups) {
      if (entry.used) {
        return this.error(entry.kind === 'code' ? DouyinErrNo.BAD_CODE : DouyinErrNo.BAD_ANONYMOUS_CODE, now);
      }
    }

    const data = { session_key: '', openid: '', anonymous_openid: '', unionid: '' };
    for (const { entry } of lookups) {
      entry.used = true;
      if (entry.kind === 'code') {
        data.session_key = sessionKey();
        data.openid = entry.pair.openid;
        data.unionid = entry.pair.unionid;
      } else {
        data.anonymous_openid = entry.pair.anonymousOpenid;
      }
    }
    return { err_no: 0, err_tips: 'success', log_id: logId(now), data };
  }

  private error(errNo: number, now: number): DouyinAnswer {
    return {
      err_no: errNo,
      err_tips: DOUYIN_LOGIN_ERRORS[errNo] ?? 'error',
      log_id: logId(now),
      data: { session_key: '', openid: '', anonymous_openid: '', unionid: '' },
    };
  }

  routes(): Router {
    const router = new Router();
    router.post('/api/apps/v2/jscode2session', async (ctx: Context) => {
      let body: Record<string, unknown> | undefined;
      try {
        const parsed = parseJsonObject(await readBody(ctx), 'request body');
        body = parsed.ok ? parsed.value : undefined;
      } catch (error) {
        if (!(error instanceof BodyTooLargeError)) throw error;
      }
      const answer = this.exchange(body);
      this.options.log(
        `douyin jscode2session -> ${answer.err_no === 0 ? `openid ${answer.data.openid || '(anonymous)'}` : answer.err_no}`,
      );
      ctx.status = 200;
      ctx.body = answer;
    });
    return router;
  }
}
