import type { Database } from '../../server/adapters/storage/database';
import { CheckoutHarness, eventually, startHarness } from '../support/checkout-harness';
import { describePostgres, STORAGES, TestDatabase } from '../support/databases';

/** Settings that make the change feed the only way a remembered status can be forgotten. */
const REMEMBER_LONG = { settings: { statusCacheMs: 60 * 60 * 1000 } };

async function pendingOrder(h: CheckoutHarness) {
  const { token } = await h.login();
  const order = await h.createOrder(token);
  await h.pay(token, order.orderNo).expect(200);
  const [bill] = await h.billsOf(order.orderNo);
  return { token, order, bill };
}

describe.each(STORAGES)('status answered from memory on $name', (storage) => {
  let database: TestDatabase;
  let h: CheckoutHarness;
  let queries = 0;

  beforeAll(async () => {
    database = await storage.open();
    const counting: Database = {
      ...database.db,
      query: (sql, params) => {
        queries += 1;
        return database.db.query(sql, params);
      },
    };
    h = await startHarness(counting, REMEMBER_LONG);
  });

  afterAll(async () => {
    await h?.close();
    await database?.dispose();
  });

  it('should answer repeated polls without the database, and see a payment at once', async () => {
    const { token, order, bill } = await pendingOrder(h);
    expect((await h.status(token, order.orderNo)).status).toBe('pending');
    const before = queries;
    for (let i = 0; i < 20; i += 1) expect((await h.status(token, order.orderNo)).status).toBe('pending');
    expect(queries - before).toBe(0);

    await h.settle(bill.bill_no, 'paid').expect(200);
    await eventually(
      () => h.status(token, order.orderNo),
      (answer) => answer.status === 'paid',
      3000,
    );
    expect((await h.status(token, order.orderNo)).status).toBe('paid');
  });

  it('should still answer 404 to a stranger for an order it remembers', async () => {
    const { token, order } = await pendingOrder(h);
    await h.status(token, order.orderNo);
    const stranger = await h.login();
    await h.api.get(`/api/orders/${order.orderNo}/status`).set('authorization', `Bearer ${stranger.token}`).expect(404);
  });

  it('should forget a status changed directly in the database (the change feed)', async () => {
    const { token, order } = await pendingOrder(h);
    expect((await h.status(token, order.orderNo)).status).toBe('pending');
    await database.db.query("UPDATE orders SET status = 'closed' WHERE order_no = $1", [order.orderNo]);
    const answer = await eventually(
      () => h.status(token, order.orderNo),
      (seen) => seen.status === 'closed',
      3000,
    );
    expect(answer.status).toBe('closed');
  });
});

describe.each(STORAGES)('the pay step right after the order was created, on $name', (storage) => {
  let database: TestDatabase;
  let h: CheckoutHarness;
  const orderReads: string[] = [];

  beforeAll(async () => {
    database = await storage.open();
    const counting: Database = {
      ...database.db,
      query: (sql, params, options) => {
        if (/FROM orders WHERE order_no = \$1/.test(sql)) orderReads.push(String(params?.[0]));
        return database.db.query(sql, params, options);
      },
    };
    h = await startHarness(counting, REMEMBER_LONG);
  });

  afterAll(async () => {
    await h?.close();
    await database?.dispose();
  });

  it('should open the bill without reading the order it has just created', async () => {
    const { token } = await h.login();
    const order = await h.createOrder(token);
    const response = await h.pay(token, order.orderNo).expect(200);
    expect(response.body.requestPayment.package).toMatch(/^prepay_id=/);
    expect(orderReads).not.toContain(order.orderNo);
    const [bill] = await h.billsOf(order.orderNo);
    expect(bill.total_fee).toBe(order.amount);
  });

  it('should still refuse a stranger the order it remembers', async () => {
    const { token } = await h.login();
    const order = await h.createOrder(token);
    const stranger = await h.login();
    await h.pay(stranger.token, order.orderNo).expect(404);
    await h.pay(token, order.orderNo).expect(200);
  });

  it('should see an order changed since it was created (the change feed), and read it', async () => {
    const { token } = await h.login();
    const order = await h.createOrder(token);
    await database.db.query(
      "UPDATE orders SET status = 'expired', expires_at = now() - interval '1 minute' WHERE order_no = $1",
      [order.orderNo],
    );
    const refused = await eventually(
      () =>
        h.pay(token, order.orderNo).then((response) => ({ status: response.status, code: response.body.error?.code })),
      (answer) => answer.status !== 200,
      3000,
    );
    expect(refused).toEqual({ status: 409, code: 'ORDER_EXPIRED' });
    expect(orderReads).toContain(order.orderNo);
    // A pay that got in before the change arrived may have opened a bill (the order was pending
    // as far as this instance knew); once the change is seen, no pay opens another.
    const billsWhenRefused = (await h.billsOf(order.orderNo)).length;
    await h.pay(token, order.orderNo).expect(409);
    expect(await h.billsOf(order.orderNo)).toHaveLength(billsWhenRefused);
  });
});

describePostgres('status answered from memory by two instances on PostgreSQL', () => {
  it('should let an instance see a payment that the other instance recorded', async () => {
    const { STORAGES: all } = await import('../support/databases');
    const database = await all.find((candidate) => candidate.name === 'postgres')!.open();
    const first = await startHarness(database.db, REMEMBER_LONG);
    const second = await startHarness(await database.openAnother(), REMEMBER_LONG);
    try {
      const { token, order, bill } = await pendingOrder(first);
      expect((await second.status(token, order.orderNo)).status).toBe('pending');
      await first.settle(bill.bill_no, 'paid').expect(200);
      await eventually(
        () => first.status(token, order.orderNo),
        (answer) => answer.status === 'paid',
      );
      const seen = await eventually(
        () => second.status(token, order.orderNo),
        (answer) => answer.status === 'paid',
        3000,
      );
      expect(seen.status).toBe('paid');
    } finally {
      await first.close();
      await second.close();
      await database.dispose();
    }
  });
});

describe('polls that miss memory together', () => {
  it('should share one database read among concurrent polls of one order', async () => {
    const { STORAGES: all } = await import('../support/databases');
    const database = await all[0].open();
    let queries = 0;
    const counting: Database = {
      ...database.db,
      query: async (sql, params) => {
        queries += 1;
        // A slow database, so that the polls really overlap.
        if (/FROM orders WHERE order_no = \$1$/.test(sql)) await new Promise((resolve) => setTimeout(resolve, 100));
        return database.db.query(sql, params);
      },
    };
    // Nothing is remembered between polls: every poll that comes alone reads the database.
    const h = await startHarness(counting, { settings: { statusCacheMs: 0 } });
    try {
      const { token, order } = await pendingOrder(h);
      const before = queries;
      const answers = await Promise.all(
        Array.from({ length: 20 }, () =>
          fetch(`${h.services.serverUrl}/api/orders/${order.orderNo}/status`, {
            headers: { authorization: `Bearer ${token}` },
          }).then((response) => response.json() as Promise<{ status: string }>),
        ),
      );
      expect(answers.every((answer) => answer.status === 'pending')).toBe(true);
      // One shared load: the order read and the gateway-check claim (a second load at most, if the
      // polls straddle its end).
      expect(queries - before).toBeLessThanOrEqual(4);
    } finally {
      await h.close();
      await database.dispose();
    }
  });
});

describe('a remembered status due for a refresh', () => {
  it('should be answered at once while one refresh runs in the background', async () => {
    const { STORAGES: all } = await import('../support/databases');
    const database = await all[0].open();
    let orderReads = 0;
    let releaseReads: (() => void) | undefined;
    let readsHeld: Promise<void> | undefined;
    const counting: Database = {
      ...database.db,
      query: async (sql, params, options) => {
        if (/FROM orders WHERE order_no = \$1$/.test(sql)) {
          orderReads += 1;
          if (readsHeld) await readsHeld;
        }
        return database.db.query(sql, params, options);
      },
    };
    const h = await startHarness(counting, { settings: { statusCacheMs: 300 } });
    try {
      const { token, order } = await pendingOrder(h);
      expect((await h.status(token, order.orderNo)).status).toBe('pending');
      const readsBefore = orderReads;
      await new Promise((resolve) => setTimeout(resolve, 350));

      // The database is stuck now, until released below: the polls must not wait for it. A poll
      // that did would never answer, so the bound only ends the test; it is generous because a
      // loaded machine can take seconds to serve ten requests.
      readsHeld = new Promise((resolve) => (releaseReads = resolve));
      const answers = await Promise.race([
        Promise.all(Array.from({ length: 10 }, () => h.status(token, order.orderNo))),
        new Promise<'waited for the database'>((resolve) =>
          setTimeout(() => resolve('waited for the database'), 20_000),
        ),
      ]);
      expect(answers).toEqual(Array.from({ length: 10 }, () => expect.objectContaining({ status: 'pending' })));
      expect(orderReads - readsBefore).toBe(1);

      // Changed with no notice on the feed: what the refresh reads is what polls get next.
      await database.db.exec('ALTER TABLE orders DISABLE TRIGGER orders_changed');
      await database.db.query("UPDATE orders SET status = 'closed' WHERE order_no = $1", [order.orderNo]);
      releaseReads!();
      readsHeld = undefined;
      const seen = await eventually(
        () => h.status(token, order.orderNo),
        (answer) => answer.status === 'closed',
        3000,
      );
      expect(seen.status).toBe('closed');
    } finally {
      releaseReads?.();
      await h.close();
      await database.dispose();
    }
  });
});
