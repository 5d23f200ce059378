import type { UnmatchedMessageRepository } from '../../domain/repositories';
import { storableKey, storableText, toJsonb } from './column-values';
import type { Queryable } from './database';

/** The `unmatched_gateway_messages` table. */
export class SqlUnmatchedMessageRepository implements UnmatchedMessageRepository {
  constructor(private readonly db: Queryable) {}

  async recordUnmatchedMessage(message: {
    transactionType: string;
    transactionId: string;
    amount: number;
    reason: string;
    receivedAt: Date;
    body: unknown;
  }): Promise<void> {
    await this.db.query(
      `INSERT INTO unmatched_gateway_messages (transaction_type, transaction_id, amount, reason, received_at, body)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
      [
        storableKey(message.transactionType),
        storableKey(message.transactionId),
        message.amount,
        storableText(message.reason),
        message.receivedAt,
        toJsonb(message.body),
      ],
    );
  }
}
