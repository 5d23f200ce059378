import { AppError } from './errors';
import { hashToken, newSessionToken } from './identifiers';
import { RecentCache } from './recent-cache';
import type { Clock, LoginCodes, LoginProvider, Platform } from './ports';
import type { Repositories } from './repositories';

export const SESSION_TTL_SECONDS = 2 * 60 * 60;

/** Who is calling: the owner key ties orders to one shopper on one platform. */
export interface Shopper {
  owner: string;
  platform: Platform;
  openid: string;
}

const SESSION_CACHE_CAPACITY = 100_000;

interface VerifiedSession {
  shopper: Shopper;
  /** How the change feed names the session (the database never sees the token itself). */
  tokenHash: string;
}

export class SessionService {
  /**
   * Verified sessions, answered from memory until they expire. Only a removal or a change of
   * expiry alters one; both reach every instance through the change feed (`forgetSession`).
   * Keyed by the token itself: a poll answered from memory costs no hashing.
   */
  private readonly verified = new RecentCache<VerifiedSession>(SESSION_CACHE_CAPACITY, (_token, session) => {
    this.tokensByHash.delete(session.tokenHash);
  });
  /** The feed names sessions by hash: which remembered token each hash is. */
  private readonly tokensByHash = new Map<string, string>();
  /** Counts evictions, so a read that raced with a removal does not remember the removed session. */
  private evictions = 0;

  constructor(
    private readonly store: Pick<Repositories, 'sessions'>,
    private readonly logins: Record<Platform, LoginProvider>,
    private readonly clock: Clock,
  ) {}

  async open(platform: Platform, codes: LoginCodes): Promise<{ token: string; expiresIn: number }> {
    const identity = await this.logins[platform].exchangeCode(codes);
    const token = newSessionToken();
    const now = this.clock();
    await this.store.sessions.insertSession({
      tokenHash: hashToken(token),
      platform,
      openid: identity.openid,
      sessionKey: identity.sessionKey,
      unionid: identity.unionid,
      createdAt: now,
      expiresAt: new Date(now.getTime() + SESSION_TTL_SECONDS * 1000),
    });
    return { token, expiresIn: SESSION_TTL_SECONDS };
  }

  /** Forgets sessions that expired a while ago; any instance may run it, as often as it likes. */
  pruneExpired(): Promise<number> {
    return this.store.sessions.deleteExpiredSessions(new Date(this.clock().getTime() - SESSION_TTL_SECONDS * 1000));
  }

  /**
   * The shopper a bearer token belongs to. Throws AppError SESSION_INVALID when the token is
   * missing, unknown, expired or revoked.
   */
  async authenticate(token: string | undefined): Promise<Shopper> {
    if (!token) throw new AppError('SESSION_INVALID', 'Missing bearer token: call POST /api/session first');
    const now = this.clock();
    const known = this.verified.get(token, now.getTime());
    if (known) return known.shopper;
    const tokenHash = hashToken(token);
    const evictionsBefore = this.evictions;
    const session = await this.store.sessions.findSession(tokenHash, now);
    if (!session) throw new AppError('SESSION_INVALID', 'Session expired or unknown: log in again');
    const shopper: Shopper = {
      owner: `${session.platform}:${session.openid}`,
      platform: session.platform,
      openid: session.openid,
    };
    // A removal heard while reading may be this session's: answered this once, not remembered.
    if (this.evictions === evictionsBefore) {
      this.verified.set(token, { shopper, tokenHash }, session.expiresAt.getTime());
      this.tokensByHash.set(tokenHash, token);
    }
    return shopper;
  }

  /**
   * Logs a session out: deletes it, so that every instance refuses it from now on (this one at
   * once, the others as soon as the change feed tells them). Idempotent: a token that is unknown,
   * expired or already revoked is simply no longer valid. The shopper's orders are untouched.
   * Throws AppError SESSION_INVALID only when there is no token at all.
   */
  async revoke(token: string | undefined): Promise<void> {
    if (!token) throw new AppError('SESSION_INVALID', 'Missing bearer token: nothing to log out');
    await this.store.sessions.deleteSession(hashToken(token));
    this.evictions += 1;
    this.verified.delete(token);
  }

  /** A session was removed or changed (here or on another instance): stop answering it from memory. */
  forgetSession(tokenHash: string): void {
    this.evictions += 1;
    const token = this.tokensByHash.get(tokenHash);
    if (token !== undefined) this.verified.delete(token);
  }

  /** Every session may have changed (the table was emptied, or the change feed was interrupted). */
  forgetAllSessions(): void {
    this.evictions += 1;
    this.verified.clear();
  }
}
