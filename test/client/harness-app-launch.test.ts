/**
 * The checkout page opened by a merchant's app (`pages/checkout/index?checkout=<token>`), on the
 * compiled weapp and tt bundles in the miniprogram harness, against the in-memory server double.
 * The launch scene and query come from the platform double's launch options, as WeChat gives them
 * to App `onLaunch` / `onShow`, `getLaunchOptionsSync` / `getEnterOptionsSync` and the page's
 * `onLoad`. The real server and sandbox are exercised by test/e2e/app-launch-weapp.
 */
import { rmSync } from 'node:fs';
import { buildMiniProgram } from '../support/build-miniprogram';
import { loadTtPage, loadWeappPage, MiniProgramPage } from '../support/miniprogram-harness';
import { createTtDouble } from '../support/tt-double';
import { createWxDouble, WxDouble } from '../support/wx-double';
import { FakeCheckoutServer, wxRequestTo } from './doubles/fake-checkout-server';

let weappDir: string;
let ttDir: string;

beforeAll(async () => {
  [weappDir, ttDir] = await Promise.all([
    buildMiniProgram('weapp', 'http://checkout.invalid'),
    buildMiniProgram('tt', 'http://checkout.invalid'),
  ]);
}, 240_000);

afterAll(() => {
  for (const dir of [weappDir, ttDir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

const PAID = 0;
const SCENE_FROM_APP = 1069;

interface Launch {
  scene: number;
  token?: string;
  /** `false`: a base library before 2.9.4, so only the App's onShow tells later scenes. */
  enterOptionsSupported?: boolean;
  server?: FakeCheckoutServer;
  storage?: Map<string, unknown>;
}

/** WeChat opens the page for the app's checkout; the shopper pays whatever sheet opens. */
async function launchWeapp({
  scene,
  token,
  enterOptionsSupported,
  server = new FakeCheckoutServer(),
  storage,
}: Launch) {
  const checkout = token ? { token, orderNo: '' } : server.openAppCheckout([{ sku: 'cup', quantity: 2 }]);
  const wx = createWxDouble({
    request: wxRequestTo(server),
    requestPayment: async (params) => {
      server.settle(params.package.replace('prepay_id=wx', ''), PAID);
      return { errMsg: 'requestPayment:ok' };
    },
    launch: { scene, query: { checkout: checkout.token }, path: 'pages/checkout/index' },
    enterOptionsSupported,
    storage,
  });
  const page = await loadWeappPage({ distDir: weappDir, wx });
  return { page, wx, server, ...checkout };
}

async function payAndWaitForSuccess(page: MiniProgramPage): Promise<void> {
  await page.waitFor(() => page.findById('pay-button') !== undefined, 5000, 'the pay button');
  page.tapById('pay-button');
  await page.waitForText('支付成功');
}

describe('weapp page opened by an app', () => {
  it("should claim the app's order and show it instead of the cart, with its amount on the pay button", async () => {
    const { page, server, orderNo } = await launchWeapp({ scene: SCENE_FROM_APP });

    await page.waitFor(() => page.findById('pay-button') !== undefined, 5000, 'the pay button');
    expect(page.findById('app-order')?.text).toContain('茶杯');
    expect(page.findById('app-order')?.text).toContain('×2');
    expect(page.findById('order-total')?.text).toBe('合计 ¥39.98');
    expect(page.findById('pay-button')?.text).toBe('支付 ¥39.98');
    expect(page.text()).not.toContain('龙井茶');
    expect(server.countRequests('catalog')).toBe(0);
    expect(server.countRequests('claim')).toBe(1);
    expect(server.orders.get(orderNo)?.statusCode).toBe(9);
  });

  it('should pay, then offer WeChat\'s launchApp button carrying {"orderNo","status":"paid"}', async () => {
    const { page, wx, orderNo } = await launchWeapp({ scene: SCENE_FROM_APP });

    await payAndWaitForSuccess(page);

    expect(page.findById('order-no')?.text).toBe(`订单号 ${orderNo}`);
    expect(page.findById('return-app-button')).toMatchObject({
      tag: 'button',
      text: '返回APP',
      attributes: { 'open-type': 'launchApp', 'app-parameter': JSON.stringify({ orderNo, status: 'paid' }) },
    });
    expect(page.findById('return-app-hint')).toBeUndefined();
    expect(wx.calls.filter((call) => call.api === 'requestPayment')).toHaveLength(1);
  });

  it('should turn the button into a plain instruction when WeChat refuses it (binderror)', async () => {
    const { page } = await launchWeapp({ scene: SCENE_FROM_APP });
    await payAndWaitForSuccess(page);

    page.trigger('return-app-button', 'error', { errMsg: 'launchApp:fail invalid scene' });

    await page.waitFor(() => page.findById('return-app-button') === undefined, 5000, 'the button to go');
    expect(page.findById('return-app-hint')?.text).toBe('请手动返回APP查看订单');
  });

  it('should show no return button when opened from the WeChat app list (1001), only an instruction', async () => {
    const { page } = await launchWeapp({ scene: 1001 });

    await payAndWaitForSuccess(page);

    expect(page.findById('return-app-button')).toBeUndefined();
    expect(page.findById('return-app-hint')?.text).toBe('支付已完成，请返回APP查看订单');
  });

  it("should follow the App's onShow scenes where getEnterOptionsSync is missing", async () => {
    const { page } = await launchWeapp({ scene: SCENE_FROM_APP, enterOptionsSupported: false });
    await payAndWaitForSuccess(page);
    expect(page.findById('return-app-button')).toBeDefined();

    // Back through a chat card: WeChat no longer lets the mini-program open the app.
    page.reenter({ scene: 1007 });
    await page.waitFor(() => page.findById('return-app-hint') !== undefined, 5000, 'the instruction');
    expect(page.findById('return-app-button')).toBeUndefined();

    page.reenter({ scene: SCENE_FROM_APP });
    await page.waitFor(() => page.findById('return-app-button') !== undefined, 5000, 'the button again');
  });

  it('should keep the button through the recent list (1089) after an app launch', async () => {
    const { page, wx } = await launchWeapp({ scene: SCENE_FROM_APP });
    await payAndWaitForSuccess(page);

    page.reenter({ scene: 1089 });
    await new Promise((resolve) => setTimeout(resolve, 50));

    expect(page.findById('return-app-button')).toBeDefined();
    expect((wx as WxDouble & { getEnterOptionsSync(): { scene: number } }).getEnterOptionsSync().scene).toBe(1089);
  });

  it('should explain an expired link and send the shopper back with {"error": code}', async () => {
    const server = new FakeCheckoutServer();
    const { token } = server.openAppCheckout();
    server.expireAppCheckout(token);

    const { page } = await launchWeapp({ scene: SCENE_FROM_APP, server, token });

    await page.waitForText('支付链接已过期');
    expect(page.findById('next-step-button')).toBeUndefined();
    expect(page.findById('return-app-button')).toMatchObject({
      text: '返回APP重新发起支付',
      attributes: { 'open-type': 'launchApp', 'app-parameter': '{"error":"CHECKOUT_TOKEN_EXPIRED"}' },
    });
  });

  it('should resume the order when the same client opens the same launch again', async () => {
    const server = new FakeCheckoutServer();
    const storage = new Map<string, unknown>();
    const first = await launchWeapp({ scene: SCENE_FROM_APP, server, storage });
    await payAndWaitForSuccess(first.page);
    first.page.unload();

    const again = await launchWeapp({ scene: SCENE_FROM_APP, server, storage, token: first.token });

    await again.page.waitForText('支付成功');
    expect(server.countRequests('claim')).toBe(2);
    expect(server.countRequests('pay')).toBe(1);
    expect(again.page.findById('return-app-button')?.attributes['app-parameter']).toBe(
      JSON.stringify({ orderNo: first.orderNo, status: 'paid' }),
    );
  });
});

describe('tt page opened by an app', () => {
  it('should claim and pay the app order, then show the result and a plain instruction (no launchApp on Douyin)', async () => {
    const server = new FakeCheckoutServer();
    const { token, orderNo } = server.openAppCheckout([{ sku: 'cup', quantity: 1 }]);
    const tt = createTtDouble({
      paySecret: server.douyinPaySecret,
      request: wxRequestTo(server),
      atCashier: () => 'payAlipay',
      alipayApp: async () => {
        server.settle(orderNo, PAID);
        return { resultStatus: '9000' };
      },
      launch: { scene: '011004', query: { checkout: token } },
    });
    const page = await loadTtPage({ distDir: ttDir, tt });

    await payAndWaitForSuccess(page);

    expect(page.findById('order-total')?.text).toBe('合计 ¥19.99');
    expect(page.findById('return-app-button')).toBeUndefined();
    expect(page.findById('return-app-hint')?.text).toBe('支付已完成，请返回APP查看订单');
    expect(server.countRequests('claim')).toBe(1);
  });
});
