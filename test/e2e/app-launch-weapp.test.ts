import { rmSync } from 'node:fs';
import { DEVELOPMENT_SECRETS } from '../../server/config';
import { buildMiniProgram } from '../support/build-miniprogram';
import { CheckoutHarness, startHarness } from '../support/checkout-harness';
import { STORAGES, TestDatabase } from '../support/databases';
import { loadWeappPage, MiniProgramPage } from '../support/miniprogram-harness';
import { createWxDouble, WxDouble, WxPaymentParams } from '../support/wx-double';

/**
 * A merchant's app opens the compiled `dist/weapp` bundle for its own order: the app's backend
 * creates the checkout through the merchant API, WeChat opens `launch.weapp.path` (scene 1069 for
 * `WXLaunchMiniProgramReq`), the page claims the order with the launch token and pays it through
 * the sandbox; afterwards WeChat's `open-type="launchApp"` button carries the server's status back
 * to the app. Real checkout server, real sandbox, `wx` double as in weapp-checkout.test.ts.
 */
// PostgreSQL when CI provides it (the production shape), PGlite otherwise.
const storage = STORAGES[STORAGES.length - 1];
const SCENE_FROM_APP = 1069;
const merchantAuth = { authorization: `Bearer ${DEVELOPMENT_SECRETS.merchantApiKey}` };

interface MerchantCheckout {
  orderNo: string;
  amount: number;
  launch: { weapp: { userName: string; path: string }; tt: { path: string } };
}

describe(`App-launched WeChat checkout end to end (compiled bundle, ${storage.name})`, () => {
  let database: TestDatabase;
  let h: CheckoutHarness;
  let distDir: string;

  beforeAll(async () => {
    database = await storage.open();
    // The sandbox gateway enables the merchant API with DEVELOPMENT_SECRETS.merchantApiKey.
    h = await startHarness(database.db);
    distDir = await buildMiniProgram('weapp', h.services.serverUrl);
  }, 180_000);

  afterAll(async () => {
    await h?.close();
    await database?.dispose();
    if (distDir) rmSync(distDir, { recursive: true, force: true });
  });

  /** What the app's backend does: `POST /api/merchant/checkouts`. */
  async function createCheckout(): Promise<MerchantCheckout> {
    const response = await h.api
      .post('/api/merchant/checkouts')
      .set(merchantAuth)
      .send({ items: [{ sku: 'ceramic-mug', quantity: 2 }], appUserId: 'app-user-42', attach: { cart: 'A-1' } })
      .expect(201);
    return response.body;
  }

  async function merchantOrder(orderNo: string) {
    return (await h.api.get(`/api/merchant/orders/${orderNo}`).set(merchantAuth).expect(200)).body.order;
  }

  /** The shopper pays at WeChat's sheet: the sandbox settles the bill and sends the gateway's webhook. */
  async function payInSandbox(params: WxPaymentParams): Promise<{ errMsg: string }> {
    const prepayId = params.package.replace(/^prepay_id=/, '');
    const { bills } = (await h.sandbox.get('/sandbox/bills').expect(200)).body as {
      bills: Array<{ bill_no: string; prepay_id?: string }>;
    };
    const bill = bills.find((candidate) => candidate.prepay_id === prepayId);
    if (!bill) throw { errMsg: 'requestPayment:fail prepay_id unknown' };
    await h.sandbox.post(`/sandbox/bills/${bill.bill_no}/settle`).send({ result: 'paid' }).expect(200);
    return { errMsg: 'requestPayment:ok' };
  }

  /** WeChat opens `launch.weapp.path` in a scene; `storage` is the shopper's WeChat storage (a fresh client gets its own). */
  async function launch(
    path: string,
    scene: number,
    storage = new Map<string, unknown>(),
  ): Promise<{ page: MiniProgramPage; wx: WxDouble }> {
    const url = new URL(path, 'https://servicewechat.com/');
    const wx = createWxDouble({
      async login() {
        const minted = await h.sandbox.post('/sandbox/wechat/codes').send({}).expect(201);
        return { code: minted.body.code as string };
      },
      requestPayment: payInSandbox,
      storage,
      launch: { scene, path: url.pathname.replace(/^\//, ''), query: Object.fromEntries(url.searchParams) },
    });
    const page = await loadWeappPage({ distDir, wx });
    return { page, wx };
  }

  async function tapPayAndWaitForSuccess(page: MiniProgramPage): Promise<void> {
    await page.waitFor(() => page.findById('pay-button') !== undefined, 10_000, 'the app order and its pay button');
    page.tapById('pay-button');
    await page.waitForText(/支付成功/, 30_000);
  }

  it("should claim the app's order, pay it, and offer launchApp with the server's paid status (scene 1069)", async () => {
    const checkout = await createCheckout();
    expect(checkout.launch.weapp.path).toMatch(/^pages\/checkout\/index\?checkout=/);
    const { page, wx } = await launch(checkout.launch.weapp.path, SCENE_FROM_APP);

    await page.waitFor(() => page.findById('pay-button') !== undefined, 10_000, 'the app order');
    expect(page.findById('order-total')?.text).toBe('合计 ¥90.00');
    expect(page.findById('pay-button')?.text).toBe('支付 ¥90.00');
    expect(page.findById('cart')).toBeUndefined();
    await tapPayAndWaitForSuccess(page);

    expect(page.findById('order-no')?.text).toContain(checkout.orderNo);
    expect(page.findById('return-app-button')).toMatchObject({
      tag: 'button',
      attributes: { 'open-type': 'launchApp', 'app-parameter': `{"orderNo":"${checkout.orderNo}","status":"paid"}` },
    });
    expect(page.findById('return-app-hint')).toBeUndefined();
    expect(await merchantOrder(checkout.orderNo)).toMatchObject({
      status: 'paid',
      code: 0,
      claimed: true,
      amount: 9000,
      appUserId: 'app-user-42',
      attach: { cart: 'A-1' },
      payments: [{ amount: 9000, channel: 'WX_MINI', disposition: 'applied' }],
    });
    expect(wx.calls.filter((call) => call.api === 'requestPayment')).toHaveLength(1);
    page.unload();
  });

  it('should pay without a return button when opened from the WeChat app list (scene 1001), with a plain instruction', async () => {
    const checkout = await createCheckout();
    const { page } = await launch(checkout.launch.weapp.path, 1001);

    await tapPayAndWaitForSuccess(page);

    expect(page.findById('return-app-button')).toBeUndefined();
    expect(page.findById('return-app-hint')?.text).toBe('支付已完成，请返回APP查看订单');
    expect((await merchantOrder(checkout.orderNo)).status).toBe('paid');
    page.unload();
  });

  it('should tell a fresh client that the launch was opened already, and resume it on the client that claimed it', async () => {
    const checkout = await createCheckout();
    const shopperStorage = new Map<string, unknown>();
    const first = await launch(checkout.launch.weapp.path, SCENE_FROM_APP, shopperStorage);
    await first.page.waitFor(() => first.page.findById('pay-button') !== undefined, 10_000, 'the claimed order');
    first.page.unload();

    const fresh = await launch(checkout.launch.weapp.path, SCENE_FROM_APP);
    await fresh.page.waitForText('该订单已被打开过，无法重复打开', 10_000);
    expect(fresh.page.findById('pay-button')).toBeUndefined();
    expect(fresh.page.findById('return-app-button')).toMatchObject({
      text: '返回APP重新发起支付',
      attributes: { 'open-type': 'launchApp', 'app-parameter': '{"error":"CHECKOUT_TOKEN_USED"}' },
    });
    fresh.page.unload();

    const reopened = await launch(checkout.launch.weapp.path, SCENE_FROM_APP, shopperStorage);
    await tapPayAndWaitForSuccess(reopened.page);
    expect(reopened.page.findById('order-no')?.text).toContain(checkout.orderNo);
    expect((await merchantOrder(checkout.orderNo)).status).toBe('paid');
    reopened.page.unload();
  });
});
