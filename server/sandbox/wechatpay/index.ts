import type { Router } from '@koa/router';
import { createWechatPayApiRoutes } from './api';
import { createWechatPayControlRoutes } from './control';
import { SandboxKeyRing, type WechatPaySandboxKeys } from './keys';
import { WechatPayNotifier } from './notify';
import { WechatPayStore } from './store';
import { deferredTasks } from '../shared/deferred';

/**
 * The emulated WeChat Pay APIv3 for direct merchants: the API at its real paths (./api.ts), its
 * notifications (./notify.ts) and its control endpoints (./control.ts), with real keys and
 * certificates (./keys.ts).
 */

export interface WechatPaySandboxOptions {
  mchid: string;
  /** The mini-program the merchant's prepays name. */
  appid: string;
  /** Keeps keys, orders and refunds across restarts. @default in memory only */
  dataDir?: string;
  /** Keys to use instead of generating them (tests share one set to save the generation). */
  keys?: WechatPaySandboxKeys;
  /** Multiplies the notification retry delays. */
  timeScale: number;
  now: () => number;
  log: (line: string) => void;
}

export interface WechatPaySandbox {
  routers: Router[];
  /** The development keys (generated on first call, or read from the data directory). */
  keys(): Promise<WechatPaySandboxKeys>;
  /** Stops notification retries and pending refund settlements. */
  close(): Promise<void>;
}

export function createWechatPaySandbox(options: WechatPaySandboxOptions): WechatPaySandbox {
  const keys = new SandboxKeyRing({ mchid: options.mchid, appid: options.appid }, options.dataDir, options.keys);
  const store = new WechatPayStore(options.dataDir);
  const notifier = new WechatPayNotifier({
    keys,
    store,
    timeScale: options.timeScale,
    now: options.now,
    log: options.log,
  });
  const deferred = deferredTasks();
  const later = deferred.later;
  const deps = { keys, store, notifier, now: options.now, later };

  // Notifications a previous run was still delivering go on.
  for (const transaction of store.transactions.values()) {
    if (transaction.notifying) notifier.notifyTransaction(transaction);
  }
  for (const refund of store.refunds.values()) {
    const transaction = store.transactions.get(refund.outTradeNo);
    if (refund.notifying && transaction) notifier.notifyRefund(refund, transaction);
  }

  return {
    routers: [createWechatPayApiRoutes(deps), createWechatPayControlRoutes(deps)],
    keys: () => keys.get(),
    close: async () => {
      deferred.stop();
      await notifier.close();
    },
  };
}

export { generateSandboxKeys } from './keys';
export type { PlatformCertificateRecord, SigningMode, WechatPaySandboxKeys } from './keys';
export { NOTIFICATION_RETRY_INTERVALS_S, notificationAttemptOffsetsMs } from './notify';
