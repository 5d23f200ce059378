import { createSign, randomBytes } from 'node:crypto';
import type { Database } from '../../server/adapters/storage/database';
import { CheckoutHarness, eventually } from '../support/checkout-harness';
import { STORAGES, TestDatabase } from '../support/databases';
import { logLines, sample } from '../support/observability';
import {
  merchantOrder,
  merchantRefund,
  startLoggedHarness,
  clearWechatPayFaults,
  signedWechatPayNotification,
} from '../support/provider-checkout';

/**
 * WeChat Pay refunds whose request got no definite answer, the provider on every payment and
 * refund count and line, and the notifications that verify but must not be applied — through the
 * real server and the real WeChat Pay sandbox (WEAPP_PAYMENT_PROVIDER=wechatpay), faults injected
 * at the sandbox.
 */

interface SandboxKeys {
  mchid: string;
  appid: string;
  apiV3Key: string;
  platformPrivateKey: string;
  platformPublicKeyId: string;
}

interface SandboxRefund {
  out_refund_no: string;
  out_trade_no: string;
  status: string;
  amount: { refund: number; total: number };
}

/** What WeChat Pay would POST: `resource` encrypted with the APIv3 key, the body signed with the 微信支付公钥's key. */
function signedNotification(keys: SandboxKeys, eventType: string, resourceType: string, resource: object) {
  return signedWechatPayNotification(keys, { eventType, summary: eventType, resourceType, resource });
}

describe('WeChat Pay refunds, notifications and their counts, end to end', () => {
  let database: TestDatabase;
  let h: CheckoutHarness;
  let keys: SandboxKeys;
  const written: string[] = [];
  let keyCount = 0;

  beforeAll(async () => {
    database = await STORAGES[0].open();
    // Pending refunds are asked about at every sweep; the grace after which a refund nobody has
    // heard of counts as never arrived is the default minute.
    h = await startLoggedHarness(database.db, { WEAPP_PAYMENT_PROVIDER: 'wechatpay' }, written);
    keys = (await h.sandbox.get('/sandbox/wechatpay/keys').expect(200)).body;
  });

  afterEach(() => clearWechatPayFaults(h));

  afterAll(async () => {
    await h?.close();
    await database?.dispose();
  });

  const db = (): Database => h.services.database;
  const fault = (body: Record<string, unknown>) => h.sandbox.post('/sandbox/wechatpay/faults').send(body).expect(201);

  async function paidOrder() {
    const { token, openid } = await h.login();
    const order = await h.createOrder(token);
    await h.pay(token, order.orderNo).expect(200);
    const { rows } = await db().query<{ bill_no: string }>('SELECT bill_no FROM bills WHERE order_no = $1', [
      order.orderNo,
    ]);
    const billNo = rows[0].bill_no;
    await h.sandbox.post(`/sandbox/wechatpay/transactions/${billNo}/settle`).send({ result: 'paid' }).expect(200);
    await eventually(
      () => h.status(token, order.orderNo),
      (answer) => answer.status === 'paid',
    );
    return { token, openid, order, billNo };
  }

  function refund(orderNo: string, amount: number) {
    keyCount += 1;
    return merchantRefund(h, orderNo, amount, `wx-retry-${keyCount}`).expect(201);
  }

  async function refundsAtWechatPay(billNo: string): Promise<SandboxRefund[]> {
    return (await h.sandbox.get('/sandbox/wechatpay/refunds').query({ out_trade_no: billNo }).expect(200)).body.refunds;
  }

  async function refundOf(orderNo: string, refundNo: string) {
    const order = await merchantOrder(h, orderNo);
    return order.refunds.find((candidate: { refundNo: string }) => candidate.refundNo === refundNo);
  }

  function deliver(message: { body: string; headers: Record<string, string | string[]> }) {
    return h.api.post('/api/wechatpay/notify').set(message.headers).send(message.body);
  }

  async function unmatched(reference: string) {
    const { rows } = await db().query<{ transaction_type: string; amount: string; reason: string }>(
      `SELECT transaction_type, amount, reason FROM unmatched_gateway_messages
        WHERE provider = 'wechatpay' AND transaction_id = $1`,
      [reference],
    );
    return rows;
  }

  const scrape = async () => (await h.api.get('/metrics').expect(200)).text;

  describe('a refund whose request got no definite answer', () => {
    it('should stay pending after a signed 500 SYSTEM_ERROR, and be sent again unchanged after the grace until WeChat Pay takes it', async () => {
      const { order, billNo } = await paidOrder();
      await fault({ operation: 'refund', http_status: 500, code: 'SYSTEM_ERROR', message: '系统超时' });
      const created = await refund(order.orderNo, 300);
      const refundNo: string = created.body.refund.refundNo;
      expect(created.body.refund).toMatchObject({ status: 'pending', amount: 300 });
      expect(await refundsAtWechatPay(billNo)).toEqual([]);

      // A minute on, WeChat Pay still has no such refund: it is sent again, not given up.
      h.advanceClock(61_000);
      await h.sweep();
      const refunds = await refundsAtWechatPay(billNo);
      expect(refunds).toEqual([
        expect.objectContaining({
          out_refund_no: refundNo,
          out_trade_no: billNo,
          amount: expect.objectContaining({ refund: 300 }),
        }),
      ]);
      const finished = await eventually(
        () => refundOf(order.orderNo, refundNo),
        (view) => view?.status !== 'pending',
      );
      expect(finished).toMatchObject({ refundNo, status: 'succeeded', amount: 300 });
      expect((await h.sweep(), await refundsAtWechatPay(billNo))).toHaveLength(1);
    });

    it('should keep sending the same request while WeChat Pay cannot be heard or asks to wait, and refund it once', async () => {
      const { order, billNo } = await paidOrder();
      // No answer at all (an unsigned 502 from a proxy), then WeChat's own 500, then a signed 429.
      await fault({ operation: 'refund', http_status: 502, signed: false });
      const created = await refund(order.orderNo, 200);
      const refundNo: string = created.body.refund.refundNo;
      await fault({ operation: 'refund', http_status: 500 });
      await fault({ operation: 'refund', http_status: 429, code: 'FREQUENCY_LIMITED', message: '频率限制' });
      for (let sweep = 0; sweep < 2; sweep += 1) {
        h.advanceClock(61_000);
        await h.sweep();
        expect(await refundOf(order.orderNo, refundNo)).toMatchObject({ status: 'pending' });
        expect(await refundsAtWechatPay(billNo)).toEqual([]);
      }
      h.advanceClock(61_000);
      await h.sweep();
      const finished = await eventually(
        () => refundOf(order.orderNo, refundNo),
        (view) => view?.status !== 'pending',
      );
      expect(finished).toMatchObject({ refundNo, status: 'succeeded', amount: 200 });
      expect(await refundsAtWechatPay(billNo)).toEqual([
        expect.objectContaining({ out_refund_no: refundNo, amount: expect.objectContaining({ refund: 200 }) }),
      ]);
    });

    it('should settle by query, never send again, one WeChat Pay made before its 500, and fail one a resend is refused', async () => {
      const { order, billNo } = await paidOrder();
      await h.sandbox.post('/sandbox/wechatpay/refunds/hold').send({ count: 1 }).expect(201);
      await fault({ operation: 'refund', http_status: 500, after: true });
      const made = (await refund(order.orderNo, 100)).body.refund.refundNo as string;
      h.advanceClock(61_000);
      await h.sweep();
      expect(await refundOf(order.orderNo, made)).toMatchObject({ status: 'pending' });
      expect(await refundsAtWechatPay(billNo)).toEqual([
        expect.objectContaining({ out_refund_no: made, status: 'PROCESSING' }),
      ]);

      await fault({ operation: 'refund', http_status: 500 });
      const refused = (await refund(order.orderNo, 150)).body.refund.refundNo as string;
      await fault({ operation: 'refund', http_status: 400, code: 'INVALID_REQUEST', message: '退款请求失败' });
      await h.sweep();
      expect(await refundOf(order.orderNo, refused)).toMatchObject({
        status: 'failed',
        failureReason: expect.stringMatching(/INVALID_REQUEST/),
      });
      expect((await refundsAtWechatPay(billNo)).map((one) => one.out_refund_no)).toEqual([made]);
    });
  });

  describe('counts and lines', () => {
    it('should count a WeChat Pay 500 as unavailable for every operation, and name the provider of each payment and refund', async () => {
      const before = await scrape();
      const { order, billNo } = await paidOrder();
      await fault({ operation: 'refund', http_status: 500 });
      const refundNo = (await refund(order.orderNo, 100)).body.refund.refundNo as string;
      await h.sweep();
      await eventually(
        () => refundOf(order.orderNo, refundNo),
        (view) => view?.status === 'succeeded',
      );
      await fault({ operation: 'query', http_status: 500 });
      const { token } = await h.login();
      const pending = await h.createOrder(token);
      await h.pay(token, pending.orderNo).expect(200);
      // Past the grace for its notification: the sweep asks WeChat Pay about the open bill.
      h.advanceClock(11_000);
      await h.sweep();
      const after = await scrape();
      const added = (name: string, labels: Record<string, string>) =>
        sample(after, name, labels) - sample(before, name, labels);
      const upstream = (operation: string, outcome: string) =>
        added('checkout_upstream_request_duration_seconds_count', { upstream: 'wechatpay', operation, outcome });

      expect(upstream('create_refund', 'unavailable')).toBe(1);
      expect(upstream('query_bill', 'unavailable')).toBeGreaterThanOrEqual(1);
      expect(upstream('create_refund', 'failed') + upstream('query_bill', 'failed')).toBe(0);
      expect(added('checkout_bills_opened_total', { provider: 'wechatpay', channel: 'WX_MINI' })).toBe(2);
      expect(
        added('checkout_payments_recorded_total', { provider: 'wechatpay', disposition: 'applied', source: 'webhook' }),
      ).toBe(1);
      expect(added('checkout_refunds_total', { provider: 'wechatpay', kind: 'merchant', outcome: 'succeeded' })).toBe(
        1,
      );
      expect(sample(after, 'checkout_payments_recorded_total', { provider: 'gateway' })).toBe(0);

      const lines = logLines(written);
      expect(lines).toContainEqual(
        expect.objectContaining({ event: 'payment.recorded', billNo, provider: 'wechatpay', disposition: 'applied' }),
      );
      expect(lines).toContainEqual(expect.objectContaining({ event: 'bill.opened', billNo, provider: 'wechatpay' }));
      for (const event of ['refund.requested', 'refund.succeeded']) {
        expect(lines).toContainEqual(expect.objectContaining({ event, refundNo, provider: 'wechatpay' }));
      }
    });
  });

  describe('notifications that verify but must not be applied', () => {
    it('should refuse a notification with two Wechatpay-Signature headers, even when one of them is genuine', async () => {
      const { token, openid } = await h.login();
      const order = await h.createOrder(token);
      await h.pay(token, order.orderNo).expect(200);
      const { rows } = await db().query<{ bill_no: string; amount: string }>(
        'SELECT bill_no, amount FROM bills WHERE order_no = $1',
        [order.orderNo],
      );
      const genuine = signedNotification(keys, 'TRANSACTION.SUCCESS', 'transaction', {
        appid: keys.appid,
        mchid: keys.mchid,
        out_trade_no: rows[0].bill_no,
        transaction_id: `4200${randomBytes(12).toString('hex')}`,
        trade_type: 'JSAPI',
        trade_state: 'SUCCESS',
        payer: { openid },
        amount: { total: Number(rows[0].amount), payer_total: Number(rows[0].amount), currency: 'CNY' },
      });
      const forged = createSign('RSA-SHA256').update('something else\n').sign(keys.platformPrivateKey, 'base64');
      for (const name of [
        'wechatpay-signature',
        'wechatpay-timestamp',
        'wechatpay-nonce',
        'wechatpay-serial',
      ] as const) {
        const other = name === 'wechatpay-signature' ? forged : genuine.headers[name];
        const answer = await deliver({
          ...genuine,
          headers: { ...genuine.headers, [name]: [genuine.headers[name], other] },
        });
        expect(answer.status).toBe(401);
        expect(answer.body).toMatchObject({
          code: 'FAIL',
          message: expect.stringMatching(/^WEBHOOK_SIGNATURE_INVALID: more than one Wechatpay-/),
        });
      }
      // Both in one header line, as a proxy folding them would send.
      const folded = await deliver({
        ...genuine,
        headers: { ...genuine.headers, 'wechatpay-signature': `${genuine.headers['wechatpay-signature']}, ${forged}` },
      });
      expect(folded.status).toBe(401);
      expect((await h.status(token, order.orderNo)).status).toBe('pending');

      await deliver(genuine).expect(204);
      expect((await h.status(token, order.orderNo)).status).toBe('paid');
    });

    it('should keep for review, never record, a TRANSACTION.SUCCESS in another currency than CNY', async () => {
      const { token, openid } = await h.login();
      const order = await h.createOrder(token);
      await h.pay(token, order.orderNo).expect(200);
      const { rows } = await db().query<{ bill_no: string; amount: string }>(
        'SELECT bill_no, amount FROM bills WHERE order_no = $1',
        [order.orderNo],
      );
      const paid = (currency: string) =>
        signedNotification(keys, 'TRANSACTION.SUCCESS', 'transaction', {
          appid: keys.appid,
          mchid: keys.mchid,
          out_trade_no: rows[0].bill_no,
          transaction_id: `4200${randomBytes(12).toString('hex')}`,
          trade_type: 'JSAPI',
          trade_state: 'SUCCESS',
          payer: { openid },
          amount: { total: Number(rows[0].amount), payer_total: Number(rows[0].amount), currency },
        });
      await deliver(paid('USD')).expect(204);
      expect((await h.status(token, order.orderNo)).status).toBe('pending');
      const { rows: payments } = await db().query('SELECT 1 FROM payments WHERE order_no = $1', [order.orderNo]);
      expect(payments).toEqual([]);
      expect(await unmatched(rows[0].bill_no)).toEqual([
        expect.objectContaining({ transaction_type: 'TRANSACTION.SUCCESS', reason: expect.stringMatching(/USD/) }),
      ]);

      await deliver(paid('CNY')).expect(204);
      expect((await h.status(token, order.orderNo)).status).toBe('paid');
    });

    it('should keep for review, never apply, a REFUND.SUCCESS that names another bill or currency than the refund’s', async () => {
      const { order, billNo } = await paidOrder();
      const other = await paidOrder();
      await h.sandbox.post('/sandbox/wechatpay/refunds/hold').send({ count: 1 }).expect(201);
      const refundNo = (await refund(order.orderNo, 400)).body.refund.refundNo as string;
      const [atWechatPay] = await refundsAtWechatPay(billNo);
      const refunded = (outTradeNo: string, currency: string) =>
        signedNotification(keys, 'REFUND.SUCCESS', 'refund', {
          mchid: keys.mchid,
          out_trade_no: outTradeNo,
          transaction_id: `4200${randomBytes(12).toString('hex')}`,
          out_refund_no: refundNo,
          refund_id: `5030${randomBytes(12).toString('hex')}`,
          refund_status: 'SUCCESS',
          success_time: new Date().toISOString().replace(/\.\d{3}Z$/, '+08:00'),
          user_received_account: '支付用户零钱',
          amount: {
            total: atWechatPay.amount.total,
            refund: 400,
            payer_total: atWechatPay.amount.total,
            payer_refund: 400,
            currency,
          },
        });

      await deliver(refunded(other.billNo, 'CNY')).expect(204);
      await deliver(refunded(billNo, 'HKD')).expect(204);
      expect(await refundOf(order.orderNo, refundNo)).toMatchObject({ status: 'pending' });
      expect(await unmatched(refundNo)).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ transaction_type: 'REFUND', reason: expect.stringContaining(other.billNo) }),
          expect.objectContaining({ transaction_type: 'REFUND.SUCCESS', reason: expect.stringMatching(/HKD/) }),
        ]),
      );

      // The true notification is not taken for a copy of the one kept for review.
      await h.sandbox
        .post(`/sandbox/wechatpay/refunds/${refundNo}/settle`)
        .send({ result: 'success', notify: true })
        .expect(200);
      const finished = await eventually(
        () => refundOf(order.orderNo, refundNo),
        (view) => view?.status !== 'pending',
      );
      expect(finished).toMatchObject({ status: 'succeeded', amount: 400 });
    });
  });
});
