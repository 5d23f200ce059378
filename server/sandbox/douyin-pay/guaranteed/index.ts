import type { DouyinPayKeyRing } from '../keys';
import {
  LISTED_REFUND_STATUS,
  settleProcessingRefund,
  type DouyinPaySystem,
  type DouyinRefundHolds,
  type DouyinSandboxOrder,
  type DouyinSandboxRefund,
  type DouyinSettlement,
} from '../system';
import { createGuaranteedApiRoutes, expireIfDue, finishRefund, payOrder, type GuaranteedApiDependencies } from './api';
import { GuaranteedNotifier } from './notify';
import { GuaranteedStore, type GuaranteedOrder, type GuaranteedRefund } from './store';
import { deferredTasks } from '../../shared/deferred';

/**
 * The emulated 担保支付 (`/api/apps/ecpay/v1/…`, ./api.ts), one of the Douyin payment systems
 * behind the shared control endpoints (../control.ts). Its orders and refunds live in memory.
 */
export interface GuaranteedSystemOptions {
  /** The mini-program's AppID: `app_id` of every call, `appid` of callbacks. */
  appId: string;
  keys: DouyinPayKeyRing;
  /** Shared with the 通用交易系统: refunds held processing (`POST /sandbox/douyin/refunds/hold`). */
  holds: DouyinRefundHolds;
  /** Keeps orders and refunds across restarts. @default in memory only */
  dataDir?: string;
  timeScale: number;
  now: () => number;
  log: (line: string) => void;
}

function listed(order: GuaranteedOrder): DouyinSandboxOrder {
  return {
    system: 'guaranteed',
    outOrderNo: order.outOrderNo,
    orderId: order.orderId,
    totalAmount: order.totalAmount,
    status: order.status,
  };
}

function listedRefund(refund: GuaranteedRefund): DouyinSandboxRefund {
  return {
    system: 'guaranteed',
    outRefundNo: refund.outRefundNo,
    refundId: refund.refundNo,
    outOrderNo: refund.outOrderNo,
    amount: refund.refundAmount,
    status: LISTED_REFUND_STATUS[refund.status],
  };
}

/** The emulated 担保支付 as one of the Douyin payment systems: its routes, orders, settling and callbacks. */
export function createGuaranteedSystem(options: GuaranteedSystemOptions): DouyinPaySystem {
  const store = new GuaranteedStore(options.dataDir);
  const notifier = new GuaranteedNotifier({
    appId: options.appId,
    keys: options.keys,
    store,
    timeScale: options.timeScale,
    now: options.now,
    log: options.log,
  });
  const deferred = deferredTasks();
  const later = deferred.later;
  const deps: GuaranteedApiDependencies = {
    appId: options.appId,
    keys: options.keys,
    store,
    notifier,
    holds: options.holds,
    now: options.now,
    later,
  };

  return {
    name: 'guaranteed',
    routers: createGuaranteedApiRoutes(deps),
    orders: () => [...store.orders.values()].map((order) => (expireIfDue(order, options.now(), store), listed(order))),
    async settle(outOrderNo, result, notify): Promise<DouyinSettlement> {
      const order = store.orders.get(outOrderNo);
      if (!order) return { outcome: 'not_found' };
      expireIfDue(order, options.now(), store);
      if (order.status !== 'pending') {
        return { outcome: 'conflict', reason: `担保支付 order ${outOrderNo} is already ${order.status}` };
      }
      if (result === 'paid') payOrder(deps, order, notify);
      else {
        order.status = 'closed';
        store.save();
      }
      return { outcome: 'settled', order: listed(order) };
    },
    refunds: () => [...store.refunds.values()].map(listedRefund),
    settleRefund: async (outRefundNo, result, notify) =>
      settleProcessingRefund(store.refunds.get(outRefundNo), result, notify, listedRefund, (refund, status, send) =>
        finishRefund(deps, refund, status, send),
      ),
    close: async () => {
      deferred.stop();
      await notifier.close();
    },
  };
}
