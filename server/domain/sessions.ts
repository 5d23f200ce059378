import { AppError } from './errors';
import { hashToken, newSessionToken } from './identifiers';
import { RecentCache } from './recent-cache';
import type { CheckoutRepository, Clock, LoginCodes, LoginProvider, Platform } from './ports';

export const SESSION_TTL_SECONDS = 2 * 60 * 60;

/** Who is calling: the owner key ties orders to one shopper on one platform. */
export interface Shopper {
  owner: string;
  platform: Platform;
  openid: string;
}

const SESSION_CACHE_CAPACITY = 100_000;

export class SessionService {
  /** Sessions never change once created, so a verified one can be answered from memory until it expires. */
  private readonly verified = new RecentCache<Shopper>(SESSION_CACHE_CAPACITY);

  constructor(
    private readonly repository: CheckoutRepository,
    private readonly logins: Record<Platform, LoginProvider>,
    private readonly clock: Clock,
  ) {}

  async open(platform: Platform, codes: LoginCodes): Promise<{ token: string; expiresIn: number }> {
    const identity = await this.logins[platform].exchangeCode(codes);
    const token = newSessionToken();
    const now = this.clock();
    await this.repository.insertSession({
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
    return this.repository.deleteExpiredSessions(new Date(this.clock().getTime() - SESSION_TTL_SECONDS * 1000));
  }

  async authenticate(token: string | undefined): Promise<Shopper> {
    if (!token) throw new AppError('SESSION_INVALID', 'Missing bearer token: call POST /api/session first');
    const now = this.clock();
    // Keyed by the token itself: a poll answered from memory costs no hashing.
    const known = this.verified.get(token, now.getTime());
    if (known) return known;
    const session = await this.repository.findSession(hashToken(token), now);
    if (!session) throw new AppError('SESSION_INVALID', 'Session expired or unknown: log in again');
    const shopper: Shopper = { owner: `${session.platform}:${session.openid}`, platform: session.platform, openid: session.openid };
    this.verified.set(token, shopper, session.expiresAt.getTime());
    return shopper;
  }
}
