import type { PaymentProviderId } from '../../domain/payment-provider';
import type { UnmatchedMessageRepository } from '../../domain/repositories';
import { storableKey, storableText, toJsonb } from './column-values';
import type { Queryable } from './database';

/** The `unmatched_gateway_messages` table (every provider's, despite its name). */
export class SqlUnmatchedMessageRepository implements UnmatchedMessageRepository {
  constructor(private readonly db: Queryable) {}

  async recordUnmatchedMessage(message: {
    provider: PaymentProviderId;
    transactionType: string;
    transactionId: string;
    amount: number;
    reason: string;
    receivedAt: Date;
    body: unknown;
  }): Promise<void> {
    await this.db.query(
      `INSERT INTO unmatched_gateway_messages (transaction_type, transaction_id, amount, reason, received_at, body, provider)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
      [
        storableKey(message.transactionType),
        storableKey(message.transactionId),
        message.amount,
        storableText(message.reason),
        message.receivedAt,
        toJsonb(message.body),
        message.provider,
      ],
    );
  }
}
