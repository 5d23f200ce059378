import { CheckoutHarness } from '../support/checkout-harness';
import { MiniProgramPage } from '../support/miniprogram-harness';
import { E2E_STORAGE, startTtBundle, TtBundle } from '../support/tt-bundle';
import { CashierChoice, OpenCashier, TtDouble, TtRequestOptions } from '../support/tt-double';
import { fetchAsWxRequest } from '../support/wx-double';

/**
 * The compiled `dist/tt` bundle paying through Douyin's 担保支付 (TT_PAYMENT_PROVIDER=guaranteed,
 * nothing else set), driven in Node with a `tt` double against a real checkout server and the
 * real sandbox. The double's `tt.pay({service: 5, orderInfo: {order_id, order_token}})` opens
 * Douyin's cashier at the sandbox only for the order and token its pre-order answered; the shopper
 * pays there and the sandbox sends the signed callback.
 */
describe(`Douyin 担保支付 checkout end to end (compiled bundle, ${E2E_STORAGE.name})`, () => {
  let bundle: TtBundle;
  let h: CheckoutHarness;

  beforeAll(async () => {
    bundle = await startTtBundle({ TT_PAYMENT_PROVIDER: 'guaranteed' });
    h = bundle.h;
  }, 180_000);

  afterAll(() => bundle?.close());

  /** Douyin's side of the cashier: the sandbox's 担保支付, refusing what Douyin refuses. */
  async function guaranteedCashier(
    orderInfo: { order_id: string; order_token: string },
    action: 'open' | 'pay' | 'cancel',
  ): Promise<{ ok: true } | { ok: false; reason: string }> {
    const answer = await h.sandbox.post('/sandbox/douyin/guaranteed/pay').send({ ...orderInfo, action });
    if (answer.status === 200) return { ok: true };
    return { ok: false, reason: `参数错误 ${answer.body.error.code}` };
  }

  function openCheckoutPage(
    atCashier: (cashier: OpenCashier) => CashierChoice | Promise<CashierChoice>,
    request?: (options: TtRequestOptions) => ReturnType<typeof fetchAsWxRequest>,
  ): Promise<{ page: MiniProgramPage; tt: TtDouble }> {
    return bundle.openCheckoutPage({
      paySecret: 'unused: 担保支付 carries no sign',
      atCashier,
      guaranteedCashier,
      request,
    });
  }

  async function orderOf(orderId: string) {
    const listed = await h.sandbox.get('/sandbox/douyin/orders').expect(200);
    const order = (listed.body.orders as Array<{ orderId: string; outOrderNo: string; status: string }>).find(
      (candidate) => candidate.orderId === orderId,
    );
    if (!order) throw new Error(`no 担保支付 order ${orderId}`);
    return { douyin: order, orderNo: await bundle.orderNoOfBill(order.outOrderNo), billNo: order.outOrderNo };
  }

  const paymentsOf = (orderNo: string) => bundle.paymentsOf(orderNo, ['channel', 'source', 'disposition']);

  const orderIdOf = (tt: TtDouble, index = 0) => String(tt.cashiers[index].orderInfo.order_id);

  it('should pay in Douyin’s cashier with the pre-order’s order_id and order_token, and end with the order paid', async () => {
    const { page, tt } = await openCheckoutPage(() => 'payWechatH5');
    page.tapById('pay-button');
    await page.waitForText(/支付成功/, 30_000);

    const payCall = tt.calls.find((call) => call.api === 'pay')!.options as Record<string, unknown>;
    expect(payCall).toMatchObject({
      service: 5,
      orderInfo: { order_id: expect.any(String), order_token: expect.any(String) },
    });
    expect(Object.keys(payCall.orderInfo as object).sort()).toEqual(['order_id', 'order_token']);
    const { douyin, orderNo, billNo } = await orderOf(orderIdOf(tt));
    expect(douyin.status).toBe('paid');
    expect(page.findById('order-no')?.text).toBe(`订单号 ${orderNo}`);
    expect(await bundle.orderStatus(orderNo)).toBe('paid');
    expect(await paymentsOf(orderNo)).toEqual([{ channel: 'TT_MINI', source: 'webhook', disposition: 'applied' }]);
    expect(billNo).toMatch(/\S/);
    expect(tt.cashiers.map((cashier) => cashier.reportedCode)).toEqual([0]);
    expect(tt.problems).toEqual([]);
    page.unload();
  });

  it('should show 已取消 when the shopper cancels, and pay the same Douyin order with 重新支付', async () => {
    let opened = 0;
    const { page, tt } = await openCheckoutPage(() => (++opened === 1 ? 'cancel' : 'payAlipay'));
    page.tapById('pay-button');
    await page.waitForText(/已取消/, 10_000);
    page.tapById('retry-payment-button');
    await page.waitForText(/支付成功/, 30_000);
    expect(tt.cashiers.map((cashier) => cashier.reportedCode)).toEqual([4, 0]);
    expect(orderIdOf(tt, 1)).toBe(orderIdOf(tt, 0));
    const { orderNo } = await orderOf(orderIdOf(tt));
    expect(await paymentsOf(orderNo)).toEqual([{ channel: 'TT_MINI', source: 'webhook', disposition: 'applied' }]);
    expect(tt.problems).toEqual([]);
    page.unload();
  });

  it('should not open the cashier for an order_token that is not the pre-order’s, and leave the order unpaid', async () => {
    let orderId: string | undefined;
    const tampering = async (options: TtRequestOptions) => {
      const answer = await fetchAsWxRequest(options);
      const data = answer.data as { orderInfo?: { order_id: string; order_token: string } } | undefined;
      if (options.url.endsWith('/pay') && data?.orderInfo) {
        orderId = data.orderInfo.order_id;
        data.orderInfo.order_token = `${data.orderInfo.order_token}0`;
      }
      return answer;
    };
    const { page, tt } = await openCheckoutPage(() => 'payWechatH5', tampering);
    page.tapById('pay-button');
    await page.waitForText(/支付参数校验失败/, 10_000);
    expect(tt.cashiers).toEqual([]);
    const { douyin, orderNo } = await orderOf(orderId!);
    expect(douyin.status).toBe('pending');
    expect(await paymentsOf(orderNo)).toEqual([]);
    await h.sweep();
    expect(await paymentsOf(orderNo)).toEqual([]);
    page.unload();
  });
});
