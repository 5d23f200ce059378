/**
 * Drives the compiled weapp bundle through the miniprogram harness against the in-memory
 * server double (requests are answered by path, so the baked-in address does not matter).
 * The real server and sandbox are exercised by test/e2e on the same kind of build.
 */
import { rmSync } from 'node:fs';
import { buildMiniProgram } from '../support/build-miniprogram';
import { loadWeappPage, WeappPage } from '../support/miniprogram-harness';
import { createWxDouble, WxDouble, WxPaymentParams } from '../support/wx-double';
import { FakeCheckoutServer, wxRequestTo } from './doubles/fake-checkout-server';

let distDir: string;

beforeAll(async () => {
  distDir = await buildMiniProgram('weapp', 'http://checkout.invalid');
}, 180_000);

afterAll(() => {
  if (distDir) rmSync(distDir, { recursive: true, force: true });
});

const PAID = 0;

interface Shopper {
  /** What the shopper does at the WeChat payment sheet. */
  atPaymentSheet?: (params: WxPaymentParams, server: FakeCheckoutServer) => Promise<{ errMsg: string }>;
}

async function openCheckoutPage({ atPaymentSheet }: Shopper = {}): Promise<{
  page: WeappPage;
  wx: WxDouble;
  server: FakeCheckoutServer;
}> {
  const server = new FakeCheckoutServer();
  const orderNoOf = (params: WxPaymentParams) => params.package.replace('prepay_id=wx', '');
  const wx = createWxDouble({
    request: wxRequestTo(server),
    requestPayment:
      atPaymentSheet === undefined
        ? async (params) => {
            server.settle(orderNoOf(params), PAID);
            return { errMsg: 'requestPayment:ok' };
          }
        : (params) => atPaymentSheet(params, server),
  });
  const page = await loadWeappPage({ distDir, wx });
  await page.waitFor(() => page.findById('pay-button') !== undefined, 5000, 'the cart');
  return { page, wx, server };
}

describe('weapp bundle in the miniprogram harness', () => {
  it('should render the cart from the catalogue with the total on the pay button', async () => {
    const { page, server } = await openCheckoutPage();

    expect(page.text()).toContain('龙井茶');
    expect(page.text()).toContain('茶杯');
    expect(page.findById('cart-total')?.text).toBe('合计 ¥20.00');
    expect(page.findById('pay-button')).toMatchObject({
      tag: 'button',
      text: '支付 ¥20.00',
      attributes: { disabled: false, type: 'primary' },
    });
    expect(server.countRequests('catalog')).toBe(1);
  });

  it('should update the total from the quantity stepper', async () => {
    const { page } = await openCheckoutPage();

    page.tapById('increase-cup');
    await page.waitForText('支付 ¥39.99');
    page.tapById('decrease-tea');
    await page.waitForText('支付 ¥39.98');
    expect(page.findById('decrease-tea')?.attributes.disabled).toBe(true);
  });

  it('should pay and show success only after the server confirms', async () => {
    const { page, wx, server } = await openCheckoutPage();

    page.tapById('pay-button');
    await page.waitForText('支付成功');

    const orderNo = [...server.orders.keys()][0];
    expect(page.findById('order-no')?.text).toBe(`订单号 ${orderNo}`);
    expect(page.text()).toContain('实付 ¥20.00');
    const paymentCall = wx.calls.find((call) => call.api === 'requestPayment');
    expect(paymentCall?.options).toEqual({
      timeStamp: '1700000000',
      nonceStr: `nonce${orderNo}`,
      package: `prepay_id=wx${orderNo}`,
      signType: 'MD5',
      paySign: 'C380BEC2BFD727A4B6845133519F3AD6',
    });
    expect(wx.calls.filter((call) => call.api === 'login')).toHaveLength(1);
    expect(server.countRequests('status')).toBeGreaterThanOrEqual(1);
  });

  it('should show 已取消 with 重新支付, and pay the same order on retry', async () => {
    let sheetsOpened = 0;
    const { page, server } = await openCheckoutPage({
      atPaymentSheet: async (params, fakeServer) => {
        sheetsOpened += 1;
        if (sheetsOpened === 1) throw { errMsg: 'requestPayment:fail cancel' };
        fakeServer.settle(params.package.replace('prepay_id=wx', ''), PAID);
        return { errMsg: 'requestPayment:ok' };
      },
    });

    page.tapById('pay-button');
    await page.waitForText('已取消');
    expect(page.findById('retry-payment-button')?.text).toBe('重新支付');

    page.tapById('retry-payment-button');
    await page.waitForText('支付成功');
    expect(server.orders.size).toBe(1);
    expect(server.countRequests('pay')).toBe(2);
  });

  it('should show a Chinese message and a next step when the payment sheet fails', async () => {
    const { page } = await openCheckoutPage({
      atPaymentSheet: async () => {
        throw { errMsg: 'requestPayment:fail 支付验证签名失败' };
      },
    });

    page.tapById('pay-button');
    await page.waitForText('支付参数校验失败，请重新下单');
    expect(page.text()).not.toContain('已取消');
    expect(page.findById('next-step-button')?.text).toBe('重新下单');

    page.tapById('next-step-button');
    await page.waitForText('支付 ¥20.00');
  });
});
