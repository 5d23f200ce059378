import { rmSync } from 'node:fs';
import type { StartOptions } from '../../server/services';
import { buildMiniProgram } from './build-miniprogram';
import { CheckoutHarness, startHarness } from './checkout-harness';
import { STORAGES, TestDatabase } from './databases';
import { createWxDouble, WxPaymentParams } from './wx-double';

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
  ordersInDatabase(): Promise<Array<{ order_no: string; status: string; amount: number }>>;
  close(): Promise<void>;
}

/** The storage the end-to-end tests run on. */
export const E2E_STORAGE = STORAGES[STORAGES.length - 1];

/** Starts the server (with `options`, e.g. `env`) and builds the bundle against it; takes a minute or two. */
export async function startWeappCheckout(
  options: Omit<StartOptions, 'database' | 'clock'> & { env?: Record<string, string> } = {},
): Promise<WeappCheckout> {
  const database: TestDatabase = await E2E_STORAGE.open();
  let h: CheckoutHarness | undefined;
  let distDir: string | undefined;
  const close = async () => {
    await h?.close();
    await database.dispose();
    if (distDir) rmSync(distDir, { recursive: true, force: true });
  };
  try {
    h = await startHarness(database.db, options);
    distDir = await buildMiniProgram('weapp', h.services.serverUrl);
  } catch (error) {
    await close();
    throw error;
  }
  const harness = h;
  return {
    storageName: E2E_STORAGE.name,
    h: harness,
    distDir,
    wxFor: (atPaymentSheet) =>
      createWxDouble({
        async login() {
          const minted = await harness.sandbox.post('/sandbox/wechat/codes').send({}).expect(201);
          return { code: minted.body.code as string };
        },
        requestPayment: atPaymentSheet,
      }),
    async ordersInDatabase() {
      const { rows } = await harness.services.database.query<{ order_no: string; status: string; amount: number }>(
        'SELECT order_no, status, amount FROM orders ORDER BY created_at',
      );
      return rows;
    },
    close,
  };
}
