import { cartShown, startBundleCheckout } from './bundle-checkout';
import type { CheckoutHarness } from './checkout-harness';
import { loadTtPage, type MiniProgramPage } from './miniprogram-harness';
import { createTtDouble, TtDouble, TtDoubleOptions } from './tt-double';

/** The storage these tests run on, for their names. */
export { E2E_STORAGE } from './bundle-checkout';

/** A payment as the server's database holds it (`amount` in fen). */
export interface PaymentRow {
  channel: string;
  source: string;
  disposition: string;
  amount: number;
}

/** An order as the server's database holds it (`amount` in fen). */
export interface OrderStateRow {
  status: string;
  amount: number;
  paid_at: Date | null;
}

/**
 * The setup the compiled `dist/tt` bundle's end-to-end tests share, whichever Douyin payment the
 * server is set up for: a real checkout server and sandbox (PostgreSQL when CI provides it, the
 * production shape; PGlite otherwise), the bundle built against that server, `tt` doubles whose
 * login mints real Douyin codes in the sandbox, and what the database holds for an order.
 */
export interface TtBundle {
  h: CheckoutHarness;
  /**
   * A `tt` double (`options` as `createTtDouble` takes them, but for `login`, which mints a code
   * in the sandbox's Douyin) and the bundle's page loaded with it, once the page shows the cart
   * (its Pay button; 10 s at most, else the wait throws).
   */
  openCheckoutPage(options: Omit<TtDoubleOptions, 'login'>): Promise<{ page: MiniProgramPage; tt: TtDouble }>;
  /** The order number of the order bill `billNo` belongs to; throws when no stored bill has that number. */
  orderNoOfBill(billNo: string): Promise<string>;
  /** The order's payments, oldest first, with only `columns` read. */
  paymentsOf<Column extends keyof PaymentRow>(
    orderNo: string,
    columns: readonly Column[],
  ): Promise<Array<Pick<PaymentRow, Column>>>;
  /** The stored order; throws when there is none. */
  orderInDatabase(orderNo: string): Promise<OrderStateRow>;
  /** The stored order's status (`pending`, `paid`, …); throws when there is none. */
  orderStatus(orderNo: string): Promise<string>;
  /** Stops the server and sandbox, drops the database and removes the built bundle. */
  close(): Promise<void>;
}

/**
 * Starts the server with `env` (e.g. `TT_PAYMENT_PROVIDER`) and builds the `tt` bundle against it;
 * takes a minute or two. What was started is stopped again when the start or the build fails.
 */
export async function startTtBundle(env: Record<string, string>): Promise<TtBundle> {
  const { h: harness, distDir: builtDir, close } = await startBundleCheckout('tt', { env });
  const db = harness.services.database;

  const orderInDatabase = async (orderNo: string): Promise<OrderStateRow> => {
    const { rows } = await db.query<OrderStateRow>('SELECT status, amount, paid_at FROM orders WHERE order_no = $1', [
      orderNo,
    ]);
    if (!rows[0]) throw new Error(`no order ${orderNo} in the database`);
    return rows[0];
  };

  return {
    h: harness,
    async openCheckoutPage(options) {
      const tt = createTtDouble({
        ...options,
        async login() {
          const minted = await harness.sandbox.post('/sandbox/douyin/codes').send({}).expect(201);
          return { code: minted.body.code, anonymousCode: minted.body.anonymousCode };
        },
      });
      return { page: await cartShown(await loadTtPage({ distDir: builtDir, tt })), tt };
    },
    async orderNoOfBill(billNo) {
      const { rows } = await db.query<{ order_no: string }>('SELECT order_no FROM bills WHERE bill_no = $1', [billNo]);
      if (!rows[0]) throw new Error(`no bill ${billNo} in the database`);
      return rows[0].order_no;
    },
    async paymentsOf(orderNo, columns) {
      // `columns` are names of PaymentRow's keys, never outside input: safe to put in the SQL.
      const { rows } = await db.query<Pick<PaymentRow, (typeof columns)[number]>>(
        `SELECT ${columns.join(', ')} FROM payments WHERE order_no = $1 ORDER BY received_at`,
        [orderNo],
      );
      return rows;
    },
    orderInDatabase,
    orderStatus: async (orderNo) => (await orderInDatabase(orderNo)).status,
    close,
  };
}
