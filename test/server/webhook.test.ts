import type { Database, Queryable } from '../../server/adapters/storage/database';
import { DEVELOPMENT_SECRETS } from '../../server/config';
import { buildPaymentWebhook } from '../../server/sandbox/gateway/webhook-message';
import { CheckoutHarness, eventually, startHarness } from '../support/checkout-harness';
import { countingProxy, gatewayEnv } from '../support/counting-proxy';
import { describePostgres, STORAGES, TestDatabase } from '../support/databases';

const credentials: { appId: string; masterSecret: string } = {
  appId: DEVELOPMENT_SECRETS.gatewayAppId,
  masterSecret: DEVELOPMENT_SECRETS.gatewayMasterSecret,
};

function paymentWebhook(
  billNo: string,
  totalFee: number,
  outcome: 'paid' | 'failed' | 'closed' = 'paid',
  overrides: Partial<typeof credentials> = {},
) {
  return buildPaymentWebhook({ ...credentials, ...overrides, billNo, channel: 'WX_MINI', totalFee, outcome });
}

async function paymentsOf(db: Queryable, orderNo: string) {
  const { rows } = await db.query<{ bill_no: string; disposition: string; source: string; amount: number }>(
    'SELECT bill_no, disposition, source, amount FROM payments WHERE order_no = $1 ORDER BY received_at',
    [orderNo],
  );
  return rows;
}

/** An order with an open WX_MINI bill, as after the shopper tapped Pay. */
async function openBill(h: CheckoutHarness) {
  const { token } = await h.login();
  const order = await h.createOrder(token);
  await h.pay(token, order.orderNo).expect(200);
  const [bill] = await h.billsOf(order.orderNo);
  return { token, order, bill };
}

describe.each(STORAGES)('POST /api/gateway/webhook on $name', (storage) => {
  let database: TestDatabase;
  let h: CheckoutHarness;

  beforeAll(async () => {
    database = await storage.open();
    h = await startHarness(database.db, { settings: { webhookGraceMs: 0, gatewayCheckIntervalMs: 1000 } });
  });

  afterAll(async () => {
    await h?.close();
    await database?.dispose();
  });

  const send = (body: unknown) =>
    h.api.post('/api/gateway/webhook').set('content-type', 'application/json').send(JSON.stringify(body));

  it('should answer the literal body success and mark the order paid', async () => {
    const { token, order, bill } = await openBill(h);
    const response = await send(paymentWebhook(bill.bill_no, order.amount)).expect(200);
    expect(response.text).toBe('success');
    expect(await h.status(token, order.orderNo)).toMatchObject({ status: 'paid', code: 0 });
    expect(await paymentsOf(h.services.database, order.orderNo)).toEqual([
      { bill_no: bill.bill_no, disposition: 'applied', source: 'webhook', amount: order.amount },
    ]);
  });

  it('should refuse a forged signature without recording anything', async () => {
    const { token, order, bill } = await openBill(h);
    const forged = { ...paymentWebhook(bill.bill_no, order.amount), signature: 'f'.repeat(32) };
    const response = await send(forged);
    expect(response.status).toBe(401);
    expect(response.text).not.toBe('success');
    expect((await h.status(token, order.orderNo)).status).toBe('pending');
    expect(await paymentsOf(h.services.database, order.orderNo)).toEqual([]);
  });

  it('should refuse a message signed with another master secret or for another app id', async () => {
    const { token, order, bill } = await openBill(h);
    const otherSecret = paymentWebhook(bill.bill_no, order.amount, 'paid', { masterSecret: 'someone-elses' });
    expect((await send(otherSecret)).status).toBe(401);
    const otherApp = paymentWebhook(bill.bill_no, order.amount, 'paid', { appId: 'another-app' });
    expect((await send(otherApp)).status).toBe(401);
    const labelledOtherApp = { ...paymentWebhook(bill.bill_no, order.amount), app_id: 'another-app' };
    expect((await send(labelledOtherApp)).status).toBe(401);
    expect((await h.status(token, order.orderNo)).status).toBe('pending');
  });

  it('should refuse a fee tampered after signing', async () => {
    const { order, bill } = await openBill(h);
    const tampered = { ...paymentWebhook(bill.bill_no, order.amount), transaction_fee: 1 };
    expect((await send(tampered)).status).toBe(401);
    expect(await paymentsOf(h.services.database, order.orderNo)).toEqual([]);
  });

  it('should never mark an order paid from an underpaid message, and keep it for review', async () => {
    const { token, order, bill } = await openBill(h);
    const underpaid = paymentWebhook(bill.bill_no, order.amount - 1);
    const response = await send(underpaid).expect(200);
    expect(response.text).toBe('success');
    expect((await h.status(token, order.orderNo)).status).toBe('pending');
    expect(await paymentsOf(h.services.database, order.orderNo)).toEqual([
      expect.objectContaining({ disposition: 'amount_mismatch', amount: order.amount - 1 }),
    ]);
  });

  it('should keep for review a signed fee too large for the order, and refuse one beyond exact integers', async () => {
    const { token, order, bill } = await openBill(h);
    await send(paymentWebhook(bill.bill_no, 2_147_483_648)).expect(200, 'success');
    expect((await h.status(token, order.orderNo)).status).toBe('pending');
    expect(await paymentsOf(h.services.database, order.orderNo)).toEqual([
      expect.objectContaining({ disposition: 'amount_mismatch', amount: 2_147_483_648 }),
    ]);
    const beyond = { ...paymentWebhook(bill.bill_no, order.amount), transaction_fee: '9007199254740993' };
    const response = await send(beyond);
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('WEBHOOK_INVALID');
  });

  it.each([
    ['not JSON', '{"signature":'],
    ['a JSON array', '[]'],
    ['missing fields', '{"signature":"x"}'],
  ])('should answer 400, never success, for %s', async (_what, body) => {
    const response = await h.api.post('/api/gateway/webhook').set('content-type', 'application/json').send(body);
    expect(response.status).toBe(400);
    expect(response.text).not.toBe('success');
  });

  it('should not acknowledge a verified message for a bill it does not know', async () => {
    const response = await send(paymentWebhook('B00000000000000UNKNOWN0', 100));
    expect(response.status).toBe(404);
    expect(response.text).not.toBe('success');
  });

  it('should record a payment once however often the message repeats', async () => {
    const { order, bill } = await openBill(h);
    const message = paymentWebhook(bill.bill_no, order.amount);
    for (let i = 0; i < 3; i += 1) expect((await send(message).expect(200)).text).toBe('success');
    await Promise.all(Array.from({ length: 5 }, () => send(message).expect(200, 'success')));
    expect(await paymentsOf(h.services.database, order.orderNo)).toHaveLength(1);
  });

  it('should read a signed PAY message as a payment whatever its unsigned trade_success says, once', async () => {
    const { token, order, bill } = await openBill(h);
    // trade_success is outside the signature (seed 001 §3.3.1): flipping it changes nothing.
    const flipped = { ...paymentWebhook(bill.bill_no, order.amount), trade_success: false };
    await send(flipped).expect(200, 'success');
    expect((await h.status(token, order.orderNo)).status).toBe('paid');
    await send(paymentWebhook(bill.bill_no, order.amount, 'closed')).expect(200, 'success');
    await send(paymentWebhook(bill.bill_no, order.amount)).expect(200, 'success');
    expect((await h.status(token, order.orderNo)).status).toBe('paid');
    expect(await paymentsOf(h.services.database, order.orderNo)).toHaveLength(1);
  });

  it('should never close or fail an order from a message: only the gateway answering a query does', async () => {
    const { token, order, bill } = await openBill(h);
    // A message that says "closed" in every unsigned field, for a fee that is not the bill's.
    const forgedClosure = { ...paymentWebhook(bill.bill_no, order.amount - 1, 'closed'), trade_success: false };
    await send(forgedClosure).expect(200, 'success');
    expect((await h.status(token, order.orderNo)).status).toBe('pending');
    const [stored] = await h.services.database
      .query<{ status: string }>('SELECT status FROM bills WHERE bill_no = $1', [bill.bill_no])
      .then((result) => result.rows);
    expect(stored.status).toBe('open');
  });

  it.each([
    ['one fen short', (amount: number) => amount - 1],
    ['in yuan', (amount: number) => Math.round(amount / 100)],
  ])(
    'should apply the true payment of a bill after a wrong-fee message (%s), from a webhook or a query',
    async (_what, wrong) => {
      for (const source of ['webhook', 'query'] as const) {
        const { token, order, bill } = await openBill(h);
        await send(paymentWebhook(bill.bill_no, wrong(order.amount))).expect(200, 'success');
        expect((await h.status(token, order.orderNo)).status).toBe('pending');
        // The gateway check that poll started sees the bill unpaid, before it is paid below.
        await h.services.verdicts.drain();
        // The gateway's true message, or its answer to our query, with the bill's fee.
        await h.settle(bill.bill_no, 'paid', source === 'webhook').expect(200);
        if (source === 'query') {
          await h.services.verdicts.checkOrder(order.orderNo);
        } else {
          // No poll until the webhook is in: a poll could have the gateway asked first.
          await eventually(
            async () => (await h.sandbox.get(`/sandbox/bills/${bill.bill_no}/deliveries`)).body.deliveries,
            (deliveries: Array<{ ok: boolean }>) => deliveries.some((delivery) => delivery.ok),
          );
        }
        const answer = await h.status(token, order.orderNo);
        expect(answer).toMatchObject({ status: 'paid', code: 0 });
        const payments = await paymentsOf(h.services.database, order.orderNo);
        expect(payments).toEqual([
          expect.objectContaining({ disposition: 'amount_mismatch', amount: wrong(order.amount), source: 'webhook' }),
          expect.objectContaining({ disposition: 'applied', amount: order.amount, source }),
        ]);
        // Neither message counts twice.
        await send(paymentWebhook(bill.bill_no, wrong(order.amount))).expect(200, 'success');
        await send(paymentWebhook(bill.bill_no, order.amount)).expect(200, 'success');
        expect(await paymentsOf(h.services.database, order.orderNo)).toHaveLength(2);
      }
    },
  );

  it('should honour a payment that arrives after the order expired: the shopper was charged', async () => {
    const { token, order, bill } = await openBill(h);
    await h.settle(bill.bill_no, 'closed').expect(200);
    h.advanceClock(20 * 60 * 1000);
    try {
      await h.sweep();
      expect(await h.status(token, order.orderNo)).toMatchObject({ status: 'expired', code: 1 });
      await send(paymentWebhook(bill.bill_no, order.amount, 'paid')).expect(200, 'success');
      expect(await h.status(token, order.orderNo)).toMatchObject({ status: 'paid', code: 0 });
    } finally {
      h.advanceClock(-20 * 60 * 1000);
    }
  });

  it('should be delivered by the sandbox and stop its retries once answered', async () => {
    const { token, order, bill } = await openBill(h);
    await h.settle(bill.bill_no, 'paid').expect(200);
    const settled = await eventually(
      () => h.status(token, order.orderNo),
      (answer) => answer.status === 'paid',
    );
    expect(settled.status).toBe('paid');
    const deliveries = await h.sandbox.get(`/sandbox/bills/${bill.bill_no}/deliveries`).expect(200);
    expect(deliveries.body.deliveries).toEqual([expect.objectContaining({ ok: true, status: 200 })]);
  });
});

describe.each(STORAGES)('late webhooks and expiry on $name', (storage) => {
  let database: TestDatabase;
  let h: CheckoutHarness;

  beforeAll(async () => {
    database = await storage.open();
    h = await startHarness(database.db, { settings: { webhookGraceMs: 0, gatewayCheckIntervalMs: 60_000 } });
  });

  afterAll(async () => {
    await h?.close();
    await database?.dispose();
  });

  it('should learn a payment from the gateway when the webhook is late, then count the webhook once', async () => {
    const { token, order, bill } = await openBill(h);
    await h.settle(bill.bill_no, 'paid', false).expect(200);
    // The poll answers what is stored at once and has the gateway asked in the background.
    expect((await h.status(token, order.orderNo)).status).toBe('pending');
    await h.services.verdicts.drain();
    expect(await h.status(token, order.orderNo)).toMatchObject({ status: 'paid', code: 0 });
    expect(await paymentsOf(h.services.database, order.orderNo)).toEqual([
      expect.objectContaining({ source: 'query', disposition: 'applied' }),
    ]);
    await h.sandbox.post(`/sandbox/bills/${bill.bill_no}/notify`).expect(200);
    await eventually(
      async () => (await h.sandbox.get(`/sandbox/bills/${bill.bill_no}/deliveries`)).body.deliveries,
      (deliveries: Array<{ ok: boolean }>) => deliveries.some((delivery) => delivery.ok),
    );
    expect(await paymentsOf(h.services.database, order.orderNo)).toHaveLength(1);
  });

  it('should expire an unpaid order past its deadline only after the gateway confirms it unpaid', async () => {
    const { token, order, bill } = await openBill(h);
    h.advanceClock(16 * 60 * 1000);
    try {
      await h.sandbox
        .post('/sandbox/gateway/faults')
        .send({ result_code: 14, operation: 'query', count: 1 })
        .expect(201);
      const failing = await h.sweep();
      expect(failing.failedChecks).toBeGreaterThanOrEqual(1);
      expect((await h.status(token, order.orderNo)).status).toBe('pending');
      // Asked again once the interval has passed, and this time the gateway answers.
      h.advanceClock(61_000);
      await h.sweep();
      expect(await h.status(token, order.orderNo)).toMatchObject({ status: 'expired', code: 1 });
      expect((await h.pay(token, order.orderNo).expect(409)).body.error.code).toBe('ORDER_EXPIRED');
      expect((await h.billsOf(order.orderNo))[0].bill_no).toBe(bill.bill_no);
    } finally {
      h.advanceClock(-(16 * 60 * 1000 + 61_000));
    }
  });

  it('should expire an order nobody tried to pay, on time and with no poll', async () => {
    const { token } = await h.login();
    const order = await h.createOrder(token);
    h.advanceClock(16 * 60 * 1000);
    try {
      const report = await h.sweep();
      expect(report.expired).toBeGreaterThanOrEqual(1);
      expect(await h.status(token, order.orderNo)).toMatchObject({ status: 'expired', code: 1 });
    } finally {
      h.advanceClock(-16 * 60 * 1000);
    }
  });
});

describe('gateway queries while many clients poll', () => {
  it('should ask the gateway at most once per order per interval however many pollers', async () => {
    const { openPglite } = await import('../../server/adapters/storage/database');
    const sandboxDb = await openPglite(undefined);
    const sandboxHost = await startHarness(sandboxDb);
    const proxy = await countingProxy(sandboxHost.services.sandboxUrl!);
    const db = await openPglite(undefined);
    const h = await startHarness(db, {
      env: gatewayEnv(proxy.url),
      settings: { webhookGraceMs: 0, gatewayCheckIntervalMs: 60_000 },
    });
    try {
      const { token } = await h.login();
      const order = await h.createOrder(token);
      await h.pay(token, order.orderNo).expect(200);
      const answers = await Promise.all(Array.from({ length: 100 }, () => h.status(token, order.orderNo)));
      expect(answers.every((answer) => answer.status === 'pending')).toBe(true);
      await h.services.verdicts.drain();
      await Promise.all(Array.from({ length: 20 }, () => h.status(token, order.orderNo)));
      await h.services.verdicts.drain();
      expect(proxy.count('/2/rest/bills')).toBe(1);
    } finally {
      await h.close();
      await db.close();
      await proxy.close();
      await sandboxHost.close();
      await sandboxDb.close();
    }
  });
});

describe.each(STORAGES)('crash between receipt and answer on $name', (storage) => {
  /**
   * The statement that records a payment fails once: either before it reaches the database
   * (nothing stored) or after it committed (stored, but the answer is lost). Either way the
   * webhook is not acknowledged, and the gateway's retry leaves exactly one payment.
   */
  it.each([
    ['before the payment is stored', false],
    ['after the payment is stored', true],
  ])('should complete on the gateway retry when storage fails %s', async (_when, afterCommit) => {
    const database = await storage.open();
    let failNextPayment = false;
    const faulty: Database = {
      ...database.db,
      query: async (sql, params) => {
        if (failNextPayment && /INSERT INTO payments/.test(sql)) {
          failNextPayment = false;
          if (afterCommit) await database.db.query(sql, params);
          throw new Error('connection lost');
        }
        return database.db.query(sql, params);
      },
    };
    const h = await startHarness(faulty);
    try {
      const { token, order, bill } = await openBill(h);
      failNextPayment = true;
      await h.settle(bill.bill_no, 'paid').expect(200);
      const deliveries = await eventually(
        async () => (await h.sandbox.get(`/sandbox/bills/${bill.bill_no}/deliveries`)).body.deliveries,
        (list: Array<{ ok: boolean }>) => list.some((delivery) => delivery.ok),
      );
      expect(deliveries[0]).toMatchObject({ ok: false, status: 500 });
      expect(deliveries[deliveries.length - 1]).toMatchObject({ ok: true });
      expect((await h.status(token, order.orderNo)).status).toBe('paid');
      expect(await paymentsOf(h.services.database, order.orderNo)).toHaveLength(1);
    } finally {
      await h.close();
      await database.dispose();
    }
  });
});

describePostgres('concurrent duplicate webhooks on PostgreSQL, two server instances', () => {
  it('should record exactly one payment from 20 concurrent copies', async () => {
    const { STORAGES: all } = await import('../support/databases');
    const database = await all.find((candidate) => candidate.name === 'postgres')!.open();
    const first = await startHarness(database.db);
    const second = await startHarness(await database.openAnother());
    try {
      const { token, order, bill } = await openBill(first);
      const message = JSON.stringify(paymentWebhook(bill.bill_no, order.amount));
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0 ? first : second).api
            .post('/api/gateway/webhook')
            .set('content-type', 'application/json')
            .send(message),
        ),
      );
      expect(answers.map((answer) => answer.text)).toEqual(Array(20).fill('success'));
      expect(await paymentsOf(database.db, order.orderNo)).toHaveLength(1);
      const orders = await database.db.query<{ status: string; paid_at: Date }>(
        'SELECT status, paid_at FROM orders WHERE order_no = $1',
        [order.orderNo],
      );
      expect(orders.rows[0].status).toBe('paid');
      expect((await first.status(token, order.orderNo)).code).toBe(0);
    } finally {
      await first.close();
      await second.close();
      await database.dispose();
    }
  });
});
