import { rmSync } from 'node:fs';
import { DEVELOPMENT_SECRETS } from '../../server/config';
import { wechatPaySign } from '../../server/sandbox/shared/signing';
import { buildMiniProgram } from '../support/build-miniprogram';
import { CheckoutHarness, startHarness } from '../support/checkout-harness';
import { STORAGES, TestDatabase } from '../support/databases';
import { loadSimulatedWeappPage, SimulatedWeappPage } from '../support/simulated-weapp';
import { createWxDouble, WxDouble, WxPaymentParams } from '../support/wx-double';

/**
 * The compiled `dist/weapp` page as WeChat renders it: miniprogram-simulate compiles the bundle's
 * WXML with WeChat's `wcc` and builds the element tree with WeChat's exparser (see
 * test/support/simulated-weapp.ts). The test reads only the rendered tree and taps only rendered
 * elements; a template that renders Taro's data wrongly fails here even where
 * weapp-checkout.test.ts (which reads Taro's page data) passes. Real checkout server, real
 * sandbox; the `wx` double checks `paySign` and "pays" by settling the bill in the sandbox, whose
 * webhook tells the server.
 */
const PAY_KEY = 'e2e-merchant-key-0123456789abcdef';
// PostgreSQL when CI provides it (the production shape), PGlite otherwise.
const storage = STORAGES[STORAGES.length - 1];
const SCENE_FROM_APP = 1069;
/** How long the server waits for a webhook before asking the gateway (set here, not assumed). */
const WEBHOOK_GRACE_SECONDS = 10;
const merchantAuth = { authorization: `Bearer ${DEVELOPMENT_SECRETS.merchantApiKey}` };

/** What the shopper does at WeChat's payment sheet, given the sandbox bill it shows. */
type AtPaymentSheet = (bill: { bill_no: string; total_fee: number }) => Promise<{ errMsg: string }>;

describe(`WeChat checkout rendered by miniprogram-simulate (compiled bundle, ${storage.name})`, () => {
  let database: TestDatabase;
  let h: CheckoutHarness;
  let distDir: string;

  beforeAll(async () => {
    database = await storage.open();
    h = await startHarness(database.db, {
      sandbox: { wechatPayKey: PAY_KEY },
      env: { WEBHOOK_GRACE_SECONDS: String(WEBHOOK_GRACE_SECONDS) },
    });
    distDir = await buildMiniProgram('weapp', h.services.serverUrl);
  }, 180_000);

  afterAll(async () => {
    await h?.close();
    await database?.dispose();
    if (distDir) rmSync(distDir, { recursive: true, force: true });
  });

  /** WeChat checks paySign with the merchant key before it shows the sheet, then the shopper acts. */
  function paymentSheet(atSheet: AtPaymentSheet) {
    return async (params: WxPaymentParams) => {
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
      const prepayId = params.package.replace(/^prepay_id=/, '');
      const { bills } = (await h.sandbox.get('/sandbox/bills').expect(200)).body as {
        bills: Array<{ bill_no: string; prepay_id?: string; total_fee: number }>;
      };
      const bill = bills.find((candidate) => candidate.prepay_id === prepayId);
      if (!bill) throw { errMsg: 'requestPayment:fail prepay_id unknown' };
      return atSheet(bill);
    };
  }

  async function settle(billNo: string, result: 'paid' | 'failed'): Promise<void> {
    await h.sandbox.post(`/sandbox/bills/${billNo}/settle`).send({ result }).expect(200);
  }

  const paysAtSheet: AtPaymentSheet = async (bill) => {
    await settle(bill.bill_no, 'paid');
    return { errMsg: 'requestPayment:ok' };
  };

  function wxFor(atSheet: AtPaymentSheet, launch?: { scene: number; path: string }): WxDouble {
    const url = launch && new URL(launch.path, 'https://servicewechat.com/');
    return createWxDouble({
      async login() {
        const minted = await h.sandbox.post('/sandbox/wechat/codes').send({}).expect(201);
        return { code: minted.body.code as string };
      },
      requestPayment: paymentSheet(atSheet),
      launch: url && {
        scene: launch.scene,
        path: url.pathname.replace(/^\//, ''),
        query: Object.fromEntries(url.searchParams),
      },
    });
  }

  async function lastOrder() {
    const { rows } = await h.services.database.query<{ order_no: string; status: string; amount: number }>(
      'SELECT order_no, status, amount FROM orders ORDER BY created_at DESC LIMIT 1',
    );
    return rows[0];
  }

  async function openCart(wx: WxDouble): Promise<SimulatedWeappPage> {
    const page = await loadSimulatedWeappPage({ distDir, wx });
    await page.waitFor(() => page.find('#pay-button') !== undefined, 10_000, 'the cart and its pay button');
    return page;
  }

  function yuan(fen: number): string {
    return `¥${(fen / 100).toFixed(2)}`;
  }

  it('should render the amount, pay on a tap of the rendered button, and render 支付成功 once the server knows', async () => {
    const wx = wxFor(paysAtSheet);
    const page = await openCart(wx);
    const shownTotal = page.find('#cart-total')?.text;
    const payButton = page.find('#pay-button');
    expect(payButton).toMatchObject({ tag: 'button', attributes: { type: 'primary' } });
    expect(payButton?.text).toMatch(/^支付 ¥\d+\.\d{2}$/);
    expect(shownTotal).toBe(`合计 ${payButton?.text.replace(/^支付 /, '')}`);

    page.tap('#pay-button');
    await page.waitForText(/支付成功/, 30_000);

    const order = await lastOrder();
    expect(order.status).toBe('paid');
    // What the cart showed is what the server charged.
    expect(payButton?.text).toBe(`支付 ${yuan(order.amount)}`);
    expect(page.find('#order-no')?.text).toBe(`订单号 ${order.order_no}`);
    expect(page.text()).toContain(`实付 ${yuan(order.amount)}`);
    expect(page.find('#pay-button')).toBeUndefined();
    const payments = await h.services.database.query<{ source: string; disposition: string; amount: number }>(
      'SELECT source, disposition, amount FROM payments WHERE order_no = $1',
      [order.order_no],
    );
    expect(payments.rows).toEqual([{ source: 'webhook', disposition: 'applied', amount: order.amount }]);
    page.unload();
  });

  it('should render 已取消 with 重新支付 after the shopper closes the sheet, and pay the same order on a tap of it', async () => {
    let sheets = 0;
    const wx = wxFor(async (bill) => {
      sheets += 1;
      if (sheets === 1) throw { errMsg: 'requestPayment:fail cancel' };
      return paysAtSheet(bill);
    });
    const page = await openCart(wx);
    page.tap('#pay-button');
    await page.waitForText(/已取消/, 10_000);
    expect(page.find('#retry-payment-button')).toMatchObject({ tag: 'button', text: '重新支付' });
    expect(page.text()).not.toMatch(/支付成功/);
    const cancelled = await lastOrder();
    expect(cancelled.status).toBe('pending');

    page.tap('#retry-payment-button');
    await page.waitForText(/支付成功/, 30_000);
    const paid = await lastOrder();
    expect(paid).toMatchObject({ order_no: cancelled.order_no, status: 'paid' });
    expect(page.find('#order-no')?.text).toBe(`订单号 ${paid.order_no}`);
    expect(sheets).toBe(2);
    page.unload();
  });

  it('should render the failure the gateway reported with 重新支付, which pays the same order with a new bill', async () => {
    const billsShown: string[] = [];
    let clockAdvancedMs = 0;
    const wx = wxFor(async (bill) => {
      billsShown.push(bill.bill_no);
      if (billsShown.length > 1) return paysAtSheet(bill);
      // The bank declined. The sheet closes as usual and the gateway sends no webhook for a failure
      // (WeChat Pay notifies payments only): the server asks the gateway once the webhook grace has
      // passed, which the server's clock is moved past rather than waited for.
      await settle(bill.bill_no, 'failed');
      clockAdvancedMs = WEBHOOK_GRACE_SECONDS * 1000;
      h.advanceClock(clockAdvancedMs);
      return { errMsg: 'requestPayment:ok' };
    });
    try {
      const page = await openCart(wx);
      page.tap('#pay-button');
      await page.waitFor(() => page.find('#next-step-button') !== undefined, 30_000, 'the failure and its next step');
      expect(page.find('#error-message')?.text).toBe('支付失败，请重新支付');
      expect(page.find('#next-step-button')).toMatchObject({ tag: 'button', text: '重新支付' });
      expect(page.text()).not.toMatch(/支付成功/);
      const failed = await lastOrder();

      page.tap('#next-step-button');
      await page.waitForText(/支付成功/, 30_000);
      expect(await lastOrder()).toMatchObject({ order_no: failed.order_no, status: 'paid' });
      expect(new Set(billsShown).size).toBe(2);
      page.unload();
    } finally {
      h.advanceClock(-clockAdvancedMs);
    }
  });

  it("should render the app's order and, once paid, a 返回APP button that hands the app the server's status", async () => {
    const { body: checkout } = await h.api
      .post('/api/merchant/checkouts')
      .set(merchantAuth)
      .send({ items: [{ sku: 'ceramic-mug', quantity: 2 }], appUserId: 'app-user-42' })
      .expect(201);
    const wx = wxFor(paysAtSheet, { scene: SCENE_FROM_APP, path: checkout.launch.weapp.path });
    const page = await loadSimulatedWeappPage({ distDir, wx });
    await page.waitFor(() => page.find('#pay-button') !== undefined, 10_000, "the app's order");
    expect(page.find('#order-total')?.text).toBe(`合计 ${yuan(checkout.amount)}`);
    expect(page.find('#pay-button')?.text).toBe(`支付 ${yuan(checkout.amount)}`);
    expect(page.find('#cart')).toBeUndefined();
    expect(page.find('#return-app-button')).toBeUndefined();

    page.tap('#pay-button');
    await page.waitForText(/支付成功/, 30_000);
    const order = (await h.api.get(`/api/merchant/orders/${checkout.orderNo}`).set(merchantAuth).expect(200)).body
      .order;
    expect(order).toMatchObject({ status: 'paid', claimed: true, amount: checkout.amount });
    expect(page.find('#return-app-button')).toMatchObject({
      tag: 'button',
      text: '返回APP',
      attributes: {
        openType: 'launchApp',
        appParameter: JSON.stringify({ orderNo: checkout.orderNo, status: 'paid' }),
      },
    });

    page.tap('#return-app-button');
    expect(page.launchedApps).toEqual([
      { appParameter: JSON.stringify({ orderNo: checkout.orderNo, status: 'paid' }) },
    ]);

    // WeChat refuses to open the app (e.g. the app is not installed): the button's binderror.
    page.trigger('#return-app-button', 'error', { errMsg: 'launchApp:fail' });
    await page.waitFor(() => page.find('#return-app-button') === undefined, 5000, 'the refused button to go');
    expect(page.find('#return-app-hint')?.text).toBe('请手动返回APP查看订单');
    expect(page.text()).toContain('支付成功');
    page.unload();
  });
});
