import { rmSync } from 'node:fs';
import type { StartOptions } from '../../server/services';
import { buildMiniProgram, MiniProgramBuildPlatform } from './build-miniprogram';
import { CheckoutHarness, startHarness } from './checkout-harness';
import { STORAGES, TestDatabase } from './databases';
import type { MiniProgramPage } from './miniprogram-harness';

/** The storage the end-to-end tests run on: PostgreSQL when CI provides it (the production shape), PGlite otherwise. */
export const E2E_STORAGE = STORAGES[STORAGES.length - 1];

/** A real checkout server and sandbox on `E2E_STORAGE`, and a mini-program bundle built against that server. */
export interface BundleCheckout {
  h: CheckoutHarness;
  /** The temporary directory the bundle was built into. */
  distDir: string;
  /** Stops the server and sandbox, drops the database and removes the built bundle. */
  close(): Promise<void>;
}

/**
 * Starts the server (with `options`, e.g. `env`) and builds the `platform` bundle against it;
 * takes a minute or two. What was started is stopped again when the start or the build fails,
 * and that failure is rethrown.
 */
export async function startBundleCheckout(
  platform: MiniProgramBuildPlatform,
  options: Omit<StartOptions, 'database' | 'clock'> & { env?: Record<string, string> } = {},
): Promise<BundleCheckout> {
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
    distDir = await buildMiniProgram(platform, h.services.serverUrl);
  } catch (error) {
    await close();
    throw error;
  }
  return { h, distDir, close };
}

/** Waits (10 s at most, else throws) until the loaded page shows the cart, its Pay button; returns the page. */
export async function cartShown(page: MiniProgramPage): Promise<MiniProgramPage> {
  await page.waitFor(() => page.findById('pay-button') !== undefined, 10_000, 'the cart');
  return page;
}
