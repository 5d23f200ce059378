import { DEVELOPMENT_SECRETS } from '../../server/config';
import { CheckoutHarness, eventually } from '../support/checkout-harness';
import { MiniProgramPage } from '../support/miniprogram-harness';
import { E2E_STORAGE, startTtBundle, TtBundle } from '../support/tt-bundle';
import { OrderPaymentChoice, TradeOrderRecord, TradeSystem, TtDouble } from '../support/tt-double';

/**
 * The compiled `dist/tt` bundle paying through Douyin's 通用交易系统 (TT_PAYMENT_PROVIDER=trade),
 * driven in Node with a `tt` double, against a real checkout server and the real sandbox. The
 * double's `tt.requestOrder` checks `byteAuthorization` with the app public key as Douyin does and
 * makes the order in the sandbox; its `tt.getOrderPayment` is the cashier, where the test's shopper
 * pays, cancels, or closes it with no callback; the sandbox sends the signed callback.
 */
const PAYMENT_COLUMNS = ['channel', 'disposition', 'amount'] as const;

describe(`Douyin 通用交易系统 checkout end to end (compiled bundle, ${E2E_STORAGE.name})`, () => {
  let bundle: TtBundle;
  let h: CheckoutHarness;
  let trade: TradeSystem;

  beforeAll(async () => {
    bundle = await startTtBundle({ TT_PAYMENT_PROVIDER: 'trade' });
    h = bundle.h;
    const keys = (await h.sandbox.get('/sandbox/douyin/keys').expect(200)).body;
    trade = {
      appId: DEVELOPMENT_SECRETS.douyinAppId,
      appPublicKey: keys.appPublicKey,
      keyVersion: keys.keyVersion,
      sandboxUrl: h.services.sandboxUrl!,
    };
  }, 180_000);

  afterAll(() => bundle?.close());

  function openCheckoutPage(
    atOrderPayment: (order: TradeOrderRecord) => OrderPaymentChoice | Promise<OrderPaymentChoice>,
  ): Promise<{ page: MiniProgramPage; tt: TtDouble }> {
    return bundle.openCheckoutPage({
      paySecret: 'unused: no tt.pay with the 通用交易系统',
      atCashier: () => {
        throw new Error('tt.pay must not be called with the 通用交易系统');
      },
      trade,
      atOrderPayment,
    });
  }

  const orderNoOf = (tt: TtDouble, index = 0) => bundle.orderNoOfBill(tt.tradeOrders[index].outOrderNo);
  const paymentsInDatabase = (orderNo: string) => bundle.paymentsOf(orderNo, PAYMENT_COLUMNS);
  const orderStatus = (orderNo: string) => bundle.orderStatus(orderNo);

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
