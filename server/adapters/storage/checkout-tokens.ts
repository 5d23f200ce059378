import type { CheckoutTokenRecord } from '../../domain/ports';
import type { CheckoutTokenRepository } from '../../domain/repositories';
import type { Queryable } from './database';

/** The `checkout_tokens` table. */
export class SqlCheckoutTokenRepository implements CheckoutTokenRepository {
  constructor(private readonly db: Queryable) {}

  async insertCheckoutToken(token: CheckoutTokenRecord): Promise<void> {
    await this.db.query('INSERT INTO checkout_tokens (token_hash, order_no, expires_at) VALUES ($1, $2, $3)', [
      token.tokenHash,
      token.orderNo,
      token.expiresAt,
    ]);
  }

  async findCheckoutToken(
    tokenHash: string,
    options: { forUpdate?: boolean } = {},
  ): Promise<CheckoutTokenRecord | null> {
    const { rows } = await this.db.query<{
      token_hash: string;
      order_no: string;
      expires_at: Date;
      claimed_by: string | null;
      claimed_at: Date | null;
    }>(
      `SELECT token_hash, order_no, expires_at, claimed_by, claimed_at FROM checkout_tokens
       WHERE token_hash = $1${options.forUpdate ? ' FOR UPDATE' : ''}`,
      [tokenHash],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      tokenHash: row.token_hash,
      orderNo: row.order_no,
      expiresAt: row.expires_at,
      claimedBy: row.claimed_by ?? undefined,
      claimedAt: row.claimed_at ?? undefined,
    };
  }

  async markCheckoutTokenClaimed(tokenHash: string, owner: string, at: Date): Promise<void> {
    await this.db.query('UPDATE checkout_tokens SET claimed_by = $2, claimed_at = $3 WHERE token_hash = $1', [
      tokenHash,
      owner,
      at,
    ]);
  }
}
