import { migrate } from '../../server/adapters/storage/migrations';
import { SqlUnitOfWork } from '../../server/adapters/storage/unit-of-work';
import type { OrderRecord } from '../../server/domain/ports';
import { STORAGES, TestDatabase } from '../support/databases';

function anOrder(): OrderRecord {
  const createdAt = new Date('2026-11-30T08:00:00Z');
  return {
    orderNo: `RS${Date.now()}${Math.random().toString(36).slice(2, 8)}`,
    owner: 'weapp:o-snapshot',
    status: 'paid',
    amount: 4500,
    currency: 'CNY',
    items: [{ sku: 'ceramic-mug', title: '陶瓷马克杯', unitPrice: 4500, quantity: 1, amount: 4500 }],
    title: '陶瓷马克杯',
    refundedAmount: 0,
    createdAt,
    expiresAt: new Date(createdAt.getTime() + 15 * 60 * 1000),
  };
}

// Only a pool can commit between two reads of one transaction: PGlite runs one at a time.
const pooled = STORAGES.filter((storage) => storage.name === 'postgres');

describe.each(pooled)('reads that must agree (the merchant order view), on $name', (storage) => {
  let database: TestDatabase;
  let store: SqlUnitOfWork;

  beforeAll(async () => {
    database = await storage.open();
    await migrate(database.db);
    store = SqlUnitOfWork.over(database.db);
  });

  afterAll(async () => {
    await database?.dispose();
  });

  const refundElsewhere = (orderNo: string) =>
    database.db.query('UPDATE orders SET refunded_amount = refunded_amount + 100 WHERE order_no = $1', [orderNo]);

  it('should not see, inside a snapshot, what another connection committed between its reads', async () => {
    const order = anOrder();
    await store.orders.insertOrder(order);
    const [first, second] = await store.snapshot(async (tx) => {
      const before = await tx.orders.findOrder(order.orderNo);
      await refundElsewhere(order.orderNo);
      return [before, await tx.orders.findOrder(order.orderNo)];
    });
    expect(first?.refundedAmount).toBe(0);
    expect(second?.refundedAmount).toBe(0);
    expect((await store.orders.findOrder(order.orderNo))?.refundedAmount).toBe(100);
  });

  it('should see it in a plain transaction, which is why the view reads on a snapshot', async () => {
    const order = anOrder();
    await store.orders.insertOrder(order);
    const second = await store.transaction(async (tx) => {
      await tx.orders.findOrder(order.orderNo);
      await refundElsewhere(order.orderNo);
      return tx.orders.findOrder(order.orderNo);
    });
    expect(second?.refundedAmount).toBe(100);
  });

  it('should refuse writes inside a snapshot', async () => {
    await expect(store.snapshot((tx) => tx.orders.insertOrder(anOrder()))).rejects.toThrow(/read-only/);
  });
});
