import type { Database } from '../../server/adapters/storage/database';
import { migrate } from '../../server/adapters/storage/migrations';
import { SqlUnitOfWork } from '../../server/adapters/storage/unit-of-work';
import type { BillRecord, OrderRecord } from '../../server/domain/ports';
import { STORAGES, TestDatabase } from '../support/databases';

let sequence = 0;

function anOrder(overrides: Partial<OrderRecord> = {}): OrderRecord {
  sequence += 1;
  const createdAt = new Date('2026-11-22T08:00:00Z');
  return {
    orderNo: `WB${String(sequence).padStart(12, '0')}${Math.random().toString(36).slice(2, 8)}`,
    owner: 'weapp:o-batch',
    status: 'pending',
    amount: 4500,
    currency: 'CNY',
    items: [{ sku: 'ceramic-mug', title: '陶瓷马克杯', unitPrice: 4500, quantity: 1, amount: 4500 }],
    title: '陶瓷马克杯',
    refundedAmount: 0,
    createdAt,
    expiresAt: new Date(createdAt.getTime() + 15 * 60 * 1000),
    ...overrides,
  };
}

function aBill(order: OrderRecord, overrides: Partial<BillRecord> = {}): BillRecord {
  sequence += 1;
  return {
    billNo: `B${String(sequence).padStart(20, '0')}`,
    orderNo: order.orderNo,
    channel: 'WX_MINI',
    provider: 'gateway',
    amount: order.amount,
    status: 'creating',
    payer: 'o-batch',
    createdAt: order.createdAt,
    updatedAt: order.createdAt,
    ...overrides,
  };
}

describe.each(STORAGES)('checkout writes from concurrent requests, on $name', (storage) => {
  let database: TestDatabase;
  let statements: string[];
  let repository: SqlUnitOfWork;

  beforeAll(async () => {
    database = await storage.open();
    await migrate(database.db);
    const counting: Database = {
      ...database.db,
      query: (sql, params, options) => {
        statements.push(sql.trim().split(/\s+/).slice(0, 3).join(' '));
        return database.db.query(sql, params, options);
      },
    };
    repository = SqlUnitOfWork.over(counting);
  });

  beforeEach(() => {
    statements = [];
  });

  afterAll(async () => {
    await database?.dispose();
  });

  const count = (prefix: string) => statements.filter((statement) => statement.startsWith(prefix)).length;

  it('should write orders that arrive together in one statement, every one of them', async () => {
    const orders = Array.from({ length: 40 }, () => anOrder());
    expect(await Promise.all(orders.map((order) => repository.orders.insertOrder(order)))).toEqual(
      orders.map(() => true),
    );
    expect(count('INSERT INTO orders')).toBe(1);
    for (const order of orders) {
      const stored = await repository.orders.findOrder(order.orderNo);
      expect(stored).toMatchObject({ orderNo: order.orderNo, amount: 4500, items: order.items, status: 'pending' });
      expect(stored?.expiresAt.getTime()).toBe(order.expiresAt.getTime());
    }
  });

  it('should fail only the row the database refuses, and write the others', async () => {
    const existing = anOrder();
    expect(await repository.orders.insertOrder(existing)).toBe(true);
    const fresh = [anOrder(), anOrder(), anOrder()];
    const outcomes = await Promise.allSettled([
      repository.orders.insertOrder(fresh[0]),
      repository.orders.insertOrder(anOrder({ orderNo: existing.orderNo })),
      repository.orders.insertOrder(fresh[1]),
      repository.orders.insertOrder(fresh[2]),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    for (const order of fresh) expect(await repository.orders.findOrder(order.orderNo)).not.toBeNull();
    expect((await repository.orders.findOrder(existing.orderNo))?.createdAt.getTime()).toBe(
      existing.createdAt.getTime(),
    );
  });

  it('should let only one of two orders with the same idempotency key in, also within one statement', async () => {
    const [first, second] = [anOrder({ idempotencyKey: 'same-key' }), anOrder({ idempotencyKey: 'same-key' })];
    const inserted = await Promise.all([repository.orders.insertOrder(first), repository.orders.insertOrder(second)]);
    expect(inserted.filter(Boolean)).toHaveLength(1);
    expect(count('INSERT INTO orders')).toBe(1);
    expect((await repository.orders.findOrderByIdempotencyKey('weapp:o-batch', 'same-key'))?.orderNo).toBe(
      inserted[0] ? first.orderNo : second.orderNo,
    );
  });

  it('should open one active bill per order and channel when two attempts arrive together', async () => {
    const order = anOrder();
    await repository.orders.insertOrder(order);
    const other = anOrder();
    await repository.orders.insertOrder(other);
    const inserted = await Promise.all([
      repository.bills.insertBill(aBill(order)),
      repository.bills.insertBill(aBill(order)),
      repository.bills.insertBill(aBill(other)),
    ]);
    expect(inserted[2]).toBe(true);
    expect(inserted.slice(0, 2).filter(Boolean)).toHaveLength(1);
    expect(count('INSERT INTO bills')).toBe(1);
    expect(await repository.bills.listBills(order.orderNo)).toHaveLength(1);
  });

  it('should apply two patches of one bill in the order they were made', async () => {
    const order = anOrder();
    await repository.orders.insertOrder(order);
    const bill = aBill(order);
    await repository.bills.insertBill(bill);
    const at = new Date('2026-11-22T08:01:00Z');
    await Promise.all([
      repository.bills.updateBill(bill.billNo, { status: 'open', providerBillId: 'gw-1' }, at),
      repository.bills.updateBill(bill.billNo, { status: 'abandoned' }, new Date(at.getTime() + 1000)),
    ]);
    expect(await repository.bills.listBills(order.orderNo)).toEqual([
      expect.objectContaining({ billNo: bill.billNo, status: 'abandoned', providerBillId: 'gw-1' }),
    ]);
  });

  it('should patch bills that change together in one statement, keeping what a patch leaves out', async () => {
    const orders = [anOrder(), anOrder(), anOrder()];
    await Promise.all(orders.map((order) => repository.orders.insertOrder(order)));
    const bills = orders.map((order) => aBill(order));
    await Promise.all(bills.map((bill) => repository.bills.insertBill(bill)));
    statements = [];
    const at = new Date('2026-11-22T08:02:00Z');
    await Promise.all([
      repository.bills.updateBill(bills[0].billNo, { status: 'open', providerBillId: 'gw-a' }, at),
      repository.bills.updateBill(bills[1].billNo, { status: 'rejected', error: 'refused' }, at),
      repository.bills.updateBill(bills[2].billNo, { providerBillId: 'gw-c' }, at),
    ]);
    expect(count('UPDATE bills SET')).toBe(1);
    const [a, b, c] = await Promise.all(orders.map((order) => repository.bills.listBills(order.orderNo)));
    expect(a[0]).toMatchObject({ status: 'open', providerBillId: 'gw-a' });
    expect(b[0]).toMatchObject({ status: 'rejected', error: 'refused' });
    expect(b[0].providerBillId).toBeUndefined();
    expect(c[0]).toMatchObject({ status: 'creating', providerBillId: 'gw-c' });
    expect(c[0].updatedAt.getTime()).toBe(at.getTime());
  });

  it('should write alone what comes alone, without waiting for company', async () => {
    const started = Date.now();
    expect(await repository.orders.insertOrder(anOrder())).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(count('INSERT INTO orders')).toBe(1);
  });
});
