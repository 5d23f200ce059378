import { CheckoutApi } from '../api/client';
import { isCheckoutError, isRecord, ServerErrorCode } from '../api/errors';
import { PlatformName } from '../api/types';
import { KeyValueStorage } from './storage';

export const SESSION_STORAGE_KEY = 'checkout.session.v1';

/** Refresh at most this long before the server's expiry, so a token never expires mid-checkout. */
const MAX_SAFETY_MARGIN_MS = 60_000;

interface CachedSession {
  token: string;
  /** Epoch milliseconds after which the cached token is no longer used. */
  usableUntil: number;
}

export interface SessionManagerOptions {
  api: Pick<CheckoutApi, 'createSession'>;
  platform: PlatformName;
  /** The platform's login: `wx.login` / `tt.login`. */
  loginCode: () => Promise<{ code: string; anonymousCode?: string }>;
  storage: KeyValueStorage;
  /** @default Date.now */
  now?: () => number;
}

export interface SessionManager {
  /** A cached token while it is usable, otherwise a fresh login. */
  getToken(): Promise<string>;
  /**
   * Runs an authenticated call. When the server answers SESSION_INVALID, drops the cached
   * token, logs in again and retries exactly once.
   */
  withSession<T>(operation: (token: string) => Promise<T>): Promise<T>;
  /** Forgets the cached token. */
  clear(): void;
}

export function createSessionManager({
  api,
  platform,
  loginCode,
  storage,
  now = Date.now,
}: SessionManagerOptions): SessionManager {
  let loginInFlight: Promise<string> | undefined;

  function readCachedToken(): string | undefined {
    const cached = storage.getItem(SESSION_STORAGE_KEY);
    if (!isCachedSession(cached) || cached.usableUntil <= now()) return undefined;
    return cached.token;
  }

  async function login(): Promise<string> {
    const { code, anonymousCode } = await loginCode();
    const grant = await api.createSession(
      anonymousCode === undefined ? { platform, code } : { platform, code, anonymousCode },
    );
    const lifetimeMs = grant.expiresIn * 1000;
    // A tenth of the lifetime keeps short-lived (test) tokens usable while still refreshing early.
    const safetyMarginMs = Math.min(MAX_SAFETY_MARGIN_MS, lifetimeMs / 10);
    const session: CachedSession = { token: grant.token, usableUntil: now() + lifetimeMs - safetyMarginMs };
    storage.setItem(SESSION_STORAGE_KEY, session);
    return grant.token;
  }

  /** Concurrent callers share one login: each `wx.login` code can be exchanged only once. */
  function loginOnce(): Promise<string> {
    if (!loginInFlight) {
      loginInFlight = login().finally(() => {
        loginInFlight = undefined;
      });
    }
    return loginInFlight;
  }

  async function getToken(): Promise<string> {
    return readCachedToken() ?? loginOnce();
  }

  function clear(): void {
    storage.removeItem(SESSION_STORAGE_KEY);
  }

  async function withSession<T>(operation: (token: string) => Promise<T>): Promise<T> {
    const token = await getToken();
    try {
      return await operation(token);
    } catch (error) {
      if (!isCheckoutError(error) || error.code !== ServerErrorCode.sessionInvalid) throw error;
      if (readCachedToken() === token) clear();
      return operation(await getToken());
    }
  }

  return { getToken, withSession, clear };
}

function isCachedSession(value: unknown): value is CachedSession {
  return isRecord(value) && typeof value.token === 'string' && typeof value.usableUntil === 'number';
}
