import type { StartOptions } from '../../server/services';
import { cartShown, E2E_STORAGE, startBundleCheckout } from './bundle-checkout';
import type { CheckoutHarness } from './checkout-harness';
import { loadWeappPage, type MiniProgramPage } from './miniprogram-harness';
import { createWxDouble, WxDouble, WxPaymentParams } from './wx-double';

export { E2E_STORAGE };

/** An order as the server's database holds it. */
export interface OrderRow {
  order_no: string;
  status: string;
  amount: number;
}

/**
 * The setup of the compiled weapp bundle's end-to-end tests: a real checkout server and sandbox
 * (PostgreSQL when CI provides it, the production shape; PGlite otherwise), the bundle built
 * against that server, and a `wx` double whose login mints real sandbox codes.
 */
export interface WeappCheckout {
  storageName: string;
  h: CheckoutHarness;
  distDir: string;
  /** A `wx` double whose `requestPayment` is what WeChat's payment sheet does (`atPaymentSheet`). */
  wxFor(atPaymentSheet: (params: WxPaymentParams) => Promise<{ errMsg: string }>): ReturnType<typeof createWxDouble>;
  /** Every order in the server's database, oldest first. */
  ordersInDatabase(): Promise<OrderRow[]>;
  /** The bundle's page loaded with `wx`, once it shows the cart (its Pay button). */
  openCart(wx: WxDouble): Promise<MiniProgramPage>;
  /**
   * The shopper's whole happy path, whoever takes the payment: opens the cart with `wx`, taps Pay
   * and waits (30 s at most) for 支付成功; then checks that this made one order, which the page
   * names and the server holds paid by one `applied` payment of its amount, learnt from the
   * provider's notification. Returns that order; the page is unloaded.
   */
  expectCheckoutPaid(wx: WxDouble): Promise<OrderRow>;
  close(): Promise<void>;
}

/**
 * Starts the server (with `options`, e.g. `env`) and builds the bundle against it; takes a minute
 * or two. What was started is stopped again when the start or the build fails.
 */
export async function startWeappCheckout(
  options: Omit<StartOptions, 'database' | 'clock'> & { env?: Record<string, string> } = {},
): Promise<WeappCheckout> {
  const { h: harness, distDir: builtDir, close } = await startBundleCheckout('weapp', options);
  const ordersInDatabase = async (): Promise<OrderRow[]> => {
    const { rows } = await harness.services.database.query<OrderRow>(
      'SELECT order_no, status, amount FROM orders ORDER BY created_at',
    );
    return rows;
  };
  const openCart = async (wx: WxDouble): Promise<MiniProgramPage> => {
    return cartShown(await loadWeappPage({ distDir: builtDir, wx }));
  };
  return {
    storageName: E2E_STORAGE.name,
    h: harness,
    distDir: builtDir,
    wxFor: (atPaymentSheet) =>
      createWxDouble({
        async login() {
          const minted = await harness.sandbox.post('/sandbox/wechat/codes').send({}).expect(201);
          return { code: minted.body.code as string };
        },
        requestPayment: atPaymentSheet,
      }),
    ordersInDatabase,
    openCart,
    async expectCheckoutPaid(wx) {
      const page = await openCart(wx);
      const before = (await ordersInDatabase()).length;
      page.tapById('pay-button');
      await page.waitForText(/支付成功/, 30_000);
      const orders = await ordersInDatabase();
      expect(orders).toHaveLength(before + 1);
      const order = orders[orders.length - 1];
      expect(order.status).toBe('paid');
      expect(page.findById('order-no')?.text).toContain(order.order_no);
      const payments = await harness.services.database.query<{ source: string; disposition: string; amount: number }>(
        'SELECT source, disposition, amount FROM payments WHERE order_no = $1',
        [order.order_no],
      );
      expect(payments.rows).toEqual([{ source: 'webhook', disposition: 'applied', amount: order.amount }]);
      page.unload();
      return order;
    },
    close,
  };
}
