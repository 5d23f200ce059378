import { CheckoutHarness, eventually } from '../support/checkout-harness';
import { MiniProgramPage } from '../support/miniprogram-harness';
import { E2E_STORAGE, startTtBundle, TtBundle } from '../support/tt-bundle';
import { AlipayAppAnswer, CashierChoice, OpenCashier, TtDouble } from '../support/tt-double';

/**
 * The compiled `dist/tt` bundle, driven in Node with a `tt` double, against a real checkout
 * server and the real sandbox. The double's `tt.pay` behaves as Douyin's cashier: it checks
 * `orderInfo.sign` with the pay secret, then the shopper pays the WeChat H5 leg on the sandbox's
 * WeChat page behind `wx_url`, or the Alipay leg in the sandbox's Alipay app, or cancels, or
 * closes the cashier with no callback at all; the sandbox sends the gateway's webhook. It also
 * refuses what Douyin's cashier refuses (TS4113, CD0011, CD0015), on the server's clock, with
 * one record of orders' `trade_time` for every page, as one Douyin keeps.
 */
const PAY_SECRET = 'e2e-douyin-pay-secret-0123456789';
const PAYMENT_COLUMNS = ['channel', 'disposition', 'amount'] as const;

describe(`Douyin checkout end to end (compiled bundle, ${E2E_STORAGE.name})`, () => {
  let bundle: TtBundle;
  let h: CheckoutHarness;
  const douyinTradeTimes = new Map<string, string>();

  beforeAll(async () => {
    bundle = await startTtBundle({ DOUYIN_PAY_SECRET: PAY_SECRET });
    h = bundle.h;
  }, 180_000);

  afterAll(() => bundle?.close());

  /** The Alipay app, as the sandbox plays it: pays the `ALI_APP` order string. */
  async function payInAlipayApp(orderString: string): Promise<AlipayAppAnswer> {
    const answer = await h.sandbox
      .post('/sandbox/alipay/app-pay')
      .send({ order_string: orderString, action: 'pay' })
      .expect(200);
    return answer.body;
  }

  function openCheckoutPage(
    atCashier: (cashier: OpenCashier) => CashierChoice | Promise<CashierChoice>,
  ): Promise<{ page: MiniProgramPage; tt: TtDouble }> {
    return bundle.openCheckoutPage({
      paySecret: PAY_SECRET,
      atCashier,
      alipayApp: payInAlipayApp,
      now: () => h.now().getTime(),
      tradeTimes: douyinTradeTimes,
    });
  }

  const orderInDatabase = (orderNo: string) => bundle.orderInDatabase(orderNo);
  const paymentsInDatabase = (orderNo: string) => bundle.paymentsOf(orderNo, PAYMENT_COLUMNS);

  function orderNoOf(tt: TtDouble, cashierIndex = 0): string {
    return String(tt.cashiers[cashierIndex].orderInfo.out_order_no);
  }

  it('should pay the WeChat H5 leg and end with the order paid in the database', async () => {
    const { page, tt } = await openCheckoutPage(() => 'payWechatH5');

    page.tapById('pay-button');
    await page.waitForText(/支付成功/, 30_000);

    const orderNo = orderNoOf(tt);
    expect(page.findById('order-no')?.text).toBe(`订单号 ${orderNo}`);
    const order = await orderInDatabase(orderNo);
    expect(order.status).toBe('paid');
    expect(await paymentsInDatabase(orderNo)).toEqual([
      { channel: 'BC_WX_WAP', disposition: 'applied', amount: order.amount },
    ]);
    expect(tt.cashiers).toHaveLength(1);
    expect(tt.cashiers[0].orderStatus).toMatchObject({ code: expect.any(Number) });
    expect([0, 9]).toContain(tt.cashiers[0].reportedCode);
    expect(tt.problems).toEqual([]);
    page.unload();
  });

  it('should recover on onShow when the cashier closed with no callback after the shopper paid', async () => {
    const { page, tt } = await openCheckoutPage(async ({ orderInfo }): Promise<CashierChoice> => {
      const bills = await h.billsOf(String(orderInfo.out_order_no));
      const wechatBill = bills.find((bill) => bill.channel === 'BC_WX_WAP');
      if (!wechatBill) throw new Error('no BC_WX_WAP bill for the order');
      await h.settle(wechatBill.bill_no, 'paid').expect(200);
      return 'closeWithoutCallback';
    });

    page.tapById('pay-button');
    await page.waitFor(() => tt.cashiers.length === 1, 10_000, 'the cashier');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(page.text()).toMatch(/正在拉起支付/);
    expect(tt.cashiers[0].reportedCode).toBeUndefined();

    page.hide();
    page.show();
    await page.waitForText(/支付成功/, 30_000);

    const orderNo = orderNoOf(tt);
    expect((await orderInDatabase(orderNo)).status).toBe('paid');
    expect(await paymentsInDatabase(orderNo)).toMatchObject([{ channel: 'BC_WX_WAP', disposition: 'applied' }]);
    expect(tt.problems).toEqual([]);
    page.unload();
  });

  it('should show 已取消 when the shopper cancels, and pay the same order with 重新支付', async () => {
    let opened = 0;
    const { page, tt } = await openCheckoutPage(() => (++opened === 1 ? 'cancel' : 'payWechatH5'));

    page.tapById('pay-button');
    await page.waitForText(/已取消/, 10_000);
    expect(page.findById('retry-payment-button')?.text).toBe('重新支付');

    page.tapById('retry-payment-button');
    await page.waitForText(/支付成功/, 30_000);

    expect(tt.cashiers.map((cashier) => cashier.reportedCode)).toEqual([4, expect.any(Number)]);
    const orderNo = orderNoOf(tt);
    expect(orderNoOf(tt, 1)).toBe(orderNo);
    expect((await orderInDatabase(orderNo)).status).toBe('paid');
    expect(await paymentsInDatabase(orderNo)).toMatchObject([{ channel: 'BC_WX_WAP', disposition: 'applied' }]);
    expect(tt.problems).toEqual([]);
    page.unload();
  });

  it("should open the cashier again past half the order's time: same trade_time, deadline still ahead", async () => {
    let opened = 0;
    const { page, tt } = await openCheckoutPage(() => (++opened === 1 ? 'cancel' : 'payWechatH5'));
    page.tapById('pay-button');
    await page.waitForText(/已取消/, 10_000);

    // Ten minutes into a 15-minute order, on the server's clock and so on Douyin's.
    h.advanceClock(10 * 60_000);
    try {
      page.tapById('retry-payment-button');
      await page.waitForText(/支付成功/, 30_000);
    } finally {
      h.advanceClock(-10 * 60_000);
    }

    const [first, second] = tt.cashiers.map((cashier) => cashier.orderInfo);
    expect(tt.cashiers).toHaveLength(2);
    expect(second.trade_time).toBe(first.trade_time);
    expect(Number(second.trade_time) + Number(second.valid_time)).toBe(
      Number(first.trade_time) + Number(first.valid_time),
    );
    expect(String(second.uid).length).toBeLessThanOrEqual(32);
    expect((await orderInDatabase(orderNoOf(tt))).status).toBe('paid');
    expect(tt.problems).toEqual([]);
    page.unload();
  });

  it('should keep the order paid once when the shopper also pays the Alipay leg, and give the second payment back', async () => {
    const { page, tt } = await openCheckoutPage(() => 'payWechatH5');
    page.tapById('pay-button');
    await page.waitForText(/支付成功/, 30_000);
    const orderNo = orderNoOf(tt);
    const paidAt = (await orderInDatabase(orderNo)).paid_at;

    const alipayUrl = tt.cashiers[0].orderInfo.alipay_url;
    expect(typeof alipayUrl).toBe('string');
    await expect(payInAlipayApp(String(alipayUrl))).resolves.toMatchObject({ resultStatus: '9000' });

    // The Alipay leg's refund sends a REFUND webhook: the second payment goes back with no sweep.
    const payments = await eventually(
      () => paymentsInDatabase(orderNo),
      (rows) => rows.length === 2 && rows[1].disposition === 'refunded',
      10_000,
    );
    const order = await orderInDatabase(orderNo);
    expect(order.status).toBe('paid');
    expect(order.paid_at).toEqual(paidAt);
    expect(payments).toEqual([
      { channel: 'BC_WX_WAP', disposition: 'applied', amount: order.amount },
      { channel: 'ALI_APP', disposition: 'refunded', amount: order.amount },
    ]);
    const refunds = await h.services.database.query<{ kind: string; status: string; amount: number }>(
      'SELECT kind, status, amount FROM refunds WHERE order_no = $1',
      [orderNo],
    );
    expect(refunds.rows).toEqual([{ kind: 'duplicate', status: 'succeeded', amount: order.amount }]);
    expect(page.text()).toMatch(/支付成功/);
    expect(tt.problems).toEqual([]);
    page.unload();
  });
});
