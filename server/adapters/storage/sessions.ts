import type { Platform, SessionRecord } from '../../domain/ports';
import type { SessionRepository } from '../../domain/repositories';
import type { Queryable } from './database';

/** The `sessions` table. */
export class SqlSessionRepository implements SessionRepository {
  constructor(private readonly db: Queryable) {}

  async insertSession(session: SessionRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO sessions (token_hash, platform, openid, session_key, unionid, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        session.tokenHash,
        session.platform,
        session.openid,
        session.sessionKey,
        session.unionid ?? null,
        session.createdAt,
        session.expiresAt,
      ],
    );
  }

  async findSession(tokenHash: string, now: Date): Promise<SessionRecord | null> {
    const { rows } = await this.db.query<{
      token_hash: string;
      platform: Platform;
      openid: string;
      session_key: string;
      unionid: string | null;
      created_at: Date;
      expires_at: Date;
    }>(
      `SELECT token_hash, platform, openid, session_key, unionid, created_at, expires_at
       FROM sessions WHERE token_hash = $1 AND expires_at > $2`,
      [tokenHash, now],
      { prepareAs: 'find_session' },
    );
    const row = rows[0];
    if (!row) return null;
    return {
      tokenHash: row.token_hash,
      platform: row.platform,
      openid: row.openid,
      sessionKey: row.session_key,
      unionid: row.unionid ?? undefined,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
    };
  }

  async deleteSession(tokenHash: string): Promise<boolean> {
    const { rowCount } = await this.db.query('DELETE FROM sessions WHERE token_hash = $1', [tokenHash]);
    return rowCount > 0;
  }

  async deleteExpiredSessions(before: Date): Promise<number> {
    const { rowCount } = await this.db.query('DELETE FROM sessions WHERE expires_at < $1', [before]);
    return rowCount;
  }
}
