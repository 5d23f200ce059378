/** The `tt` double must behave as Douyin does, or the tests built on it prove nothing. */
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PUBLIC_VECTOR, PUBLIC_VECTOR_SECRET, PUBLIC_VECTOR_SIGN } from '../support/douyin-test-vector';
import { createTtDouble, douyinOrderInfoSign, TtDouble } from '../support/tt-double';

const SECRET = 'double-test-secret';

const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * The fields Douyin's checks read, for an order created a minute ago that has 14 minutes left;
 * `fields` adds to or replaces them. Signed with SECRET.
 */
function signed(fields: Record<string, string | number>) {
  const complete = {
    uid: '3f2a9c4e8b1d7a6c5e0f9b8a7d6c5e4f',
    trade_time: String(nowSeconds() - 60),
    valid_time: '900',
    ...fields,
  };
  return { ...complete, sign: douyinOrderInfoSign(complete, SECRET) };
}

interface PayResult {
  success: unknown[];
  fail: unknown[];
}

type GetOrderStatus = (query: { out_order_no: string }) => Promise<{ code: number }>;

/** Calls `tt.pay` as Taro does (always with callbacks) and collects what comes back. */
function pay(
  tt: TtDouble,
  orderInfo: Record<string, unknown>,
  getOrderStatus: GetOrderStatus = async () => ({ code: 9 }),
): PayResult {
  const result: PayResult = { success: [], fail: [] };
  const ttPay = tt.pay as (options: Record<string, unknown>) => unknown;
  ttPay({
    orderInfo,
    service: 1,
    getOrderStatus,
    success: (res: unknown) => result.success.push(res),
    fail: (error: unknown) => result.fail.push(error),
  });
  return result;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 30));

async function until(predicate: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('douyinOrderInfoSign', () => {
  it('should reproduce the public test vector', () => {
    expect(douyinOrderInfoSign(PUBLIC_VECTOR, PUBLIC_VECTOR_SECRET)).toBe(PUBLIC_VECTOR_SIGN);
  });

  it('should ignore sign, risk_info and empty values, and take alipay_url verbatim', () => {
    const base = { b: '2', a: '1', alipay_url: 'x=1&y=%2B' };
    const expected = douyinOrderInfoSign(base, 's');
    expect(douyinOrderInfoSign({ ...base, sign: 'old', risk_info: '{}', empty: '' }, 's')).toBe(expected);
    expect(douyinOrderInfoSign({ ...base, alipay_url: 'x=1&y=+' }, 's')).not.toBe(expected);
  });
});

describe('createTtDouble: tt.pay', () => {
  const orderInfo = signed({ out_order_no: 'CO1', total_amount: 100, alipay_url: 'order-string' });

  it('should call fail, without opening the cashier, when the sign does not verify', async () => {
    const tt = createTtDouble({ paySecret: 'another-secret', atCashier: () => 'cancel' });
    const result = pay(tt, orderInfo);
    await settle();
    expect(result.success).toEqual([]);
    expect(result.fail).toEqual([{ errMsg: expect.stringMatching(/^pay:fail .*签名/) }]);
    expect(tt.cashiers).toEqual([]);
  });

  it('should call fail when a signed field was changed', async () => {
    const tt = createTtDouble({ paySecret: SECRET, atCashier: () => 'cancel' });
    const result = pay(tt, { ...orderInfo, total_amount: 1 });
    await settle();
    expect(result.fail).toHaveLength(1);
  });

  describe("the legacy cashier's FAQ refusals", () => {
    const refusedWith = async (tt: TtDouble, info: Record<string, unknown>) => {
      const result = pay(tt, info);
      await settle();
      expect(result.success).toEqual([]);
      expect(result.fail).toHaveLength(1);
      return (result.fail[0] as { errMsg: string }).errMsg;
    };

    it('should refuse with CD0011, without opening the cashier, a uid longer than 32 characters', async () => {
      const tt = createTtDouble({ paySecret: SECRET, atCashier: () => 'cancel' });
      expect(await refusedWith(tt, signed({ out_order_no: 'CO2', uid: `_000${'a'.repeat(32)}` }))).toMatch(
        /^pay:fail CD0011/,
      );
      expect(tt.cashiers).toEqual([]);
      const accepted = pay(tt, signed({ out_order_no: 'CO2', uid: 'u'.repeat(32) }));
      await settle();
      expect(accepted.success).toEqual([{ code: 4, errMsg: 'pay:ok' }]);
    });

    it("should refuse with TS4113 when trade_time + valid_time is not after Douyin's clock", async () => {
      const clockMs = 1_800_000_000_000;
      const tt = createTtDouble({ paySecret: SECRET, atCashier: () => 'cancel', now: () => clockMs });
      const nowS = clockMs / 1000;
      // An order made 10 minutes ago whose valid_time counts from now, not from trade_time: the bug's shape.
      const past = signed({ out_order_no: 'CO3', trade_time: String(nowS - 600), valid_time: '300' });
      expect(await refusedWith(tt, past)).toMatch(/^pay:fail TS4113/);
      const atNow = signed({ out_order_no: 'CO3', trade_time: String(nowS - 600), valid_time: '600' });
      expect(await refusedWith(tt, atNow)).toMatch(/^pay:fail TS4113/);
      expect(tt.cashiers).toEqual([]);
      const open = pay(tt, signed({ out_order_no: 'CO3', trade_time: String(nowS - 600), valid_time: '601' }));
      await settle();
      expect(open.success).toEqual([{ code: 4, errMsg: 'pay:ok' }]);
    });

    it('should refuse with CD0015 an order sent again with another trade_time, also on another device', async () => {
      const tradeTimes = new Map<string, string>();
      const first = createTtDouble({ paySecret: SECRET, atCashier: () => 'cancel', tradeTimes });
      const tradeTime = nowSeconds() - 60;
      const opened = pay(first, signed({ out_order_no: 'CO4', trade_time: String(tradeTime) }));
      await settle();
      expect(opened.success).toHaveLength(1);

      const again = pay(first, signed({ out_order_no: 'CO4', trade_time: tradeTime, valid_time: 900 }));
      await settle();
      expect(again.success).toHaveLength(1);
      expect(await refusedWith(first, signed({ out_order_no: 'CO4', trade_time: String(tradeTime + 1) }))).toMatch(
        /^pay:fail CD0015/,
      );

      const otherDevice = createTtDouble({ paySecret: SECRET, atCashier: () => 'cancel', tradeTimes });
      expect(
        await refusedWith(otherDevice, signed({ out_order_no: 'CO4', trade_time: String(tradeTime - 1) })),
      ).toMatch(/^pay:fail CD0015/);
      const anotherOrder = pay(otherDevice, signed({ out_order_no: 'CO5', trade_time: String(tradeTime + 1) }));
      await settle();
      expect(anotherOrder.success).toHaveLength(1);
    });

    it('should refuse an orderInfo without uid, trade_time or valid_time in whole seconds', async () => {
      const tt = createTtDouble({ paySecret: SECRET, atCashier: () => 'cancel' });
      for (const missing of ['uid', 'trade_time', 'valid_time']) {
        const rest: Record<string, unknown> = { ...signed({ out_order_no: 'CO6' }) };
        delete rest[missing];
        const info = { ...rest, sign: douyinOrderInfoSign(rest, SECRET) };
        expect(await refusedWith(tt, info)).toMatch(/^pay:fail invalid params/);
      }
      expect(await refusedWith(tt, signed({ out_order_no: 'CO6', valid_time: '899.5' }))).toMatch(
        /^pay:fail invalid params/,
      );
      expect(tt.cashiers).toEqual([]);
    });
  });

  it('should report a cancel as success({code: 4})', async () => {
    const tt = createTtDouble({ paySecret: SECRET, atCashier: () => 'cancel' });
    const result = pay(tt, orderInfo);
    await settle();
    expect(result).toEqual({ success: [{ code: 4, errMsg: 'pay:ok' }], fail: [] });
    expect(tt.cashiers).toMatchObject([{ choice: 'cancel', reportedCode: 4 }]);
  });

  it('should call nothing back when the shopper closes the cashier with the back gesture', async () => {
    const tt = createTtDouble({ paySecret: SECRET, atCashier: () => 'closeWithoutCallback' });
    const result = pay(tt, orderInfo);
    await settle();
    expect(result).toEqual({ success: [], fail: [] });
    expect(tt.cashiers).toHaveLength(1);
    expect(tt.cashiers[0].choice).toBe('closeWithoutCallback');
    expect(tt.problems).toEqual([]);
  });

  it.each([
    ['9000', 0],
    ['6001', 4],
    ['4000', 2],
  ])('should report the Alipay app answering %s as success code %i', async (resultStatus, code) => {
    const paidOrderStrings: string[] = [];
    const tt = createTtDouble({
      paySecret: SECRET,
      atCashier: () => 'payAlipay',
      alipayApp: async (orderString) => {
        paidOrderStrings.push(orderString);
        return { resultStatus };
      },
    });
    const result = pay(tt, orderInfo);
    await settle();
    expect(paidOrderStrings).toEqual(['order-string']);
    expect(result.success).toEqual([{ code, errMsg: 'pay:ok' }]);
    expect(tt.problems).toEqual([]);
  });

  describe('the WeChat H5 leg', () => {
    let server: Server;
    let baseUrl: string;
    const submitted: { contentType?: string; body: string }[] = [];

    beforeAll(async () => {
      server = createServer((request, response) => {
        if (request.method === 'GET') {
          response.setHeader('content-type', 'text/html; charset=utf-8');
          response.end(`<!DOCTYPE html><form method="post" action="/h5pay">
<input type="hidden" name="bill_no" value="B&amp;1">
<button class="primary" type="submit" name="action" value="pay">确认支付</button>
<button class="secondary" type="submit" name="action" value="cancel">取消</button>
</form>`);
          return;
        }
        let body = '';
        request.on('data', (chunk) => (body += chunk));
        request.on('end', () => {
          submitted.push({ contentType: request.headers['content-type'], body });
          response.setHeader('content-type', 'application/json');
          response.end('{"status":"paid"}');
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it("should press 确认支付 on WeChat's page, then report getOrderStatus's code", async () => {
      const tt = createTtDouble({ paySecret: SECRET, atCashier: () => 'payWechatH5' });
      const queries: unknown[] = [];
      const result = pay(tt, signed({ out_order_no: 'CO7', wx_url: `${baseUrl}/h5pay?bill_no=B1` }), async (query) => {
        queries.push(query);
        return { code: 0 };
      });
      await until(() => result.success.length > 0 || tt.problems.length > 0);

      expect(submitted).toEqual([
        { contentType: 'application/json', body: JSON.stringify({ bill_no: 'B&1', action: 'pay' }) },
      ]);
      expect(queries).toEqual([{ out_order_no: 'CO7' }]);
      expect(result.success).toEqual([{ code: 0, errMsg: 'pay:ok' }]);
      expect(tt.problems).toEqual([]);
    });

    it('should report 9 and record a problem when getOrderStatus rejects', async () => {
      const tt = createTtDouble({ paySecret: SECRET, atCashier: () => 'payWechatH5' });
      const result = pay(tt, signed({ out_order_no: 'CO8', wx_url: `${baseUrl}/h5pay?bill_no=B2` }), async () => {
        throw new Error('offline');
      });
      await until(() => result.success.length > 0);

      expect(result.success).toEqual([{ code: 9, errMsg: 'pay:ok' }]);
      expect(tt.problems).toEqual(['getOrderStatus rejected: offline']);
    });
  });
});

describe('the tt double: 担保支付 (tt.pay service 5)', () => {
  /** Douyin's side, as the sandbox plays it: one known order and its token. */
  function guaranteedSide(asked: string[]) {
    return async (orderInfo: { order_id: string; order_token: string }, action: 'open' | 'pay' | 'cancel') => {
      asked.push(`${action} ${orderInfo.order_id}`);
      if (orderInfo.order_id !== '7000000000000000001') return { ok: false as const, reason: 'CD0402 no such order' };
      if (orderInfo.order_token !== 'token-1') return { ok: false as const, reason: 'order_token mismatch' };
      return { ok: true as const };
    };
  }

  function payGuaranteed(tt: TtDouble, orderInfo: Record<string, unknown>): PayResult {
    const result: PayResult = { success: [], fail: [] };
    (tt.pay as (options: Record<string, unknown>) => unknown)({
      orderInfo,
      service: 5,
      success: (res: unknown) => result.success.push(res),
      fail: (error: unknown) => result.fail.push(error),
    });
    return result;
  }

  it('should open the cashier for the pre-order’s order_id and order_token only, and pay inside it', async () => {
    const asked: string[] = [];
    const tt = createTtDouble({ paySecret: SECRET, guaranteedCashier: guaranteedSide(asked) });
    const paid = payGuaranteed(tt, { order_id: '7000000000000000001', order_token: 'token-1' });
    await until(() => paid.success.length === 1);
    expect(paid).toEqual({ success: [{ code: 0, errMsg: 'pay:ok' }], fail: [] });
    expect(asked).toEqual(['open 7000000000000000001', 'pay 7000000000000000001']);

    const mismatched = payGuaranteed(tt, { order_id: '7000000000000000001', order_token: 'token-2' });
    const unknown = payGuaranteed(tt, { order_id: '7000000000000000009', order_token: 'token-1' });
    const incomplete = payGuaranteed(tt, { order_id: '7000000000000000001' });
    await until(() => mismatched.fail.length + unknown.fail.length + incomplete.fail.length === 3);
    expect(mismatched.fail).toEqual([{ errMsg: 'pay:fail order_token mismatch' }]);
    expect(unknown.fail).toEqual([{ errMsg: 'pay:fail CD0402 no such order' }]);
    expect(incomplete.fail).toEqual([
      expect.objectContaining({ errMsg: expect.stringMatching(/^pay:fail invalid params/) }),
    ]);
    expect(tt.cashiers).toHaveLength(1);
    expect(tt.problems).toEqual([]);
  });

  it('should report a cancel as success({code: 4})', async () => {
    const asked: string[] = [];
    const tt = createTtDouble({
      paySecret: SECRET,
      guaranteedCashier: guaranteedSide(asked),
      atCashier: () => 'cancel',
    });
    const cancelled = payGuaranteed(tt, { order_id: '7000000000000000001', order_token: 'token-1' });
    await until(() => cancelled.success.length === 1);
    expect(cancelled.success).toEqual([{ code: 4, errMsg: 'pay:ok' }]);
    expect(asked).toEqual(['open 7000000000000000001', 'cancel 7000000000000000001']);
  });
});
