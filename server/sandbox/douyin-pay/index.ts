import type { Router } from '@koa/router';
import { createDouyinPayControlRoutes } from './control';
import { createGuaranteedSystem } from './guaranteed';
import { DouyinPayKeyRing, type DouyinPaySandboxKeys } from './keys';
import { DouyinRefundHolds, type DouyinPaySystem } from './system';
import { createDouyinTradeSystem } from './trade';

/**
 * The emulated Douyin payment systems of today (payments-beyond.md, "Douyin mini-program
 * payment"): 担保支付 and 通用交易系统, each in its own folder at its real paths, sharing the
 * development keys (./keys.ts) and the control endpoints under `/sandbox/douyin/` (./control.ts).
 * The legacy cashier of seed 002 is not here: its legs are the gateway's bills.
 */

export interface DouyinPaySandboxOptions {
  /** The Douyin mini-program's AppID. */
  appId: string;
  /** Its AppSecret: 通用交易系统's `client_token` checks it. */
  secret: string;
  /** Keeps keys (and the systems' orders) across restarts. @default in memory only */
  dataDir?: string;
  /** Keys to use instead of generating them (tests share one set to save the generation). */
  keys?: DouyinPaySandboxKeys;
  /** Multiplies the callback retry delays. */
  timeScale: number;
  now: () => number;
  log: (line: string) => void;
}

export interface DouyinPaySandbox {
  routers: Router[];
  /** The development keys (generated on first call, or read from the data directory). */
  keys(): Promise<DouyinPaySandboxKeys>;
  /** Stops callback retries. */
  close(): Promise<void>;
}

export function createDouyinPaySandbox(options: DouyinPaySandboxOptions): DouyinPaySandbox {
  const keys = new DouyinPayKeyRing(options.dataDir, options.keys);
  const holds = new DouyinRefundHolds();
  const systems: DouyinPaySystem[] = [
    createGuaranteedSystem({
      appId: options.appId,
      keys,
      holds,
      dataDir: options.dataDir,
      timeScale: options.timeScale,
      now: options.now,
      log: options.log,
    }),
    createDouyinTradeSystem({
      appId: options.appId,
      secret: options.secret,
      keys,
      holds,
      dataDir: options.dataDir,
      timeScale: options.timeScale,
      now: options.now,
      log: options.log,
    }),
  ];
  return {
    routers: [...systems.flatMap((system) => system.routers), createDouyinPayControlRoutes({ keys, systems, holds })],
    keys: () => keys.get(),
    close: async () => {
      await Promise.all(systems.map((system) => system.close()));
    },
  };
}

export { generateDouyinPayKeys } from './keys';
export type { DouyinPaySandboxKeys } from './keys';
