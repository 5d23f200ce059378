import { createSign, randomBytes } from 'node:crypto';
import type { Test } from 'supertest';
import { createLogger } from '../../server/adapters/observability/logger';
import type { Database } from '../../server/adapters/storage/database';
import { DEVELOPMENT_SECRETS } from '../../server/config';
import { encryptResource } from '../../server/sandbox/wechatpay/protocol';
import { type CheckoutHarness, startHarness } from './checkout-harness';
import { logLines } from './observability';

/**
 * What the provider checkout tests (WeChat Pay, 担保支付, 通用交易系统) share: a harness whose log
 * lines they read, the Douyin shopper's login, the sandbox's settle call for Douyin orders, the
 * merchant API's refunds, and an order's bills and payments as stored.
 */

/** The merchant API's `authorization` header with the development key. */
export const MERCHANT = { authorization: `Bearer ${DEVELOPMENT_SECRETS.merchantApiKey}` };

/**
 * A harness on `env` whose JSON log lines (level info) go into `written`, with the poll and the
 * sweeper free to ask the provider about an order at once and pending refunds asked about at
 * every sweep.
 */
export function startLoggedHarness(
  db: Database,
  env: Record<string, string>,
  written: string[],
): Promise<CheckoutHarness> {
  return startHarness(db, {
    env,
    logger: createLogger({
      level: 'info',
      format: 'json',
      destination: { write: (line) => void written.push(line) },
    }),
    settings: { gatewayCheckIntervalMs: 0 },
    refunds: { checkIntervalMs: 0 },
  });
}

/** A Douyin shopper's session token, from a code the sandbox mints (`tt.login`). */
export async function ttLogin(h: CheckoutHarness): Promise<string> {
  const minted = await h.sandbox.post('/sandbox/douyin/codes').send({}).expect(201);
  const session = await h.api
    .post('/api/session')
    .send({ platform: 'tt', code: minted.body.code, anonymousCode: minted.body.anonymousCode })
    .expect(200);
  return session.body.token as string;
}

/** Pays (`paid`) or closes a Douyin order in the sandbox, whichever system holds it; `notify` sends its callback. */
export function settleDouyinOrder(
  h: CheckoutHarness,
  outOrderNo: string,
  result: 'paid' | 'closed',
  notify = true,
): Test {
  return h.sandbox.post(`/sandbox/douyin/orders/${outOrderNo}/settle`).send({ result, notify });
}

/** `POST /api/merchant/orders/:orderNo/refunds` under `idempotencyKey` (the answer is the caller's to check). */
export function merchantRefund(
  h: CheckoutHarness,
  orderNo: string,
  amount: number,
  idempotencyKey: string,
  reason = '尺码不合适',
): Test {
  return h.api
    .post(`/api/merchant/orders/${orderNo}/refunds`)
    .set(MERCHANT)
    .set('idempotency-key', idempotencyKey)
    .send({ amount, reason });
}

/** The merchant API's view of an order (`GET /api/merchant/orders/:orderNo`, `order`). */
export async function merchantOrder(h: CheckoutHarness, orderNo: string) {
  return (await h.api.get(`/api/merchant/orders/${orderNo}`).set(MERCHANT).expect(200)).body.order;
}

/** An order's bills, oldest first, as stored. */
export async function billsOf(db: Database, orderNo: string) {
  const { rows } = await db.query<{ bill_no: string; provider: string; channel: string; status: string }>(
    'SELECT bill_no, provider, channel, status FROM bills WHERE order_no = $1 ORDER BY created_at',
    [orderNo],
  );
  return rows;
}

/** The payments recorded for an order (`source` webhook or query; `amount` fen). */
export async function paymentsOf(db: Database, orderNo: string) {
  const { rows } = await db.query<{ bill_no: string; source: string; disposition: string; amount: number }>(
    'SELECT bill_no, source, disposition, amount FROM payments WHERE order_no = $1',
    [orderNo],
  );
  return rows;
}

/** Clears the WeChat Pay sandbox's injected faults and its refund hold, between tests. */
export async function clearWechatPayFaults(h: CheckoutHarness): Promise<void> {
  await h.sandbox.delete('/sandbox/wechatpay/faults').expect(200);
  await h.sandbox.delete('/sandbox/wechatpay/refunds/hold').expect(200);
}

/** The sandbox keys a forged or replayed WeChat Pay notification needs (from `GET /sandbox/wechatpay/keys`). */
export interface WechatPayNotificationKeys {
  apiV3Key: string;
  platformPrivateKey: string;
  platformPublicKeyId: string;
}

/** Forgeries of a WeChat Pay notification: another time, serial or signing key, or a body changed before it is signed. */
export interface WechatPayNotificationOverrides {
  /** `Wechatpay-Timestamp`, seconds. @default now */
  timestampS?: number;
  serial?: string;
  /** PEM. @default the sandbox platform key */
  signingKey?: string;
  tamper?: (body: string) => string;
}

/**
 * What WeChat Pay would POST (pay.weixin.qq.com, "支付成功回调通知", "退款结果通知"): the envelope
 * with `resource` encrypted under the APIv3 key, and `Wechatpay-*` headers signing
 * `timestamp\nnonce\nbody\n` with the sandbox platform key (`overrides` forge them).
 */
export function signedWechatPayNotification(
  keys: WechatPayNotificationKeys,
  event: { eventType: string; summary: string; resourceType: string; resource: object },
  overrides: WechatPayNotificationOverrides = {},
): { body: string; headers: Record<string, string> } {
  const envelope = JSON.stringify({
    id: randomBytes(16).toString('hex'),
    create_time: new Date().toISOString().replace(/\.\d{3}Z$/, '+00:00'),
    resource_type: 'encrypt-resource',
    event_type: event.eventType,
    summary: event.summary,
    resource: {
      original_type: event.resourceType,
      ...encryptResource(JSON.stringify(event.resource), keys.apiV3Key, event.resourceType),
    },
  });
  const body = overrides.tamper ? overrides.tamper(envelope) : envelope;
  const timestamp = String(overrides.timestampS ?? Math.floor(Date.now() / 1000));
  const nonce = randomBytes(16).toString('hex');
  const signature = createSign('RSA-SHA256')
    .update(`${timestamp}\n${nonce}\n${body}\n`)
    .sign(overrides.signingKey ?? keys.platformPrivateKey, 'base64');
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'wechatpay-timestamp': timestamp,
      'wechatpay-nonce': nonce,
      'wechatpay-signature': signature,
      'wechatpay-serial': overrides.serial ?? keys.platformPublicKeyId,
    },
  };
}

/** The warnings logged under request id `reqId`: exactly one, a webhook refused for its signature. */
export function expectRefusedForSignature(written: string[], reqId: string): void {
  expect(logLines(written).filter((line) => line.reqId === reqId && line.level === 'warn')).toEqual([
    expect.objectContaining({
      msg: 'webhook refused',
      outcome: 'bad_signature',
      code: 'WEBHOOK_SIGNATURE_INVALID',
    }),
  ]);
}
