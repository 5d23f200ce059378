import { DEVELOPMENT_SECRETS } from '../../server/config';
import { wechatPaySign } from '../../server/sandbox/shared/signing';
import type { CheckoutHarness } from '../support/checkout-harness';
import { E2E_STORAGE, startWeappCheckout, WeappCheckout } from '../support/weapp-checkout';
import type { WxPaymentParams } from '../support/wx-double';

/**
 * The compiled `dist/weapp` bundle, driven in Node with a `wx` double, against a real checkout
 * server and the real sandbox. The double's `requestPayment` behaves as WeChat's: it checks
 * `paySign` with the merchant key, and "pays" by settling the bill in the sandbox, which then
 * sends the gateway's webhook to the server.
 */
const PAY_KEY = 'e2e-merchant-key-0123456789abcdef';

describe(`WeChat checkout end to end (compiled bundle, ${E2E_STORAGE.name})`, () => {
  let checkout: WeappCheckout;
  let h: CheckoutHarness;
  const wxFor: WeappCheckout['wxFor'] = (atPaymentSheet) => checkout.wxFor(atPaymentSheet);
  const ordersInDatabase = () => checkout.ordersInDatabase();

  beforeAll(async () => {
    checkout = await startWeappCheckout({ sandbox: { wechatPayKey: PAY_KEY } });
    h = checkout.h;
  }, 180_000);

  afterAll(async () => {
    await checkout?.close();
  });

  async function billFor(params: WxPaymentParams) {
    const prepayId = params.package.replace(/^prepay_id=/, '');
    const { bills } = (await h.sandbox.get('/sandbox/bills').expect(200)).body as {
      bills: Array<{ bill_no: string; prepay_id?: string; total_fee: number }>;
    };
    const bill = bills.find((candidate) => candidate.prepay_id === prepayId);
    if (!bill) throw { errMsg: 'requestPayment:fail prepay_id unknown' };
    return bill;
  }

  /** WeChat refuses parameters whose paySign does not verify, before showing the sheet. */
  function verifySignature(params: WxPaymentParams) {
    const expected = wechatPaySign(
      {
        appId: DEVELOPMENT_SECRETS.wechatAppId,
        timeStamp: params.timeStamp,
        nonceStr: params.nonceStr,
        package: params.package,
        signType: params.signType,
      },
      PAY_KEY,
    );
    if (expected !== params.paySign) throw { errMsg: 'requestPayment:fail 支付验证签名失败' };
  }

  it('should take a shopper from the cart to an order the server knows is paid', async () => {
    const wx = wxFor(async (params) => {
      const bill = await billFor(params);
      verifySignature(params);
      await h.sandbox.post(`/sandbox/bills/${bill.bill_no}/settle`).send({ result: 'paid' }).expect(200);
      return { errMsg: 'requestPayment:ok' };
    });
    await checkout.expectCheckoutPaid(wx);
    expect(wx.calls.filter((call) => call.api === 'requestPayment')).toHaveLength(1);
  });

  it('should not show paid on a client "ok" until the gateway confirms the payment', async () => {
    let billNo: string | undefined;
    const wx = wxFor(async (params) => {
      billNo = (await billFor(params)).bill_no;
      return { errMsg: 'requestPayment:ok' };
    });
    const page = await checkout.openCart(wx);
    page.tapById('pay-button');
    await page.waitFor(() => billNo !== undefined, 10_000, 'the payment sheet');

    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(page.text()).not.toMatch(/支付成功/);
    expect(page.text()).toMatch(/确认/);
    const pending = await ordersInDatabase();
    expect(pending[pending.length - 1].status).toBe('pending');

    await h.sandbox.post(`/sandbox/bills/${billNo}/settle`).send({ result: 'paid' }).expect(200);
    await page.waitForText(/支付成功/, 30_000);
    page.unload();
  });

  it('should show cancelled with a retry that pays the same order', async () => {
    let attempts = 0;
    const wx = wxFor(async (params) => {
      attempts += 1;
      if (attempts === 1) throw { errMsg: 'requestPayment:fail cancel' };
      const bill = await billFor(params);
      await h.sandbox.post(`/sandbox/bills/${bill.bill_no}/settle`).send({ result: 'paid' }).expect(200);
      return { errMsg: 'requestPayment:ok' };
    });
    const page = await checkout.openCart(wx);
    const before = (await ordersInDatabase()).length;
    page.tapById('pay-button');
    await page.waitForText(/已取消/, 10_000);
    page.tapById('retry-payment-button');
    await page.waitForText(/支付成功/, 30_000);
    const orders = await ordersInDatabase();
    expect(orders).toHaveLength(before + 1);
    expect(orders[orders.length - 1].status).toBe('paid');
    page.unload();
  });

  it('should record a payment whose webhook is lost after the shopper closed the mini-program', async () => {
    let billNo: string | undefined;
    const wx = wxFor(async (params) => {
      billNo = (await billFor(params)).bill_no;
      // Paid at the bank, but the gateway's webhook never reaches the server.
      await h.sandbox.post(`/sandbox/bills/${billNo}/settle`).send({ result: 'paid', notify: false }).expect(200);
      return { errMsg: 'requestPayment:ok' };
    });
    const page = await checkout.openCart(wx);
    page.tapById('pay-button');
    await page.waitFor(() => billNo !== undefined, 10_000, 'the payment sheet');
    page.unload();
    await h.services.verdicts.drain();
    const orders = await ordersInDatabase();
    const order = orders[orders.length - 1];
    expect(order.status).toBe('pending');

    // Past the webhook grace, the sweeper asks the gateway. (The harness keeps the closed page's
    // confirmation loop running, so a last poll of it may ask first: either way it is one query,
    // and the sweeper alone is shown to suffice in test/server/sweeper.test.ts.)
    h.advanceClock(60_000);
    try {
      const report = await h.sweep();
      expect(report.failedChecks).toBe(0);
    } finally {
      h.advanceClock(-60_000);
    }
    expect((await ordersInDatabase()).find((row) => row.order_no === order.order_no)?.status).toBe('paid');
    const payments = await h.services.database.query<{ source: string; disposition: string }>(
      'SELECT source, disposition FROM payments WHERE order_no = $1',
      [order.order_no],
    );
    expect(payments.rows).toEqual([{ source: 'query', disposition: 'applied' }]);
    const deliveries = await h.sandbox.get(`/sandbox/bills/${billNo}/deliveries`).expect(200);
    expect(deliveries.body.deliveries).toEqual([]);
  });
});
