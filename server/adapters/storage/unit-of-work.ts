import type { BillRecord, OrderRecord } from '../../domain/ports';
import type { Repositories, UnitOfWork } from '../../domain/repositories';
import { insertBills, SqlBillRepository, updateBills, type BillUpdate } from './bills';
import { SqlCheckoutTokenRepository } from './checkout-tokens';
import type { Database, Queryable } from './database';
import { SqlMerchantNotificationRepository } from './merchant-notifications';
import { insertOrders, SqlOrderRepository } from './orders';
import { SqlRefundRepository } from './refunds';
import { SqlSessionRepository } from './sessions';
import { SqlUnmatchedMessageRepository } from './unmatched-messages';
import { batchWrites } from './write-batches';

/** The writes that concurrent requests share statements for, outside transactions. */
interface BatchedWrites {
  insertOrder(order: OrderRecord): Promise<boolean>;
  insertBill(bill: BillRecord): Promise<boolean>;
  updateBill(update: BillUpdate): Promise<void>;
}

/**
 * Every repository over PGlite or PostgreSQL: on the pool (`over`), with the hot writes batched,
 * or bound to one transaction's client inside `transaction`.
 */
export class SqlUnitOfWork implements UnitOfWork {
  readonly sessions: SqlSessionRepository;
  readonly orders: SqlOrderRepository;
  readonly bills: SqlBillRepository;
  readonly refunds: SqlRefundRepository;
  readonly unmatchedMessages: SqlUnmatchedMessageRepository;
  readonly checkoutTokens: SqlCheckoutTokenRepository;
  readonly merchantNotifications: SqlMerchantNotificationRepository;

  private constructor(
    db: Queryable,
    private readonly root: Database,
    batched?: BatchedWrites,
  ) {
    this.sessions = new SqlSessionRepository(db);
    this.orders = new SqlOrderRepository(db, batched);
    this.bills = new SqlBillRepository(db, batched);
    this.refunds = new SqlRefundRepository(db);
    this.unmatchedMessages = new SqlUnmatchedMessageRepository(db);
    this.checkoutTokens = new SqlCheckoutTokenRepository(db);
    this.merchantNotifications = new SqlMerchantNotificationRepository(db);
  }

  /** The repositories on the database's pool. */
  static over(db: Database): SqlUnitOfWork {
    return new SqlUnitOfWork(db, db, {
      insertOrder: batchWrites({ many: (orders) => insertOrders(db, orders) }),
      insertBill: batchWrites({ many: (bills) => insertBills(db, bills) }),
      updateBill: batchWrites({
        many: (updates) => updateBills(db, updates),
        // Two patches of one bill must apply in order, not in one statement.
        canShare: (updates) => new Set(updates.map((update) => update.billNo)).size === updates.length,
      }),
    });
  }

  transaction<T>(work: (tx: Repositories) => Promise<T>): Promise<T> {
    return this.root.transaction((tx) => work(new SqlUnitOfWork(tx, this.root)));
  }

  snapshot<T>(work: (tx: Repositories) => Promise<T>): Promise<T> {
    return this.root.transaction(async (tx) => {
      // Before the transaction's first query, as PostgreSQL requires (SET TRANSACTION).
      await tx.exec('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      return work(new SqlUnitOfWork(tx, this.root));
    });
  }
}
