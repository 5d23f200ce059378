import { rmSync } from 'node:fs';
import { DEVELOPMENT_SECRETS } from '../../server/config';
import { buildMiniProgram } from '../support/build-miniprogram';
import { CheckoutHarness, eventually, startHarness } from '../support/checkout-harness';
import { STORAGES, TestDatabase } from '../support/databases';
import { loadTtPage, MiniProgramPage } from '../support/miniprogram-harness';
import { createTtDouble, OrderPaymentChoice, TradeOrderRecord, TtDouble } from '../support/tt-double';

/**
 * The compiled `dist/tt` bundle paying through Douyin's 通用交易系统 (TT_PAYMENT_PROVIDER=trade),
 * driven in Node with a `tt` double, against a real checkout server and the real sandbox. The
 * double's `tt.requestOrder` checks `byteAuthorization` with the app public key as Douyin does and
 * makes the order in the sandbox; its `tt.getOrderPayment` is the cashier, where the test's shopper
 * pays, cancels, or closes it with no callback; the sandbox sends the signed callback.
 */
const storage = STORAGES[STORAGES.length - 1];

interface PaymentRow {
  channel: string;
  disposition: string;
  amount: number;
}

describe(`Douyin 通用交易系统 checkout end to end (compiled bundle, ${storage.name})`, () => {
  let database: TestDatabase;
  let h: CheckoutHarness;
  let distDir: string;
  let trade: { appId: string; appPublicKey: string; keyVersion: string; sandboxUrl: string };

  beforeAll(async () => {
    database = await storage.open();
    h = await startHarness(database.db, { env: { TT_PAYMENT_PROVIDER: 'trade' } });
    const keys = (await h.sandbox.get('/sandbox/douyin/keys').expect(200)).body;
    trade = {
      appId: DEVELOPMENT_SECRETS.douyinAppId,
      appPublicKey: keys.appPublicKey,
      keyVersion: keys.keyVersion,
      sandboxUrl: h.services.sandboxUrl!,
    };
    distDir = await buildMiniProgram('tt', h.services.serverUrl);
  }, 180_000);

  afterAll(async () => {
    await h?.close();
    await database?.dispose();
    if (distDir) rmSync(distDir, { recursive: true, force: true });
  });

  async function openCheckoutPage(
    atOrderPayment: (order: TradeOrderRecord) => OrderPaymentChoice | Promise<OrderPaymentChoice>,
  ): Promise<{ page: MiniProgramPage; tt: TtDouble }> {
    const tt = createTtDouble({
      paySecret: 'unused: no tt.pay with the 通用交易系统',
      async login() {
        const minted = await h.sandbox.post('/sandbox/douyin/codes').send({}).expect(201);
        return { code: minted.body.code, anonymousCode: minted.body.anonymousCode };
      },
      atCashier: () => {
        throw new Error('tt.pay must not be called with the 通用交易系统');
      },
      trade,
      atOrderPayment,
    });
    const page = await loadTtPage({ distDir, tt });
    await page.waitFor(() => page.findById('pay-button') !== undefined, 10_000, 'the cart');
    return { page, tt };
  }

  async function orderNoOf(tt: TtDouble, index = 0): Promise<string> {
    const { rows } = await h.services.database.query<{ order_no: string }>(
      'SELECT order_no FROM bills WHERE bill_no = $1',
      [tt.tradeOrders[index].outOrderNo],
    );
    return rows[0].order_no;
  }

  async function paymentsInDatabase(orderNo: string): Promise<PaymentRow[]> {
    const { rows } = await h.services.database.query<PaymentRow>(
      'SELECT channel, disposition, amount FROM payments WHERE order_no = $1 ORDER BY received_at',
      [orderNo],
    );
    return rows;
  }

  async function orderStatus(orderNo: string): Promise<string> {
    const { rows } = await h.services.database.query<{ status: string }>(
      'SELECT status FROM orders WHERE order_no = $1',
      [orderNo],
    );
    return rows[0].status;
  }

  it('should pay through tt.requestOrder and tt.getOrderPayment and end with the order paid from the signed callback', async () => {
    const { page, tt } = await openCheckoutPage(() => 'pay');

    page.tapById('pay-button');
    await page.waitForText(/支付成功/, 30_000);

    const orderNo = await orderNoOf(tt);
    expect(page.findById('order-no')?.text).toBe(`订单号 ${orderNo}`);
    expect(await orderStatus(orderNo)).toBe('paid');
    const payments = await eventually(
      () => paymentsInDatabase(orderNo),
      (rows) => rows.length === 1,
    );
    expect(payments).toEqual([{ channel: 'TT_MINI', disposition: 'applied', amount: expect.any(Number) }]);
    expect(tt.calls.map((call) => call.api).filter((api) => api !== 'request' && !/Storage/.test(api))).toEqual(
      expect.arrayContaining(['requestOrder', 'getOrderPayment']),
    );
    expect(tt.calls.some((call) => call.api === 'pay')).toBe(false);
    expect(tt.problems).toEqual([]);
    page.unload();
  });

  it('should show 已取消 when the shopper cancels, and pay the same order with 重新支付 signed afresh', async () => {
    let opened = 0;
    const { page, tt } = await openCheckoutPage(() => (++opened === 1 ? 'cancel' : 'pay'));

    page.tapById('pay-button');
    await page.waitForText(/已取消/, 10_000);
    expect(page.findById('retry-payment-button')?.text).toBe('重新支付');

    page.tapById('retry-payment-button');
    await page.waitForText(/支付成功/, 30_000);

    expect(tt.tradeOrders.map((order) => order.choice)).toEqual(['cancel', 'pay']);
    expect(tt.tradeOrders[1].outOrderNo).toBe(tt.tradeOrders[0].outOrderNo);
    expect(tt.tradeOrders[1].orderId).toBe(tt.tradeOrders[0].orderId);
    const [first, second] = tt.calls.filter((call) => call.api === 'requestOrder');
    expect((second.options as { byteAuthorization: string }).byteAuthorization).not.toBe(
      (first.options as { byteAuthorization: string }).byteAuthorization,
    );
    const orderNo = await orderNoOf(tt);
    expect(await orderStatus(orderNo)).toBe('paid');
    expect(tt.problems).toEqual([]);
    page.unload();
  });

  it('should recover on onShow when the cashier closed with no callback after the shopper paid', async () => {
    const { page, tt } = await openCheckoutPage(async (order): Promise<OrderPaymentChoice> => {
      await h.sandbox.post(`/sandbox/douyin/orders/${order.outOrderNo}/settle`).send({ result: 'paid' }).expect(200);
      return 'closeWithoutCallback';
    });

    page.tapById('pay-button');
    await page.waitFor(() => tt.tradeOrders[0]?.choice !== undefined, 10_000, 'the cashier');
    page.hide();
    page.show();
    await page.waitForText(/支付成功/, 30_000);

    expect(await orderStatus(await orderNoOf(tt))).toBe('paid');
    expect(tt.problems).toEqual([]);
    page.unload();
  });
});
