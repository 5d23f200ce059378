import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEVELOPMENT_SECRETS } from '../../server/config';
import { CheckoutHarness, eventually, startHarness } from '../support/checkout-harness';
import { STORAGES, TestDatabase } from '../support/databases';
import {
  merchantOrder,
  merchantRefund,
  settleDouyinOrder,
  startLoggedHarness,
  ttLogin,
  billsOf,
  paymentsOf,
  expectRefusedForSignature,
} from '../support/provider-checkout';

/**
 * A Douyin mini-program checkout paid through 担保支付 (TT_PAYMENT_PROVIDER=guaranteed), through
 * our real server and the sandbox's emulated 担保支付, with no other setting: the pay answer
 * (`tt.pay` service 5), the shopper paying with the order_token, the signed callback at
 * /api/douyin/ecpay/notify, forged ones, a lost callback found by the poll and the sweeper,
 * refunds through the merchant API, and a switch back to the cashier.
 */

const GUARANTEED = { TT_PAYMENT_PROVIDER: 'guaranteed' };
const NOTIFY = '/api/douyin/ecpay/notify';

interface SandboxKeys {
  salt: string;
  token: string;
}

/** A Douyin shopper's order after tapping Pay: the pay answer and its bill. */
async function payingOrder(h: CheckoutHarness) {
  const token = await ttLogin(h);
  const order = await h.createOrder(token);
  const paid = await h.api
    .post(`/api/orders/${order.orderNo}/pay`)
    .set('authorization', `Bearer ${token}`)
    .send({ platform: 'tt' })
    .expect(200);
  const [bill] = await billsOf(h.services.database, order.orderNo);
  return { token, order, bill, answer: paid.body as { orderInfo: { order_id: string; order_token: string } } };
}

function payAsShopper(h: CheckoutHarness, orderInfo: { order_id: string; order_token: string }) {
  return h.sandbox.post('/sandbox/douyin/guaranteed/pay').send(orderInfo);
}

/** A callback as Douyin sends it, signed with `token` (`tamper` changes it after signing). */
function callback(
  token: string,
  msg: Record<string, unknown>,
  options: { type?: string; timestampS?: number; tamper?: (msg: string) => string } = {},
) {
  const text = JSON.stringify(msg);
  const timestamp = String(options.timestampS ?? Math.floor(Date.now() / 1000));
  const nonce = randomBytes(4).toString('hex');
  const signature = createHash('sha1').update([token, timestamp, nonce, text].sort().join('')).digest('hex');
  return JSON.stringify({
    timestamp,
    nonce,
    msg: options.tamper ? options.tamper(text) : text,
    type: options.type ?? 'payment',
    msg_signature: signature,
  });
}

function paymentMsg(billNo: string, amount: number) {
  return {
    appid: DEVELOPMENT_SECRETS.douyinAppId,
    cp_orderno: billNo,
    cp_extra: '',
    way: '1',
    total_amount: amount,
    status: 'SUCCESS',
    paid_at: Math.floor(Date.now() / 1000),
    order_id: '7000000000000000001',
  };
}

describe.each(STORAGES)('Douyin 担保支付 checkout on $name', (storage) => {
  let database: TestDatabase;
  let h: CheckoutHarness;
  let keys: SandboxKeys;
  const written: string[] = [];

  beforeAll(async () => {
    database = await storage.open();
    h = await startLoggedHarness(database.db, GUARANTEED, written);
    keys = (await h.sandbox.get('/sandbox/douyin/keys').expect(200)).body;
  });

  afterAll(async () => {
    await h?.close();
    await database?.dispose();
  });

  it("should answer tt.pay's service 5 with the pre-order's order_id and order_token, and take the payment from its signed callback", async () => {
    expect(h.services.paymentRoutes.TT_MINI).toBe('douyin_guaranteed');
    const { token, order, bill, answer } = await payingOrder(h);
    expect(answer).toEqual({
      platform: 'tt',
      service: 5,
      orderInfo: { order_id: expect.stringMatching(/^\d{19}$/), order_token: expect.any(String) },
    });
    expect(bill).toMatchObject({ provider: 'douyin_guaranteed', channel: 'TT_MINI' });
    const listed = await h.sandbox.get('/sandbox/douyin/orders').expect(200);
    expect(listed.body.orders).toContainEqual({
      system: 'guaranteed',
      outOrderNo: bill.bill_no,
      orderId: answer.orderInfo.order_id,
      totalAmount: order.amount,
      status: 'pending',
    });

    await payAsShopper(h, answer.orderInfo).expect(200);
    await eventually(
      () => h.status(token, order.orderNo),
      (status) => status.status === 'paid',
    );
    expect(await paymentsOf(h.services.database, order.orderNo)).toEqual([
      { bill_no: bill.bill_no, source: 'webhook', disposition: 'applied', amount: order.amount },
    ]);
    // The same callback again is acknowledged and changes nothing.
    const again = await h.api
      .post(NOTIFY)
      .set('content-type', 'application/json')
      .send(callback(keys.token, paymentMsg(bill.bill_no, order.amount)));
    expect({ status: again.status, body: again.body }).toEqual({
      status: 200,
      body: { err_no: 0, err_tips: 'success' },
    });
    expect(await paymentsOf(h.services.database, order.orderNo)).toHaveLength(1);
  });

  it('should refuse a callback with a wrong signature, a stale timestamp or a tampered msg in Douyin’s words, log it, and leave the order unchanged', async () => {
    const { token, order, bill } = await payingOrder(h);
    const msg = paymentMsg(bill.bill_no, order.amount);
    const forgeries: Array<[string, string]> = [
      ['wrong-signature', callback('not-the-token', msg)],
      ['stale', callback(keys.token, msg, { timestampS: Math.floor(Date.now() / 1000) - 600 })],
      [
        'tampered',
        callback(keys.token, msg, {
          tamper: (text) => text.replace(`"total_amount":${order.amount}`, '"total_amount":1'),
        }),
      ],
    ];
    for (const [name, body] of forgeries) {
      const refused = await h.api
        .post(NOTIFY)
        .set('content-type', 'application/json')
        .set('x-request-id', `ecpay-${name}`)
        .send(body);
      expect({ name, status: refused.status, body: refused.body }).toEqual({
        name,
        status: 401,
        body: { err_no: 1, err_tips: expect.stringMatching(/^WEBHOOK_SIGNATURE_INVALID: /) },
      });
      expectRefusedForSignature(written, `ecpay-${name}`);
    }
    expect((await h.status(token, order.orderNo)).status).toBe('pending');
    expect(await paymentsOf(h.services.database, order.orderNo)).toEqual([]);

    const unknown = await h.api
      .post(NOTIFY)
      .set('content-type', 'application/json')
      .send(callback(keys.token, paymentMsg('20990101NOSUCHBILL0001', 100)));
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ err_no: 1, err_tips: expect.stringMatching(/^WEBHOOK_UNKNOWN_TRANSACTION: /) });

    const genuine = await h.api.post(NOTIFY).set('content-type', 'application/json').send(callback(keys.token, msg));
    expect(genuine.body).toEqual({ err_no: 0, err_tips: 'success' });
    expect((await h.status(token, order.orderNo)).status).toBe('paid');
  });

  it('should find a payment whose callback was lost from the status poll, and from the sweeper', async () => {
    const polled = await payingOrder(h);
    const swept = await payingOrder(h);
    await settleDouyinOrder(h, polled.bill.bill_no, 'paid', false).expect(200);
    await settleDouyinOrder(h, swept.bill.bill_no, 'paid', false).expect(200);
    expect((await h.status(polled.token, polled.order.orderNo)).status).toBe('pending');
    h.advanceClock(11_000);
    await eventually(
      () => h.status(polled.token, polled.order.orderNo),
      (status) => status.status === 'paid',
    );
    expect(await paymentsOf(h.services.database, polled.order.orderNo)).toEqual([
      expect.objectContaining({ source: 'query', disposition: 'applied' }),
    ]);
    await h.sweep();
    expect(await paymentsOf(h.services.database, swept.order.orderNo)).toEqual([
      expect.objectContaining({ source: 'query', disposition: 'applied' }),
    ]);
  });

  it('should refund through the merchant API and learn the outcome from the refund callback', async () => {
    const { token, order, answer } = await payingOrder(h);
    await payAsShopper(h, answer.orderInfo).expect(200);
    await eventually(
      () => h.status(token, order.orderNo),
      (status) => status.status === 'paid',
    );
    const refund = await merchantRefund(h, order.orderNo, 100, `ecpay-refund-${order.orderNo}`).expect(201);
    // The sandbox refunds at once: its callback may be taken before this answer is written.
    expect(refund.body.refund).toMatchObject({ status: expect.stringMatching(/^(pending|succeeded)$/), amount: 100 });
    // No sweep: only the refund callback can finish it.
    const view = await eventually(
      () => merchantOrder(h, order.orderNo),
      (current) => current.refunds[0]?.status !== 'pending',
    );
    expect(view).toMatchObject({ status: 'paid', refundedAmount: 100 });
    expect(view.refunds).toEqual([
      expect.objectContaining({ refundNo: refund.body.refund.refundNo, status: 'succeeded' }),
    ]);
  });
});

describe('switching TT_PAYMENT_PROVIDER back to the cashier', () => {
  it('should still find a 担保支付 bill paid after the switch, and open the cashier legs for new orders', async () => {
    const database = await STORAGES[0].open();
    const dataDir = mkdtempSync(join(tmpdir(), 'ecpay-switch-'));
    const start = (env: Record<string, string>) =>
      startHarness(database.db, { env, sandbox: { dataDir }, settings: { gatewayCheckIntervalMs: 0 } });
    let h = await start(GUARANTEED);
    try {
      const paying = await payingOrder(h);
      expect(paying.bill.provider).toBe('douyin_guaranteed');
      await h.close();

      h = await start({});
      expect(h.services.paymentRoutes.TT_MINI).toBeUndefined();
      await settleDouyinOrder(h, paying.bill.bill_no, 'paid', false).expect(200);
      h.advanceClock(11_000);
      await h.sweep();
      expect((await h.status(paying.token, paying.order.orderNo)).status).toBe('paid');
      expect(await paymentsOf(h.services.database, paying.order.orderNo)).toEqual([
        expect.objectContaining({ bill_no: paying.bill.bill_no, source: 'query' }),
      ]);
      const token = await ttLogin(h);
      const order = await h.createOrder(token);
      const cashier = await h.api
        .post(`/api/orders/${order.orderNo}/pay`)
        .set('authorization', `Bearer ${token}`)
        .send({ platform: 'tt' })
        .expect(200);
      expect(cashier.body).toMatchObject({ platform: 'tt', service: 1 });
    } finally {
      await h.close();
      await database.dispose();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('should hand out the bill still payable from before a switch, either way, so an order never has two payable bills', async () => {
    const database = await STORAGES[0].open();
    const dataDir = mkdtempSync(join(tmpdir(), 'ecpay-switch-open-'));
    const start = (env: Record<string, string>) =>
      startHarness(database.db, { env, sandbox: { dataDir }, settings: { gatewayCheckIntervalMs: 0 } });
    const payAgain = (h: CheckoutHarness, token: string, orderNo: string) =>
      h.api.post(`/api/orders/${orderNo}/pay`).set('authorization', `Bearer ${token}`).send({ platform: 'tt' });
    let h = await start(GUARANTEED);
    try {
      // 担保支付 → cashier: the 担保支付 order is still payable, so it is handed out again.
      const paying = await payingOrder(h);
      await h.close();
      h = await start({});
      const again = await payAgain(h, paying.token, paying.order.orderNo).expect(200);
      expect(again.body).toEqual({ platform: 'tt', service: 5, orderInfo: paying.answer.orderInfo });
      expect(await billsOf(h.services.database, paying.order.orderNo)).toHaveLength(1);
      // Closed at Douyin: the cashier takes over.
      await settleDouyinOrder(h, paying.bill.bill_no, 'closed', false).expect(200);
      const cashier = await payAgain(h, paying.token, paying.order.orderNo).expect(200);
      expect(cashier.body).toMatchObject({ platform: 'tt', service: 1 });

      // cashier → 担保支付: the cashier's legs are still payable, so the cashier is answered again.
      const token = await ttLogin(h);
      const order = await h.createOrder(token);
      await payAgain(h, token, order.orderNo).expect(200);
      const legs = await billsOf(h.services.database, order.orderNo);
      await h.close();
      h = await start(GUARANTEED);
      const stillCashier = await payAgain(h, token, order.orderNo).expect(200);
      expect(stillCashier.body).toMatchObject({ platform: 'tt', service: 1 });
      expect(await billsOf(h.services.database, order.orderNo)).toHaveLength(legs.length);
    } finally {
      await h.close();
      await database.dispose();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
