import { createPublicKey, createVerify, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckoutHarness, eventually, startHarness } from '../support/checkout-harness';
import { describePostgres, STORAGES, TestDatabase } from '../support/databases';
import {
  merchantOrder,
  merchantRefund,
  startLoggedHarness,
  billsOf,
  paymentsOf,
  clearWechatPayFaults,
  signedWechatPayNotification,
  type WechatPayNotificationOverrides,
  expectRefusedForSignature,
} from '../support/provider-checkout';
import type { WechatPaySandboxKeys } from '../../server/sandbox/wechatpay';

/**
 * A WeChat mini-program checkout paid at WeChat Pay APIv3 (WEAPP_PAYMENT_PROVIDER=wechatpay), through
 * our real server and the real WeChat Pay sandbox: the shopper's `wx.requestPayment` fields, the
 * notification at /api/wechatpay/notify, lost notifications, forged ones, expiry, refunds, second
 * payments, a switch of provider, and two instances.
 */

const WECHATPAY = { WEAPP_PAYMENT_PROVIDER: 'wechatpay' };

/** What `GET /sandbox/wechatpay/keys` answers (the sandbox's keys, without its certificate records). */
type SandboxKeys = Omit<WechatPaySandboxKeys, 'certificates'>;

interface SandboxTransaction {
  out_trade_no: string;
  trade_state: string;
  transaction_id: string | null;
  deliveries?: unknown;
}

interface Delivery {
  event_type: string;
  status: number | null;
  body: string;
  ok: boolean;
}

async function keysOf(h: CheckoutHarness): Promise<SandboxKeys> {
  return (await h.sandbox.get('/sandbox/wechatpay/keys').expect(200)).body;
}

async function transactionOf(h: CheckoutHarness, outTradeNo: string): Promise<SandboxTransaction> {
  const listed = await h.sandbox.get('/sandbox/wechatpay/transactions').query({ out_trade_no: outTradeNo }).expect(200);
  return listed.body.transactions[0];
}

function settle(h: CheckoutHarness, outTradeNo: string, result: 'paid' | 'closed', notify = true) {
  return h.sandbox.post(`/sandbox/wechatpay/transactions/${outTradeNo}/settle`).send({ result, notify });
}

async function deliveriesOf(h: CheckoutHarness, outTradeNo: string): Promise<Delivery[]> {
  return (await h.sandbox.get(`/sandbox/wechatpay/transactions/${outTradeNo}/deliveries`).expect(200)).body.deliveries;
}

/** A weapp shopper's order after tapping Pay: its WeChat Pay bill and the `requestPayment` answered. */
async function payingOrder(h: CheckoutHarness) {
  const { token, openid } = await h.login();
  const order = await h.createOrder(token);
  const paid = await h.pay(token, order.orderNo).expect(200);
  const [bill] = await billsOf(h.services.database, order.orderNo);
  return { token, openid, order, bill, requestPayment: paid.body.requestPayment };
}

async function paidOrder(h: CheckoutHarness) {
  const paying = await payingOrder(h);
  await settle(h, paying.bill.bill_no, 'paid').expect(200);
  await eventually(
    () => h.status(paying.token, paying.order.orderNo),
    (answer) => answer.status === 'paid',
  );
  return paying;
}

/** What WeChat Pay would POST about a paid transaction: an encrypted resource, signed headers (`overrides` forge them). */
function notification(
  keys: SandboxKeys,
  transaction: { outTradeNo: string; orderNo: string; total: number; openid: string; transactionId?: string },
  overrides: WechatPayNotificationOverrides = {},
) {
  const resource = {
    appid: keys.appid,
    mchid: keys.mchid,
    out_trade_no: transaction.outTradeNo,
    transaction_id: transaction.transactionId ?? `4200${randomBytes(12).toString('hex').slice(0, 24)}`,
    trade_type: 'JSAPI',
    trade_state: 'SUCCESS',
    trade_state_desc: '支付成功',
    bank_type: 'OTHERS',
    attach: transaction.orderNo,
    success_time: new Date().toISOString().replace(/\.\d{3}Z$/, '+00:00'),
    payer: { openid: transaction.openid },
    amount: { total: transaction.total, payer_total: transaction.total, currency: 'CNY', payer_currency: 'CNY' },
  };
  return signedWechatPayNotification(
    keys,
    { eventType: 'TRANSACTION.SUCCESS', summary: '支付成功', resourceType: 'transaction', resource },
    overrides,
  );
}

function deliver(h: CheckoutHarness, message: { body: string; headers: Record<string, string> }, requestId?: string) {
  const request = h.api.post('/api/wechatpay/notify').set(message.headers);
  if (requestId) request.set('x-request-id', requestId);
  return request.send(message.body);
}

describe.each(STORAGES)('WeChat Pay checkout on $name', (storage) => {
  let database: TestDatabase;
  let h: CheckoutHarness;
  let keys: SandboxKeys;
  const written: string[] = [];

  beforeAll(async () => {
    database = await storage.open();
    // The poll and the sweeper may ask WeChat Pay about an order at once; refunds at every sweep.
    h = await startLoggedHarness(database.db, WECHATPAY, written);
    keys = await keysOf(h);
  });

  afterEach(() => clearWechatPayFaults(h));

  afterAll(async () => {
    await h?.close();
    await database?.dispose();
  });

  it('should answer a weapp shopper an RSA requestPayment signed by the merchant key, and take the payment from its notification once', async () => {
    const { token, order, bill, requestPayment } = await payingOrder(h);
    expect(bill.provider).toBe('wechatpay');
    expect(requestPayment).toEqual({
      timeStamp: expect.stringMatching(/^\d{10}$/),
      nonceStr: expect.any(String),
      package: expect.stringMatching(/^prepay_id=\S+$/),
      signType: 'RSA',
      paySign: expect.any(String),
    });
    const signed = `${keys.appid}\n${requestPayment.timeStamp}\n${requestPayment.nonceStr}\n${requestPayment.package}\n`;
    const verifies = (message: string) =>
      createVerify('RSA-SHA256')
        .update(message)
        .verify(createPublicKey(keys.merchantPublicKey), requestPayment.paySign, 'base64');
    expect(verifies(signed)).toBe(true);
    expect(verifies(signed.replace(requestPayment.nonceStr, `${requestPayment.nonceStr}x`))).toBe(false);
    expect(await transactionOf(h, bill.bill_no)).toMatchObject({ trade_state: 'NOTPAY' });

    await settle(h, bill.bill_no, 'paid').expect(200);
    await eventually(
      () => h.status(token, order.orderNo),
      (answer) => answer.status === 'paid',
    );
    const deliveries = await eventually(
      () => deliveriesOf(h, bill.bill_no),
      (attempts) => attempts.length > 0,
    );
    expect(deliveries).toEqual([
      expect.objectContaining({ event_type: 'TRANSACTION.SUCCESS', status: 204, body: '', ok: true }),
    ]);
    expect(await paymentsOf(h.services.database, order.orderNo)).toEqual([
      expect.objectContaining({ bill_no: bill.bill_no, source: 'webhook', disposition: 'applied' }),
    ]);
    // WeChat Pay sends it again: acknowledged, nothing more recorded.
    await h.sandbox.post(`/sandbox/wechatpay/transactions/${bill.bill_no}/settle`).send({ result: 'paid' }).expect(409);
    expect(await paymentsOf(h.services.database, order.orderNo)).toHaveLength(1);
    expect((await h.status(token, order.orderNo)).status).toBe('paid');
  });

  it('should refuse a forged, stale, unknown-serial or tampered notification in WeChat Pay’s words, log it, and leave the order unchanged', async () => {
    const { token, openid, order, bill } = await payingOrder(h);
    const paid = { outTradeNo: bill.bill_no, orderNo: order.orderNo, total: order.amount, openid };
    const forgeries: Array<[string, Parameters<typeof notification>[2], number]> = [
      ['bad-signature', { signingKey: keys.merchantPrivateKey }, 401],
      ['stale', { timestampS: Math.floor(Date.now() / 1000) - 600 }, 401],
      ['unknown-serial', { serial: 'PUB_KEY_ID_0000000000000000000000000000' }, 401],
      [
        'tampered',
        {
          tamper: (body) =>
            body.replace(/"ciphertext":"(.)/, (_m, first: string) => `"ciphertext":"${first === 'A' ? 'B' : 'A'}`),
        },
        401,
      ],
      ['no-headers', { serial: '' }, 401],
    ];
    for (const [name, forged, status] of forgeries) {
      const answer = await deliver(h, notification(keys, paid, forged), `wxpay-${name}`);
      expect({ name, status: answer.status, body: answer.body }).toEqual({
        name,
        status,
        body: { code: 'FAIL', message: expect.stringMatching(/^WEBHOOK_SIGNATURE_INVALID: /) },
      });
      expect(written.length).toBeGreaterThan(0);
      expectRefusedForSignature(written, `wxpay-${name}`);
    }
    const malformed = await h.api
      .post('/api/wechatpay/notify')
      .set('content-type', 'text/plain')
      .set(notification(keys, paid).headers)
      .send('{');
    expect(malformed.status).toBe(401);
    expect(malformed.body).toEqual({ code: 'FAIL', message: expect.any(String) });
    expect((await h.status(token, order.orderNo)).status).toBe('pending');
    expect(await paymentsOf(h.services.database, order.orderNo)).toEqual([]);

    // The same message, untouched, is taken: what refused the others was the forgery.
    const genuine = await deliver(h, notification(keys, paid));
    expect({ status: genuine.status, text: genuine.text }).toEqual({ status: 204, text: '' });
    expect(await paymentsOf(h.services.database, order.orderNo)).toHaveLength(1);
  });

  it('should refuse a verified notification about a bill never opened here with 404, and one of another merchant never act on', async () => {
    const { openid } = await h.login();
    const answer = await deliver(
      h,
      notification(keys, { outTradeNo: '20990101NOSUCHBILL0001', orderNo: 'X', total: 100, openid }),
    );
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual({ code: 'FAIL', message: expect.stringMatching(/^WEBHOOK_UNKNOWN_TRANSACTION: /) });
    const wrongMethod = await h.api.get('/api/wechatpay/notify');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.body).toEqual({ code: 'FAIL', message: expect.stringMatching(/^METHOD_NOT_ALLOWED: /) });
  });

  it('should find a payment whose notification was lost from the status poll, and from the sweeper', async () => {
    const polled = await payingOrder(h);
    const swept = await payingOrder(h);
    await settle(h, polled.bill.bill_no, 'paid', false).expect(200);
    await settle(h, swept.bill.bill_no, 'paid', false).expect(200);
    expect((await h.status(polled.token, polled.order.orderNo)).status).toBe('pending');
    // Past the grace a notification gets before WeChat Pay is asked.
    h.advanceClock(11_000);
    await eventually(
      () => h.status(polled.token, polled.order.orderNo),
      (answer) => answer.status === 'paid',
    );
    expect(await paymentsOf(h.services.database, polled.order.orderNo)).toEqual([
      expect.objectContaining({ source: 'query', disposition: 'applied' }),
    ]);

    await h.sweep();
    expect(await paymentsOf(h.services.database, swept.order.orderNo)).toEqual([
      expect.objectContaining({ source: 'query', disposition: 'applied' }),
    ]);
    expect((await h.status(swept.token, swept.order.orderNo)).status).toBe('paid');
    expect(await deliveriesOf(h, swept.bill.bill_no)).toEqual([]);
  });

  it('should refund through the merchant API, learning the outcome from WeChat Pay’s notification, or by query when it is lost', async () => {
    const { order, bill } = await paidOrder(h);
    const notified = await merchantRefund(h, order.orderNo, 100, 'wx-refund-1').expect(201);
    // The sandbox may notify before this answer is written: pending, or already succeeded.
    expect(notified.body.refund).toMatchObject({ status: expect.stringMatching(/^(pending|succeeded)$/), amount: 100 });
    // No sweep: only the REFUND.SUCCESS notification can finish it.
    const finished = await eventually(
      () => merchantOrder(h, order.orderNo),
      (view) => view.refunds[0]?.status !== 'pending',
    );
    expect(finished).toMatchObject({ status: 'paid', refundedAmount: 100 });
    expect(finished.refunds).toEqual([
      expect.objectContaining({ refundNo: notified.body.refund.refundNo, status: 'succeeded' }),
    ]);
    const refundsAtWechatPay = async () =>
      (await h.sandbox.get('/sandbox/wechatpay/refunds').query({ out_trade_no: bill.bill_no }).expect(200)).body
        .refunds;
    expect(await refundsAtWechatPay()).toEqual([
      expect.objectContaining({ out_refund_no: notified.body.refund.refundNo, status: 'SUCCESS' }),
    ]);
    const refundDeliveries = await h.sandbox
      .get(`/sandbox/wechatpay/refunds/${notified.body.refund.refundNo}/deliveries`)
      .expect(200);
    expect(refundDeliveries.body.deliveries).toEqual([expect.objectContaining({ status: 204, ok: true })]);

    await h.sandbox.post('/sandbox/wechatpay/refunds/hold').send({ count: 1 }).expect(201);
    const lost = await merchantRefund(h, order.orderNo, 200, 'wx-refund-2').expect(201);
    const refundNo: string = lost.body.refund.refundNo;
    await h.sandbox
      .post(`/sandbox/wechatpay/refunds/${refundNo}/settle`)
      .send({ result: 'success', notify: false })
      .expect(200);
    await h.sweep();
    const view = await merchantOrder(h, order.orderNo);
    expect(view.refunds).toContainEqual(expect.objectContaining({ refundNo, status: 'succeeded', amount: 200 }));
    expect(view.refundedAmount).toBe(300);
    const held = await h.sandbox.get(`/sandbox/wechatpay/refunds/${refundNo}/deliveries`).expect(200);
    expect(held.body.deliveries).toEqual([]);
  });

  it('should return a second payment of a paid order by itself, exactly once', async () => {
    const { token, order, bill: first } = await payingOrder(h);
    // WeChat Pay's query says, once, that it has no such order: the first bill is given up and
    // a second opened, though the first can still be paid.
    await h.sandbox
      .post('/sandbox/wechatpay/faults')
      .send({ operation: 'query', http_status: 404, code: 'ORDER_NOT_EXIST', message: '订单不存在', count: 1 })
      .expect(201);
    await h.pay(token, order.orderNo).expect(200);
    const bills = await billsOf(h.services.database, order.orderNo);
    expect(bills).toHaveLength(2);
    const second = bills.find((bill) => bill.bill_no !== first.bill_no)!;
    await settle(h, second.bill_no, 'paid').expect(200);
    await eventually(
      () => h.status(token, order.orderNo),
      (answer) => answer.status === 'paid',
    );
    await settle(h, first.bill_no, 'paid').expect(200);
    const returned = await eventually(
      async () => (await merchantOrder(h, order.orderNo)).refunds as Array<{ kind: string; status: string }>,
      (refunds) => refunds.some((candidate) => candidate.status === 'succeeded'),
    );
    expect(returned).toEqual([
      expect.objectContaining({ kind: 'duplicate', status: 'succeeded', amount: order.amount }),
    ]);
    // Its notification again, and sweeps: nothing more goes back.
    await h.sweep();
    await h.sweep();
    const atWechatPay = await h.sandbox
      .get('/sandbox/wechatpay/refunds')
      .query({ out_trade_no: first.bill_no })
      .expect(200);
    expect(atWechatPay.body.refunds).toEqual([
      expect.objectContaining({ status: 'SUCCESS', amount: expect.anything() }),
    ]);
    expect(await merchantOrder(h, order.orderNo)).toMatchObject({ status: 'paid', refundedAmount: 0 });
  });

  // Last: it moves the server's clock past the deadline.
  it('should close an unpaid WeChat Pay bill at the deadline and expire its order', async () => {
    const { token, order, bill } = await payingOrder(h);
    h.advanceClock(16 * 60 * 1000);
    await h.sweep();
    expect(await transactionOf(h, bill.bill_no)).toMatchObject({ trade_state: 'CLOSED' });
    expect((await h.status(token, order.orderNo)).status).toBe('expired');
    await settle(h, bill.bill_no, 'paid').expect(409);
  });
});

describe('switching WEAPP_PAYMENT_PROVIDER', () => {
  it('should still find a bill opened at the gateway paid there after the switch to WeChat Pay, and one opened at WeChat Pay after the switch back', async () => {
    const database = await STORAGES[0].open();
    const dataDir = mkdtempSync(join(tmpdir(), 'wxpay-switch-'));
    const start = (env: Record<string, string>) =>
      startHarness(database.db, { env, sandbox: { dataDir }, settings: { gatewayCheckIntervalMs: 0 } });
    let h = await start({ WEAPP_PAYMENT_PROVIDER: 'gateway' });
    try {
      const { token, order } = await (async () => {
        const session = await h.login();
        const created = await h.createOrder(session.token);
        await h.pay(session.token, created.orderNo).expect(200);
        return { token: session.token, order: created };
      })();
      const [atGateway] = await billsOf(h.services.database, order.orderNo);
      expect(atGateway.provider).toBe('gateway');
      await h.close();

      h = await start(WECHATPAY);
      // Paid at the gateway with its webhook lost (the old server's address is gone anyway).
      await h.settle(atGateway.bill_no, 'paid', false).expect(200);
      h.advanceClock(11_000);
      await h.sweep();
      expect((await h.status(token, order.orderNo)).status).toBe('paid');
      expect(await paymentsOf(h.services.database, order.orderNo)).toEqual([
        expect.objectContaining({ bill_no: atGateway.bill_no, source: 'query' }),
      ]);
      const wechatpay = await payingOrder(h);
      expect(wechatpay.bill.provider).toBe('wechatpay');
      await h.close();

      h = await start({ WEAPP_PAYMENT_PROVIDER: 'gateway' });
      await settle(h, wechatpay.bill.bill_no, 'paid', false).expect(200);
      // The previous server's clock was 11 s ahead when the bill was opened.
      h.advanceClock(30_000);
      await h.sweep();
      expect((await h.status(wechatpay.token, wechatpay.order.orderNo)).status).toBe('paid');
      expect(await paymentsOf(h.services.database, wechatpay.order.orderNo)).toEqual([
        expect.objectContaining({ bill_no: wechatpay.bill.bill_no, source: 'query' }),
      ]);
    } finally {
      await h.close();
      await database.dispose();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describePostgres('two instances sharing one WeChat Pay', () => {
  it('should record one payment from the same notification delivered to both at once', async () => {
    const database = await STORAGES[1].open();
    const first = await startHarness(database.db, { env: WECHATPAY });
    const directory = mkdtempSync(join(tmpdir(), 'wxpay-two-'));
    let second: CheckoutHarness | undefined;
    try {
      const keys = await keysOf(first);
      writeFileSync(join(directory, 'apiclient_key.pem'), keys.merchantPrivateKey);
      writeFileSync(join(directory, 'pub_key.pem'), keys.platformPublicKey);
      // The second instance is configured as a real merchant would be, at the first one's sandbox.
      second = await startHarness(await database.openAnother(), {
        env: {
          ...WECHATPAY,
          WECHATPAY_BASE_URL: first.services.sandboxUrl!,
          WECHATPAY_MCHID: keys.mchid,
          WECHATPAY_SERIAL_NO: keys.serialNo,
          WECHATPAY_PRIVATE_KEY_FILE: join(directory, 'apiclient_key.pem'),
          WECHATPAY_APIV3_KEY: keys.apiV3Key,
          WECHATPAY_PUBLIC_KEY_ID: keys.platformPublicKeyId,
          WECHATPAY_PUBLIC_KEY_FILE: join(directory, 'pub_key.pem'),
        },
      });
      const { openid, order, bill } = await payingOrder(first);
      await settle(first, bill.bill_no, 'paid', false).expect(200);
      const transaction = await transactionOf(first, bill.bill_no);
      const message = notification(keys, {
        outTradeNo: bill.bill_no,
        orderNo: order.orderNo,
        total: order.amount,
        openid,
        transactionId: transaction.transaction_id!,
      });
      const answers = await Promise.all([deliver(first, message), deliver(second, message)]);
      expect(answers.map((answer) => answer.status)).toEqual([204, 204]);
      expect(await paymentsOf(first.services.database, order.orderNo)).toEqual([
        expect.objectContaining({ bill_no: bill.bill_no, source: 'webhook', disposition: 'applied' }),
      ]);
    } finally {
      await second?.close();
      await first.close();
      await database.dispose();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('a prepay_id past its two hours', () => {
  it('should not be handed out again: its bill is closed at WeChat Pay and a new one opened', async () => {
    const database = await STORAGES[0].open();
    const h = await startHarness(database.db, {
      env: { ...WECHATPAY, ORDER_TTL_SECONDS: '10800' },
      settings: { gatewayCheckIntervalMs: 0 },
    });
    try {
      const { openid, order, bill, requestPayment } = await payingOrder(h);
      // Within its validity the same parameters come back (a session lasts less: the shopper logs in again).
      h.advanceClock(60 * 60 * 1000);
      let { token } = await h.login(openid);
      expect((await h.pay(token, order.orderNo).expect(200)).body.requestPayment.package).toBe(requestPayment.package);
      // "JSAPI下单": valid two hours. Past that (less the margin kept back), a fresh prepay.
      h.advanceClock(60 * 60 * 1000);
      ({ token } = await h.login(openid));
      const fresh = await h.pay(token, order.orderNo).expect(200);
      expect(fresh.body.requestPayment.package).not.toBe(requestPayment.package);
      expect(await transactionOf(h, bill.bill_no)).toMatchObject({ trade_state: 'CLOSED' });
      const bills = await billsOf(h.services.database, order.orderNo);
      expect(bills).toHaveLength(2);
      const second = bills.find((candidate) => candidate.bill_no !== bill.bill_no)!;
      await settle(h, second.bill_no, 'paid').expect(200);
      await eventually(
        () => h.status(token, order.orderNo),
        (answer) => answer.status === 'paid',
      );
    } finally {
      await h.close();
      await database.dispose();
    }
  });
});
