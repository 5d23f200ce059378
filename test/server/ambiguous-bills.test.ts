import type { Queryable } from '../../server/adapters/storage/database';
import { CheckoutHarness, startHarness } from '../support/checkout-harness';
import { countingProxy, gatewayEnv } from '../support/counting-proxy';
import { STORAGES, TestDatabase } from '../support/databases';

/**
 * A bill creation whose answer is lost (the gateway made the bill, then answered HTTP 500 or
 * not in time, or our server died waiting) must never leave the order with two open bills at
 * the gateway, and a payment on the first one must never be lost. A bill the gateway no longer
 * knows is never handed out again.
 */

/** Longer than any test: an answer held this long only arrives because the sandbox closed. */
const FOREVER_MS = 600_000;

async function storedBills(db: Queryable, orderNo: string) {
  const { rows } = await db.query<{ bill_no: string; status: string }>(
    'SELECT bill_no, status FROM bills WHERE order_no = $1 ORDER BY created_at, bill_no',
    [orderNo],
  );
  return rows;
}

async function storedStatus(db: Queryable, orderNo: string): Promise<string> {
  const { rows } = await db.query<{ status: string }>('SELECT status FROM orders WHERE order_no = $1', [orderNo]);
  return rows[0].status;
}

async function openBillsAtGateway(h: CheckoutHarness, orderNo: string) {
  return (await h.billsOf(orderNo)).filter((bill) => bill.status === 'open');
}

/**
 * A gateway in front of `target` that answers the first `failBills` bill creations with an
 * HTTP 500 page without passing them on (nothing is created), and passes everything else on.
 */
async function gatewayLosingBills(failBills: number) {
  let failuresLeft = failBills;
  return countingProxy(undefined, (incoming, outgoing) => {
    if (incoming.method !== 'POST' || !incoming.url?.startsWith('/2/rest/bill') || failuresLeft === 0) return false;
    failuresLeft -= 1;
    incoming.resume();
    outgoing.writeHead(500, { 'content-type': 'text/html' });
    outgoing.end('<html>500 Internal Server Error</html>');
    return true;
  });
}

describe.each(STORAGES)('ambiguous bill creation on $name', (storage) => {
  let database: TestDatabase | undefined;
  const harnesses: CheckoutHarness[] = [];
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeEach(async () => {
    database = await storage.open();
  });

  afterEach(async () => {
    for (const h of harnesses.splice(0).reverse()) await h.close();
    for (const cleanup of cleanups.splice(0)) await cleanup();
    await database?.dispose();
    database = undefined;
  });

  async function harness(options: Parameters<typeof startHarness>[1] = {}) {
    const h = await startHarness(database!.db, options);
    harnesses.push(h);
    return h;
  }

  it('should not open a second bill when the gateway made the first, then answered HTTP 500', async () => {
    const h = await harness({ settings: { webhookGraceMs: 0 } });
    const { token } = await h.login();
    const order = await h.createOrder(token);
    await h.sandbox.post('/sandbox/gateway/faults').send({ http_status: 500, operation: 'bill' }).expect(201);
    const first = await h.pay(token, order.orderNo);
    expect(first.status).toBeGreaterThanOrEqual(500);
    expect(await openBillsAtGateway(h, order.orderNo)).toHaveLength(1);

    // The gateway has that bill, but its payment parameters were in the lost answer.
    const again = await h.pay(token, order.orderNo).expect(409);
    expect(again.body.error.code).toBe('PAYMENT_IN_PROGRESS');
    expect(await h.pay(token, order.orderNo).expect(409)).toBeDefined();
    const open = await openBillsAtGateway(h, order.orderNo);
    expect(open).toHaveLength(1);

    // Money paid on it is found by the sweeper, whose lease includes such bills.
    await h.settle(open[0].bill_no, 'paid', false).expect(200);
    expect(await h.sweep()).toMatchObject({ checked: 1, failedChecks: 0 });
    expect(await storedStatus(h.services.database, order.orderNo)).toBe('paid');
    expect(await h.status(token, order.orderNo)).toMatchObject({ status: 'paid', code: 0 });
  });

  it('should not open a second bill when the first creation timed out, and count the payment on it', async () => {
    const h = await harness({ env: { GATEWAY_TIMEOUT_MS: '1500' } });
    const { token } = await h.login();
    const order = await h.createOrder(token);
    await h.sandbox.post('/sandbox/gateway/faults').send({ delay_ms: FOREVER_MS, operation: 'bill' }).expect(201);
    expect((await h.pay(token, order.orderNo).expect(503)).body.error.code).toBe('GATEWAY_UNAVAILABLE');

    expect((await h.pay(token, order.orderNo).expect(409)).body.error.code).toBe('PAYMENT_IN_PROGRESS');
    const open = await openBillsAtGateway(h, order.orderNo);
    expect(open).toHaveLength(1);

    // Its webhook is honoured like any other.
    await h.settle(open[0].bill_no, 'paid').expect(200);
    const paid = await (async () => {
      for (let i = 0; i < 250; i += 1) {
        if ((await storedStatus(h.services.database, order.orderNo)) === 'paid') return true;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return false;
    })();
    expect(paid).toBe(true);
    expect((await h.pay(token, order.orderNo).expect(409)).body.error.code).toBe('ORDER_ALREADY_PAID');
  });

  it('should not open a second bill after the server died waiting for the answer (a fresh instance)', async () => {
    const crashed = await harness({ env: { GATEWAY_TIMEOUT_MS: '120000' } });
    const { token } = await crashed.login();
    const order = await crashed.createOrder(token);
    await crashed.sandbox.post('/sandbox/gateway/faults').send({ delay_ms: FOREVER_MS, operation: 'bill' }).expect(201);
    // The request that never gets its answer: the bill is requested, then nothing.
    const hanging = crashed.pay(token, order.orderNo).then(
      (response) => response,
      () => undefined,
    );
    cleanups.push(() => hanging);
    for (let i = 0; i < 250 && (await crashed.billsOf(order.orderNo)).length === 0; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await storedBills(crashed.services.database, order.orderNo)).toEqual([
      { bill_no: expect.any(String), status: 'creating' },
    ]);

    // Another instance over the same database, talking to the same gateway, some time later.
    const fresh = await harness({ env: gatewayEnv(crashed.services.sandboxUrl!), settings: { webhookGraceMs: 0 } });
    fresh.advanceClock(10 * 60_000);
    expect((await fresh.pay(token, order.orderNo).expect(409)).body.error.code).toBe('PAYMENT_IN_PROGRESS');
    const open = await openBillsAtGateway(crashed, order.orderNo);
    expect(open).toHaveLength(1);

    // The fresh instance's sweeper asks about it: its payment is recorded.
    await crashed.settle(open[0].bill_no, 'paid', false).expect(200);
    await fresh.sweep();
    expect(await storedStatus(fresh.services.database, order.orderNo)).toBe('paid');
  });

  it('should offer only the other Douyin leg while one leg is open at the gateway without its parameters', async () => {
    const h = await harness();
    const minted = await h.sandbox.post('/sandbox/douyin/codes').send({}).expect(201);
    const session = await h.api
      .post('/api/session')
      .send({ platform: 'tt', code: minted.body.code, anonymousCode: minted.body.anonymousCode })
      .expect(200);
    const auth = { authorization: `Bearer ${session.body.token}` };
    const order = await h.createOrder(session.body.token);
    const ttPay = () => h.api.post(`/api/orders/${order.orderNo}/pay`).set(auth).send({ platform: 'tt' });
    await h.sandbox.post('/sandbox/gateway/faults').send({ http_status: 500, operation: 'bill' }).expect(201);
    const first = (await ttPay().expect(200)).body.orderInfo;
    const offered = (orderInfo: Record<string, unknown>) => ['wx_url', 'alipay_url'].filter((leg) => orderInfo[leg]);
    expect(offered(first)).toHaveLength(1);

    const again = (await ttPay().expect(200)).body.orderInfo;
    expect(offered(again)).toEqual(offered(first));
    const open = await openBillsAtGateway(h, order.orderNo);
    expect(open.map((bill) => bill.channel).sort()).toEqual(['ALI_APP', 'BC_WX_WAP']);
  });

  it('should open a new bill once the gateway confirms the unanswered one never arrived', async () => {
    const gateway = await gatewayLosingBills(1);
    cleanups.push(() => gateway.close());
    const h = await harness({ env: gatewayEnv(gateway.url) });
    gateway.forwardTo(h.services.sandboxUrl!);
    const { token } = await h.login();
    const order = await h.createOrder(token);
    expect((await h.pay(token, order.orderNo)).status).toBeGreaterThanOrEqual(500);
    expect(await h.billsOf(order.orderNo)).toEqual([]);

    // Right after, the request might still be on its way to the gateway: wait.
    expect((await h.pay(token, order.orderNo).expect(409)).body.error.code).toBe('PAYMENT_IN_PROGRESS');
    expect(await h.billsOf(order.orderNo)).toEqual([]);

    // Long enough after, "no such bill" is the truth: that attempt is dead, a new one opens.
    h.advanceClock(5 * 60_000);
    const paid = await h.pay(token, order.orderNo).expect(200);
    expect(paid.body.requestPayment.package).toMatch(/^prepay_id=/);
    expect(await openBillsAtGateway(h, order.orderNo)).toHaveLength(1);
    const statuses = (await storedBills(h.services.database, order.orderNo)).map((bill) => bill.status);
    expect(statuses).toEqual(['rejected', 'open']);
  });

  it('should open a new bill, not hand out the old parameters, when the gateway no longer knows the bill', async () => {
    const before = await harness();
    const { token } = await before.login();
    const order = await before.createOrder(token);
    const first = (await before.pay(token, order.orderNo).expect(200)).body.requestPayment;
    // Paying again while the gateway knows the bill hands out the same parameters.
    expect((await before.pay(token, order.orderNo).expect(200)).body.requestPayment).toEqual(first);

    // The same server data, facing a gateway that has lost every bill.
    const otherDatabase = await storage.open();
    cleanups.push(() => otherDatabase.dispose());
    const forgetful = await startHarness(otherDatabase.db);
    harnesses.push(forgetful);
    const after = await harness({ env: gatewayEnv(forgetful.services.sandboxUrl!) });
    after.advanceClock(60_000);
    const again = (await after.pay(token, order.orderNo).expect(200)).body.requestPayment;
    expect(again.package).not.toEqual(first.package);
    const atGateway = (await forgetful.billsOf()).filter((bill) => bill.status === 'open');
    expect(atGateway).toHaveLength(1);
    expect(again.package).toBe(`prepay_id=${atGateway[0].prepay_id}`);
    expect((await storedBills(after.services.database, order.orderNo)).map((bill) => bill.status)).toEqual([
      'abandoned',
      'open',
    ]);
  });
});
