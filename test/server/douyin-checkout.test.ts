import { createHash } from 'node:crypto';
import { CheckoutHarness, startHarness } from '../support/checkout-harness';
import { STORAGES, TestDatabase } from '../support/databases';

const PAY_SECRET = 'douyin-pay-secret-for-tests';
const PAY_APP_ID = '800000000042';
const MERCHANT_ID = '1900000042';

/** Douyin's documented rule, written out here independently of the server's signer. */
function douyinSign(orderInfo: Record<string, unknown>, secret: string): string {
  const text = Object.keys(orderInfo)
    .filter((key) => key !== 'sign' && key !== 'risk_info' && orderInfo[key] !== '' && orderInfo[key] !== undefined)
    .sort()
    .map((key) => `${key}=${String(orderInfo[key])}`)
    .join('&');
  return createHash('md5')
    .update(text + secret)
    .digest('hex');
}

describe.each(STORAGES)('Douyin checkout on $name', (storage) => {
  let database: TestDatabase;
  let h: CheckoutHarness;

  beforeAll(async () => {
    database = await storage.open();
    h = await startHarness(database.db, {
      env: { DOUYIN_PAY_SECRET: PAY_SECRET, DOUYIN_PAY_APP_ID: PAY_APP_ID, DOUYIN_MERCHANT_ID: MERCHANT_ID },
    });
  });

  afterAll(async () => {
    await h?.close();
    await database?.dispose();
  });

  const auth = (token: string) => ({ authorization: `Bearer ${token}` });

  async function ttLogin() {
    const minted = await h.sandbox.post('/sandbox/douyin/codes').send({}).expect(201);
    const session = await h.api
      .post('/api/session')
      .send({ platform: 'tt', code: minted.body.code, anonymousCode: minted.body.anonymousCode })
      .expect(200);
    return { token: session.body.token as string, openid: minted.body.openid as string };
  }

  function ttPay(token: string, orderNo: string) {
    return h.api.post(`/api/orders/${orderNo}/pay`).set(auth(token)).send({ platform: 'tt' });
  }

  describe('POST /api/session {platform: "tt"}', () => {
    it('should exchange Douyin login codes for a token without revealing session_key', async () => {
      const minted = await h.sandbox.post('/sandbox/douyin/codes').send({}).expect(201);
      const response = await h.api
        .post('/api/session')
        .send({ platform: 'tt', code: minted.body.code, anonymousCode: minted.body.anonymousCode })
        .expect(200);
      expect(Object.keys(response.body).sort()).toEqual(['expiresIn', 'token']);
    });

    it('should answer 401 LOGIN_CODE_INVALID for a used or unknown code', async () => {
      const minted = await h.sandbox.post('/sandbox/douyin/codes').send({}).expect(201);
      await h.api.post('/api/session').send({ platform: 'tt', code: minted.body.code }).expect(200);
      const reused = await h.api.post('/api/session').send({ platform: 'tt', code: minted.body.code }).expect(401);
      expect(reused.body.error.code).toBe('LOGIN_CODE_INVALID');
      const unknown = await h.api.post('/api/session').send({ platform: 'tt', code: 'never-issued' }).expect(401);
      expect(unknown.body.error.code).toBe('LOGIN_CODE_INVALID');
    });

    it('should answer 503 DOUYIN_UNAVAILABLE when Douyin fails', async () => {
      const minted = await h.sandbox.post('/sandbox/douyin/codes').send({ errNo: -1 }).expect(201);
      const response = await h.api.post('/api/session').send({ platform: 'tt', code: minted.body.code }).expect(503);
      expect(response.body.error.code).toBe('DOUYIN_UNAVAILABLE');
    });
  });

  describe('POST /api/orders/:orderNo/pay {platform: "tt"}', () => {
    it('should open a WeChat H5 and an Alipay bill and answer a signed orderInfo with every documented field', async () => {
      const { token, openid } = await ttLogin();
      const order = await h.createOrder(token);
      const response = await ttPay(token, order.orderNo).expect(200);
      expect(response.body).toMatchObject({ platform: 'tt', service: 1 });
      const info = response.body.orderInfo as Record<string, unknown>;

      const bills = await h.billsOf(order.orderNo);
      const wap = bills.find((bill) => bill.channel === 'BC_WX_WAP')!;
      const ali = bills.find((bill) => bill.channel === 'ALI_APP')!;
      expect(bills).toHaveLength(2);
      expect(new Set([wap.bill_no, ali.bill_no, order.orderNo]).size).toBe(3);

      const nowSeconds = Math.floor(Date.now() / 1000);
      expect(info).toMatchObject({
        app_id: PAY_APP_ID,
        merchant_id: MERCHANT_ID,
        sign_type: 'MD5',
        version: '2.0',
        trade_type: 'H5',
        product_code: 'pay',
        payment_type: 'direct',
        out_order_no: order.orderNo,
        uid: openid,
        total_amount: order.amount,
        currency: 'CNY',
        notify_url: `${h.services.serverUrl}/api/gateway/webhook`,
        wx_url: wap.url,
        wx_type: 'MWEB',
        alipay_url: ali.order_string,
      });
      expect(Number(info.timestamp)).toBeGreaterThanOrEqual(nowSeconds - 5);
      expect(Number(info.timestamp)).toBeLessThanOrEqual(nowSeconds + 5);
      expect(Number(info.trade_time)).toBeLessThanOrEqual(Number(info.timestamp));
      expect(Number(info.valid_time)).toBeGreaterThan(0);
      expect(typeof info.subject).toBe('string');
      expect(typeof info.body).toBe('string');
      expect(JSON.parse(String(info.risk_info))).toEqual({ ip: expect.stringMatching(/127\.0\.0\.1/) });
      expect(info.sign).toBe(douyinSign(info, PAY_SECRET));
    });

    it('should hand back the same bills when the shopper taps Pay again', async () => {
      const { token } = await ttLogin();
      const order = await h.createOrder(token);
      const first = await ttPay(token, order.orderNo).expect(200);
      const second = await ttPay(token, order.orderNo).expect(200);
      expect(second.body.orderInfo.wx_url).toBe(first.body.orderInfo.wx_url);
      expect(second.body.orderInfo.alipay_url).toBe(first.body.orderInfo.alipay_url);
      expect(await h.billsOf(order.orderNo)).toHaveLength(2);
    });

    it('should leave out a leg the gateway refuses, so the shopper can pay with the other', async () => {
      const { token } = await ttLogin();
      const order = await h.createOrder(token);
      await h.sandbox.post('/sandbox/gateway/faults').send({ result_code: 7, count: 1, operation: 'bill' }).expect(201);
      const response = await ttPay(token, order.orderNo).expect(200);
      const info = response.body.orderInfo as Record<string, unknown>;
      const legs = [info.wx_url !== undefined, info.alipay_url !== undefined];
      expect(legs.filter(Boolean)).toHaveLength(1);
      expect(info.wx_type !== undefined).toBe(info.wx_url !== undefined);
      expect(info.sign).toBe(douyinSign(info, PAY_SECRET));
    });

    it('should answer 502 when the gateway refuses both legs', async () => {
      const { token } = await ttLogin();
      const order = await h.createOrder(token);
      await h.sandbox.post('/sandbox/gateway/faults').send({ result_code: 7, count: 2, operation: 'bill' }).expect(201);
      const response = await ttPay(token, order.orderNo).expect(502);
      expect(response.body.error.code).toBe('GATEWAY_ERROR');
    });

    it('should refuse a Douyin session paying as WeChat', async () => {
      const { token } = await ttLogin();
      const order = await h.createOrder(token);
      const response = await h.api
        .post(`/api/orders/${order.orderNo}/pay`)
        .set(auth(token))
        .send({ platform: 'weapp' })
        .expect(400);
      expect(response.body.error.code).toBe('PLATFORM_MISMATCH');
    });
  });

  describe('an order paid on both legs', () => {
    it('should stay paid once and give the second payment back by itself, exactly once', async () => {
      const { token } = await ttLogin();
      const order = await h.createOrder(token);
      await ttPay(token, order.orderNo).expect(200);
      const bills = await h.billsOf(order.orderNo);
      for (const bill of bills) await h.settle(bill.bill_no, 'paid').expect(200);

      type Row = { disposition: string; amount: number; refund_status: string | null; refund_amount: number | null };
      const read = async () =>
        (
          await h.services.database.query<Row>(
            `SELECT p.disposition, p.amount, r.status AS refund_status, r.amount AS refund_amount
             FROM payments p LEFT JOIN refunds r ON r.bill_no = p.bill_no
             WHERE p.order_no = $1 ORDER BY p.disposition`,
            [order.orderNo],
          )
        ).rows;
      // A WeChat-leg refund sends no webhook (seed 001 §4.4.5): a sweep asks for its status.
      const deadline = Date.now() + 10_000;
      let payments = await read();
      while (Date.now() < deadline && !payments.some((payment) => payment.disposition === 'refunded')) {
        await h.sweep();
        await new Promise((resolve) => setTimeout(resolve, 50));
        payments = await read();
      }
      expect(payments).toEqual([
        { disposition: 'applied', amount: order.amount, refund_status: null, refund_amount: null },
        { disposition: 'refunded', amount: order.amount, refund_status: 'succeeded', refund_amount: order.amount },
      ]);
      await h.sweep();
      const refunds = await h.sandbox.get('/sandbox/refunds').expect(200);
      const ours = refunds.body.refunds.filter((refund: { bill_no: string }) =>
        bills.some((bill) => bill.bill_no === refund.bill_no),
      );
      expect(ours).toHaveLength(1);
      expect(await h.status(token, order.orderNo)).toMatchObject({ status: 'paid', code: 0, refundedAmount: 0 });
    });

    it('should count a failed leg as no verdict while the other leg is still open', async () => {
      const { token } = await ttLogin();
      const order = await h.createOrder(token);
      await ttPay(token, order.orderNo).expect(200);
      const [wap] = (await h.billsOf(order.orderNo)).filter((bill) => bill.channel === 'BC_WX_WAP');
      await h.settle(wap.bill_no, 'failed').expect(200);
      h.advanceClock(60_000);
      try {
        await h.sweep();
      } finally {
        h.advanceClock(-60_000);
      }
      expect((await h.status(token, order.orderNo)).status).toBe('pending');
      const ours = await h.services.database.query<{ channel: string; status: string }>(
        'SELECT channel, status FROM bills WHERE order_no = $1 ORDER BY channel',
        [order.orderNo],
      );
      expect(ours.rows).toEqual([
        { channel: 'ALI_APP', status: 'open' },
        { channel: 'BC_WX_WAP', status: 'failed' },
      ]);
    });
  });
});
