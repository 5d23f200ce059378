import { createHash } from 'node:crypto';
import { CheckoutHarness, startHarness } from '../support/checkout-harness';
import { describePostgres, STORAGES, TestDatabase } from '../support/databases';

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

const DOUYIN_ENV = { DOUYIN_PAY_SECRET: PAY_SECRET, DOUYIN_PAY_APP_ID: PAY_APP_ID, DOUYIN_MERCHANT_ID: MERCHANT_ID };

const auth = (token: string) => ({ authorization: `Bearer ${token}` });

/** A Douyin shopper logged in on `h`'s server; `openid` as Douyin would give it (the sandbox's own by default). */
async function ttLogin(h: CheckoutHarness, openid?: string) {
  const minted = await h.sandbox
    .post('/sandbox/douyin/codes')
    .send(openid ? { openid } : {})
    .expect(201);
  const session = await h.api
    .post('/api/session')
    .send({ platform: 'tt', code: minted.body.code, anonymousCode: minted.body.anonymousCode })
    .expect(200);
  return { token: session.body.token as string, openid: minted.body.openid as string };
}

async function ttOrderInfo(h: CheckoutHarness, token: string, orderNo: string): Promise<Record<string, unknown>> {
  const response = await h.api.post(`/api/orders/${orderNo}/pay`).set(auth(token)).send({ platform: 'tt' }).expect(200);
  return response.body.orderInfo;
}

/** `trade_time + valid_time`: the deadline Douyin's cashier computes (TS4113 when it is past). */
const douyinDeadline = (info: Record<string, unknown>) => Number(info.trade_time) + Number(info.valid_time);
const epochSeconds = (at: Date | string) => Math.floor(new Date(at).getTime() / 1000);

describe.each(STORAGES)('Douyin checkout on $name', (storage) => {
  let database: TestDatabase;
  let h: CheckoutHarness;

  beforeAll(async () => {
    database = await storage.open();
    h = await startHarness(database.db, { env: DOUYIN_ENV });
  });

  afterAll(async () => {
    await h?.close();
    await database?.dispose();
  });

  const login = (openid?: string) => ttLogin(h, openid);

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
      const { token, openid } = await login();
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
      expect(douyinDeadline(info)).toBe(epochSeconds(order.expiresAt));
      expect(info.uid).toMatch(/^[0-9a-f]{32}$/);
      expect(String(info.uid)).not.toContain(openid);
      expect(typeof info.subject).toBe('string');
      expect(typeof info.body).toBe('string');
      expect(JSON.parse(String(info.risk_info))).toEqual({ ip: expect.stringMatching(/127\.0\.0\.1/) });
      expect(info.sign).toBe(douyinSign(info, PAY_SECRET));
    });

    it('should hand back the same bills when the shopper taps Pay again', async () => {
      const { token } = await login();
      const order = await h.createOrder(token);
      const first = await ttPay(token, order.orderNo).expect(200);
      const second = await ttPay(token, order.orderNo).expect(200);
      expect(second.body.orderInfo.wx_url).toBe(first.body.orderInfo.wx_url);
      expect(second.body.orderInfo.alipay_url).toBe(first.body.orderInfo.alipay_url);
      expect(await h.billsOf(order.orderNo)).toHaveLength(2);
    });

    it("should keep trade_time + valid_time on the order's deadline, after now, however late the shopper pays again", async () => {
      const { token } = await login();
      const order = await h.createOrder(token);
      const deadline = epochSeconds(order.expiresAt);
      const first = await ttOrderInfo(h, token, order.orderNo);
      expect(douyinDeadline(first)).toBe(deadline);
      // 15-minute orders: from about halfway on, counting valid_time from now put the deadline in the past.
      let movedMs = 0;
      try {
        for (const minutes of [5, 8, 13]) {
          h.advanceClock(minutes * 60_000 - movedMs);
          movedMs = minutes * 60_000;
          const again = await ttOrderInfo(h, token, order.orderNo);
          expect(again.trade_time).toBe(first.trade_time);
          expect(douyinDeadline(again)).toBe(deadline);
          expect(douyinDeadline(again)).toBeGreaterThan(epochSeconds(h.now()));
          expect(Number(again.timestamp)).toBe(epochSeconds(h.now()));
          expect(again.sign).toBe(douyinSign(again, PAY_SECRET));
        }
      } finally {
        h.advanceClock(-movedMs);
      }
    });

    it('should send a uid of at most 32 characters: one per shopper on every order, never the openid', async () => {
      const longOpenid = `_000${'Qa9'.repeat(20)}`;
      const shopper = await login(longOpenid);
      const other = await login();
      expect(other.openid.length).toBeGreaterThan(32);
      const uids: string[] = [];
      for (const { token } of [shopper, shopper, other]) {
        const order = await h.createOrder(token);
        uids.push(String((await ttOrderInfo(h, token, order.orderNo)).uid));
      }
      for (const uid of uids) {
        expect(uid.length).toBeLessThanOrEqual(32);
        expect(uid).not.toContain(shopper.openid.slice(0, 8));
        expect(uid).not.toContain(other.openid.slice(0, 8));
      }
      expect(uids[1]).toBe(uids[0]);
      expect(uids[2]).not.toBe(uids[0]);
      const again = await login(longOpenid);
      const order = await h.createOrder(again.token);
      expect((await ttOrderInfo(h, again.token, order.orderNo)).uid).toBe(uids[0]);
    });

    it('should leave out a leg the gateway refuses, so the shopper can pay with the other', async () => {
      const { token } = await login();
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
      const { token } = await login();
      const order = await h.createOrder(token);
      await h.sandbox.post('/sandbox/gateway/faults').send({ result_code: 7, count: 2, operation: 'bill' }).expect(201);
      const response = await ttPay(token, order.orderNo).expect(502);
      expect(response.body.error.code).toBe('GATEWAY_ERROR');
    });

    it('should refuse a Douyin session paying as WeChat', async () => {
      const { token } = await login();
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
      const { token } = await login();
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
      const { token } = await login();
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

describePostgres('Douyin orderInfo from two instances on one PostgreSQL', () => {
  let database: TestDatabase;
  let first: CheckoutHarness;
  let second: CheckoutHarness;

  beforeAll(async () => {
    const postgres = STORAGES.find((candidate) => candidate.name === 'postgres')!;
    database = await postgres.open();
    first = await startHarness(database.db, { env: DOUYIN_ENV });
    // The second instance remembers nothing of the first, as after a restart: all it has is storage.
    second = await startHarness(await database.openAnother(), { env: DOUYIN_ENV });
  });

  afterAll(async () => {
    await first?.close();
    await second?.close();
    await database?.dispose();
  });

  it('should send one trade_time, deadline and uid for an order, whichever instance answers and when', async () => {
    const { token } = await ttLogin(first);
    const order = await first.createOrder(token);
    const fromFirst = await ttOrderInfo(first, token, order.orderNo);
    second.advanceClock(9 * 60_000);
    try {
      const fromSecond = await ttOrderInfo(second, token, order.orderNo);
      expect(fromSecond.trade_time).toBe(fromFirst.trade_time);
      expect(fromSecond.uid).toBe(fromFirst.uid);
      expect(douyinDeadline(fromSecond)).toBe(douyinDeadline(fromFirst));
      expect(douyinDeadline(fromSecond)).toBe(epochSeconds(order.expiresAt));
      expect(douyinDeadline(fromSecond)).toBeGreaterThan(epochSeconds(second.now()));
    } finally {
      second.advanceClock(-9 * 60_000);
    }
  });
});
