import { Router, type RouterContext } from '@koa/router';
import { describeRoutes } from '../../openapi/operations';
import { readControlBody } from '../control';
import { refundHoldSchema } from '../control-contract';
import { echoed, sendError } from '../shared/http';
import { refundView } from './api';
import {
  modeSchema,
  outTradeNoFilter,
  refundSettleSchema,
  rotateSchema,
  transactionSettleSchema,
  wechatPayControlOperations,
  wechatPayFaultSchema,
  type WechatPayFaultView,
  type WechatPayKeysView,
  type WechatPayTransactionView,
} from './control-contract';
import type { SandboxKeyRing, WechatPaySandboxKeys } from './keys';
import { finishRefund, settleTransaction, type SettlementDependencies } from './settlement';
import type { InjectedFault, Refund, Transaction } from './store';

/**
 * Control endpoints of the emulated WeChat Pay, under `/sandbox/wechatpay/` (bodies JSON,
 * validated strictly by the schemas of ./control-contract.ts, which also documents these routes in
 * the server's OpenAPI document; errors `{error: {code, message}}` with a 4xx, as ../control.ts):
 *
 *   GET  /keys            {mchid, appid, serialNo, merchantPrivateKey, merchantPublicKey,
 *        platformPublicKeyId, platformPublicKey, platformPrivateKey, apiV3Key, mode,
 *        certificates: [{serialNo, certificate}]}: development keys only.
 *   POST /mode {mode: "certificate"|"public_key"}   {mode, serial}: which key signs from now on.
 *   POST /certificates/rotate   {serialNo, previousSerialNo, served}: a new platform certificate
 *        signs from now on; the previous one is still served by /v3/certificates.
 *   GET  /transactions[?out_trade_no=]   {transactions: [{out_trade_no, prepay_id,
 *        amount: {total}, trade_state, created_at, …}]}
 *   POST /transactions/:out_trade_no/settle {result: "paid"|"closed", notify?: true, success_time?}
 *        {transaction, notifying}: the payer pays (TRANSACTION.SUCCESS is sent), at `success_time`
 *        (ms, default now), or the order closes. 409 TRANSACTION_PAID | TRANSACTION_CLOSED |
 *        TRANSACTION_EXPIRED.
 *   POST /faults {operation?: "any", http_status, code?, message?, after?: false, signed?: true,
 *        count?: 1}   201 {fault}: the next `count` calls of the operation are answered
 *        `http_status` `{code, message}` (see ./api.ts).
 *   DELETE /faults   {cleared}
 *   GET  /transactions/:out_trade_no/deliveries   {deliveries}
 *   GET  /refunds[?out_trade_no=]   {refunds: [refund as the API shows it]}
 *   POST /refunds/hold {count?: 1}   201 {hold: {count, pending}}: the next refunds stay
 *        PROCESSING (by default a refund succeeds right after its answer).
 *   DELETE /refunds/hold   {released}
 *   POST /refunds/:out_refund_no/settle {result: "success"|"abnormal"|"closed", notify?: true}
 *        {refund, notifying}: REFUND.SUCCESS / REFUND.ABNORMAL / REFUND.CLOSED is sent to the
 *        refund's notify_url. 409 REFUND_FINISHED.
 *   GET  /refunds/:out_refund_no/deliveries   {deliveries}
 *
 * An unknown out_trade_no is 404 ORDER_NOT_EXIST, an unknown out_refund_no 404
 * RESOURCE_NOT_EXISTS (the codes WeChat Pay's own queries answer).
 */

export interface WechatPayControlDependencies extends SettlementDependencies {
  keys: SandboxKeyRing;
}

/** What `GET /sandbox/wechatpay/keys` answers. */
export function keysView(keys: WechatPaySandboxKeys): WechatPayKeysView {
  return {
    mchid: keys.mchid,
    appid: keys.appid,
    serialNo: keys.serialNo,
    merchantPrivateKey: keys.merchantPrivateKey,
    merchantPublicKey: keys.merchantPublicKey,
    platformPublicKeyId: keys.platformPublicKeyId,
    platformPublicKey: keys.platformPublicKey,
    platformPrivateKey: keys.platformPrivateKey,
    apiV3Key: keys.apiV3Key,
    mode: keys.mode,
    certificates: keys.certificates.map((certificate) => ({
      serialNo: certificate.serialNo,
      certificate: certificate.certificatePem,
    })),
  };
}

function transactionView(transaction: Transaction, refunded: number): WechatPayTransactionView {
  return {
    out_trade_no: transaction.outTradeNo,
    prepay_id: transaction.prepayId,
    amount: { total: transaction.total },
    trade_state: transaction.tradeState,
    created_at: transaction.createdAt,
    transaction_id: transaction.transactionId ?? null,
    success_time: transaction.successTime ?? null,
    time_expire: transaction.timeExpire ?? null,
    openid: transaction.openid,
    notify_url: transaction.notifyUrl,
    refunded,
    deliveries: transaction.deliveries.length,
  };
}

export function createWechatPayControlRoutes(deps: WechatPayControlDependencies): Router {
  const { store } = deps;
  const router = new Router({ prefix: '/sandbox/wechatpay' });
  const view = (transaction: Transaction) => transactionView(transaction, store.refundedOf(transaction.outTradeNo));

  function findTransaction(ctx: RouterContext): Transaction | undefined {
    const transaction = store.transactions.get(String(ctx.params.out_trade_no));
    if (!transaction)
      sendError(ctx, 404, 'ORDER_NOT_EXIST', `no transaction ${echoed(String(ctx.params.out_trade_no))}`);
    return transaction;
  }

  function findRefund(ctx: RouterContext): Refund | undefined {
    const refund = store.refunds.get(String(ctx.params.out_refund_no));
    if (!refund) sendError(ctx, 404, 'RESOURCE_NOT_EXISTS', `no refund ${echoed(String(ctx.params.out_refund_no))}`);
    return refund;
  }

  router.get('/keys', async (ctx) => {
    ctx.body = keysView(await deps.keys.get());
  });

  router.post('/mode', async (ctx) => {
    const input = await readControlBody(ctx, modeSchema);
    if (!input) return;
    const keys = await deps.keys.setMode(input.mode);
    const serial =
      keys.mode === 'public_key' ? keys.platformPublicKeyId : keys.certificates[keys.certificates.length - 1].serialNo;
    ctx.body = { mode: keys.mode, serial };
  });

  router.post('/certificates/rotate', async (ctx) => {
    if (!(await readControlBody(ctx, rotateSchema))) return;
    const before = await deps.keys.get();
    const previousSerialNo = before.certificates[before.certificates.length - 1].serialNo;
    const keys = await deps.keys.rotateCertificate();
    ctx.body = {
      serialNo: keys.certificates[keys.certificates.length - 1].serialNo,
      previousSerialNo,
      served: keys.certificates.map((certificate) => certificate.serialNo),
    };
  });

  router.get('/transactions', (ctx) => {
    const wanted = outTradeNoOf(ctx.query);
    const transactions = [...store.transactions.values()].filter(
      (t) => wanted === undefined || t.outTradeNo === wanted,
    );
    ctx.body = { transactions: transactions.map(view) };
  });

  router.post('/transactions/:out_trade_no/settle', async (ctx) => {
    const transaction = findTransaction(ctx);
    if (!transaction) return;
    const input = await readControlBody(ctx, transactionSettleSchema);
    if (!input) return;
    if (input.success_time !== undefined && input.success_time > deps.now()) {
      sendError(ctx, 400, 'BAD_REQUEST', 'success_time must not be later than now');
      return;
    }
    const outcome = settleTransaction(deps, transaction, input.result, input.notify, input.success_time);
    if ('refused' in outcome) {
      sendError(ctx, 409, outcome.code, outcome.refused);
      return;
    }
    ctx.body = { transaction: view(transaction), notifying: outcome.notifying };
  });

  router.post('/faults', async (ctx) => {
    const input = await readControlBody(ctx, wechatPayFaultSchema);
    if (!input) return;
    const fault: InjectedFault = {
      operation: input.operation,
      remaining: input.count,
      status: input.http_status,
      code:
        input.code ??
        (input.http_status >= 500
          ? 'SYSTEM_ERROR'
          : input.http_status === 429
            ? 'FREQUENCY_LIMITED'
            : 'INVALID_REQUEST'),
      message: input.message ?? 'sandbox fault',
      after: input.after,
      signed: input.signed,
    };
    store.faults.push(fault);
    ctx.status = 201;
    ctx.body = { fault: faultView(fault) };
  });

  router.delete('/faults', (ctx) => {
    const cleared = store.faults.length;
    store.faults = [];
    ctx.body = { cleared };
  });

  router.get('/transactions/:out_trade_no/deliveries', (ctx) => {
    const transaction = findTransaction(ctx);
    if (transaction) ctx.body = { deliveries: transaction.deliveries };
  });

  router.get('/refunds', (ctx) => {
    const wanted = outTradeNoOf(ctx.query);
    const refunds = [...store.refunds.values()].filter((r) => wanted === undefined || r.outTradeNo === wanted);
    ctx.body = { refunds: refunds.map(refundView) };
  });

  router.post('/refunds/hold', async (ctx) => {
    const input = await readControlBody(ctx, refundHoldSchema);
    if (!input) return;
    store.refundHolds += input.count;
    store.save();
    ctx.status = 201;
    ctx.body = { hold: { count: input.count, pending: store.refundHolds } };
  });

  router.delete('/refunds/hold', (ctx) => {
    const released = store.refundHolds;
    store.refundHolds = 0;
    store.save();
    ctx.body = { released };
  });

  router.post('/refunds/:out_refund_no/settle', async (ctx) => {
    const refund = findRefund(ctx);
    if (!refund) return;
    const input = await readControlBody(ctx, refundSettleSchema);
    if (!input) return;
    const result = ({ success: 'SUCCESS', abnormal: 'ABNORMAL', closed: 'CLOSED' } as const)[input.result];
    const outcome = finishRefund(deps, refund, result, input.notify);
    if ('refused' in outcome) {
      sendError(ctx, 409, outcome.code, outcome.refused);
      return;
    }
    ctx.body = { refund: refundView(refund), notifying: outcome.notifying };
  });

  router.get('/refunds/:out_refund_no/deliveries', (ctx) => {
    const refund = findRefund(ctx);
    if (refund) ctx.body = { deliveries: refund.deliveries };
  });

  return describeRoutes(router, wechatPayControlOperations);
}

function faultView(fault: InjectedFault): WechatPayFaultView {
  return {
    operation: fault.operation,
    http_status: fault.status,
    code: fault.code,
    message: fault.message,
    after: fault.after,
    signed: fault.signed,
    count: fault.remaining,
  };
}

/** The `out_trade_no` filter of a listing; a repeated one filters nothing. */
function outTradeNoOf(query: unknown): string | undefined {
  const parsed = outTradeNoFilter.safeParse(query);
  return parsed.success ? parsed.data.out_trade_no : undefined;
}
