/**
 * Drives the compiled tt bundle through the miniprogram harness with the `tt` double, against
 * the in-memory server double (requests are answered by path, so the baked-in address does not
 * matter). The real server and sandbox are exercised by test/e2e/tt-checkout on the same build.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildMiniProgram } from '../support/build-miniprogram';
import { loadTtPage, MiniProgramPage } from '../support/miniprogram-harness';
import { CashierChoice, createTtDouble, OpenCashier, TtDouble } from '../support/tt-double';
import { FakeCheckoutServer, wxRequestTo } from './doubles/fake-checkout-server';

let distDir: string;

beforeAll(async () => {
  distDir = await buildMiniProgram('tt', 'http://checkout.invalid');
}, 180_000);

afterAll(() => {
  if (distDir) rmSync(distDir, { recursive: true, force: true });
});

const PAID = 0;

interface Shopper {
  atCashier?: (cashier: OpenCashier, server: FakeCheckoutServer) => CashierChoice | Promise<CashierChoice>;
  paySecret?: string;
}

async function openCheckoutPage({ atCashier, paySecret }: Shopper = {}): Promise<{
  page: MiniProgramPage;
  tt: TtDouble;
  server: FakeCheckoutServer;
}> {
  const server = new FakeCheckoutServer();
  const tt = createTtDouble({
    paySecret: paySecret ?? server.douyinPaySecret,
    request: wxRequestTo(server),
    atCashier: (cashier) => (atCashier ? atCashier(cashier, server) : 'payAlipay'),
    alipayApp: async (orderString) => {
      const orderNo = /"out_trade_no":"(\w+)"/.exec(orderString)?.[1];
      if (!orderNo) return { resultStatus: '4000' };
      server.settle(orderNo, PAID);
      return { resultStatus: '9000' };
    },
  });
  const page = await loadTtPage({ distDir, tt });
  await page.waitFor(() => page.findById('pay-button') !== undefined, 5000, 'the cart');
  return { page, tt, server };
}

describe('tt bundle in the miniprogram harness', () => {
  it('should build Douyin templates and the Douyin IDE project file', () => {
    expect(existsSync(join(distDir, 'base.ttml'))).toBe(true);
    expect(existsSync(join(distDir, 'utils.sjs'))).toBe(true);
    const projectConfig = JSON.parse(readFileSync(join(distDir, 'project.config.json'), 'utf8'));
    expect(projectConfig).toMatchObject({ miniprogramRoot: './', compileType: 'miniprogram' });
  });

  it('should render the cart from the catalogue', async () => {
    const { page } = await openCheckoutPage();
    expect(page.text()).toContain('龙井茶');
    expect(page.findById('pay-button')?.text).toBe('支付 ¥20.00');
  });

  it('should log in with code and anonymousCode, pay through tt.pay, and show success once the server confirms', async () => {
    const { page, tt, server } = await openCheckoutPage();

    page.tapById('pay-button');
    await page.waitForText('支付成功');

    const sessionRequest = server.requests.find((request) => request.path === '/api/session');
    expect(sessionRequest?.body).toEqual({ platform: 'tt', code: 'tt-code-1', anonymousCode: 'tt-anonymous-code-1' });
    const payRequest = server.requests.find((request) => request.path.endsWith('/pay'));
    expect(payRequest?.body).toEqual({ platform: 'tt' });
    const payCall = tt.calls.find((call) => call.api === 'pay');
    expect(payCall?.options).toMatchObject({ service: 1, orderInfo: { out_order_no: [...server.orders.keys()][0] } });
    expect(tt.cashiers.map((cashier) => cashier.reportedCode)).toEqual([PAID]);
    expect(tt.problems).toEqual([]);
  });

  it('should show 已取消 with 重新支付 when the shopper cancels, and pay the same order on retry', async () => {
    let opened = 0;
    const { page, server, tt } = await openCheckoutPage({ atCashier: () => (++opened === 1 ? 'cancel' : 'payAlipay') });

    page.tapById('pay-button');
    await page.waitForText('已取消');
    page.tapById('retry-payment-button');
    await page.waitForText('支付成功');

    expect(server.orders.size).toBe(1);
    expect(tt.cashiers.map((cashier) => cashier.reportedCode)).toEqual([4, PAID]);
  });

  it('should recover when the cashier closes without any callback and the page shows again', async () => {
    const { page, tt } = await openCheckoutPage({
      atCashier: ({ orderInfo }, server) => {
        server.settle(String(orderInfo.out_order_no), PAID);
        return 'closeWithoutCallback';
      },
    });

    page.tapById('pay-button');
    await page.waitFor(() => tt.cashiers.length === 1, 5000, 'the cashier');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(page.text()).toContain('正在拉起支付');

    page.hide();
    page.show();
    await page.waitForText('支付成功', 5000);
    expect(tt.problems).toEqual([]);
  });

  it('should show a Chinese message and a new order when Douyin refuses the orderInfo sign', async () => {
    const { page, tt } = await openCheckoutPage({ paySecret: 'not-the-server-secret' });

    page.tapById('pay-button');
    await page.waitForText('支付参数校验失败，请重新下单');
    expect(page.text()).not.toContain('已取消');
    expect(page.findById('next-step-button')?.text).toBe('重新下单');
    expect(tt.cashiers).toHaveLength(0);
  });
});
