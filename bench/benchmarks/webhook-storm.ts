import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DEVELOPMENT_SECRETS } from '../../server/config';
import { buildPaymentWebhook } from '../../server/sandbox/gateway/webhook-message';
import { generateLoad, type LoadSpec } from '../lib/load';
import { freshDatabase } from '../lib/postgres';
import { startCheckoutServer, type RunningServer } from '../lib/processes';
import type { ResultRow } from '../lib/report';
import { paymentNotification, startWechatPayDouble } from '../lib/wechatpay';

const ORDERS = 10_000;
const AMOUNT = 4500;
const TARGET_PER_SECOND = 1500;

const orderNo = (index: number) => `STORM${String(index).padStart(12, '0')}`;
const billNo = (index: number) => `B${orderNo(index)}`;

/**
 * 10,000 paid orders whose gateway webhooks each arrive three times at once, spread over two
 * server instances on one PostgreSQL, against a plain `UPDATE … WHERE order_no = $1` loop.
 */
export async function webhookStorm(): Promise<ResultRow[]> {
  const database = await freshDatabase('storm');
  const scratch = mkdtempSync(join(tmpdir(), 'bench-storm-'));
  const instances: RunningServer[] = [];
  try {
    instances.push(await startCheckoutServer({ DATABASE_URL: database.url }));
    instances.push(await startCheckoutServer({ DATABASE_URL: database.url }));
    const messages = Array.from({ length: ORDERS }, (_, i) =>
      JSON.stringify(
        buildPaymentWebhook({
          appId: DEVELOPMENT_SECRETS.gatewayAppId,
          masterSecret: DEVELOPMENT_SECRETS.gatewayMasterSecret,
          billNo: billNo(i + 1),
          channel: 'WX_MINI',
          totalFee: AMOUNT,
          outcome: 'paid',
        }),
      ),
    );
    // Two copies of each message to one instance, the third to the other, all at the same time.
    const twice = join(scratch, 'twice.json');
    const once = join(scratch, 'once.json');
    writeFileSync(twice, JSON.stringify(messages.flatMap((message) => [message, message])));
    writeFileSync(once, JSON.stringify(messages));
    return await storm({
      label: 'gateway',
      databaseUrl: database.url,
      provider: 'gateway',
      orders: ORDERS,
      targets: instances.map((instance) => `${instance.url}/api/gateway/webhook`),
      files: { bodiesFile: twice },
      onceFiles: { bodiesFile: once },
      what: 'verified webhooks/s',
      target: `≥ ${TARGET_PER_SECOND} webhooks/s`,
    });
  } finally {
    for (const instance of instances) await instance.stop();
    await database.drop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** How many orders the WeChat Pay storm pays: its notifications are RSA-signed before the clock starts. */
const WECHATPAY_ORDERS = 5_000;

/**
 * The same storm with WeChat Pay's notifications: WECHATPAY_ORDERS orders with bills open at WeChat
 * Pay (provider `wechatpay`), and for each a TRANSACTION.SUCCESS made as the WeChat Pay sandbox
 * makes it (resource AEAD_AES_256_GCM-encrypted with the APIv3 key, body signed with the platform
 * certificate's key, `Wechatpay-*` headers), all made before the clock starts, each delivered
 * three times at once to `POST /api/wechatpay/notify` of two instances configured as a merchant
 * of the sandbox (`WEAPP_PAYMENT_PROVIDER=wechatpay`, `WECHATPAY_BASE_URL` at the sandbox, which
 * each instance downloads the platform certificate from at the first notification).
 */
export async function wechatPayNotificationStorm(): Promise<ResultRow[]> {
  const database = await freshDatabase('storm_wxpay');
  const scratch = mkdtempSync(join(tmpdir(), 'bench-storm-wxpay-'));
  const started: RunningServer[] = [];
  try {
    const wechatpay = await startWechatPayDouble(scratch);
    started.push(wechatpay.double);
    const instances: RunningServer[] = [];
    for (let i = 0; i < 2; i += 1) {
      const instance = await startCheckoutServer({ DATABASE_URL: database.url, ...wechatpay.serverEnv });
      started.push(instance);
      instances.push(instance);
    }
    // Signed now: each instance refuses a Wechatpay-Timestamp more than 5 minutes from its clock.
    const signedAt = Date.now();
    const messages = Array.from({ length: WECHATPAY_ORDERS }, (_, i) =>
      paymentNotification(
        wechatpay.keys,
        { outTradeNo: billNo(i + 1), orderNo: orderNo(i + 1), total: AMOUNT, openid: 'obench-payer' },
        signedAt,
      ),
    );
    const twice = join(scratch, 'twice.json');
    const once = join(scratch, 'once.json');
    writeFileSync(twice, JSON.stringify(messages.flatMap((message) => [message, message])));
    writeFileSync(once, JSON.stringify(messages));
    return await storm({
      label: 'WeChat Pay',
      databaseUrl: database.url,
      provider: 'wechatpay',
      orders: WECHATPAY_ORDERS,
      targets: instances.map((instance) => `${instance.url}/api/wechatpay/notify`),
      files: { messagesFile: twice },
      onceFiles: { messagesFile: once },
      what: 'verified notifications/s',
      // Informative: see docs/benchmarks.md (a notification costs more to read than a webhook).
      note: `made in ${((Date.now() - signedAt) / 1000).toFixed(1)} s before the clock`,
    });
  } finally {
    for (const server of started.reverse()) await server.stop();
    await database.drop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

interface StormSpec {
  /** Names the provider in the table. */
  label: string;
  databaseUrl: string;
  /** `bills.provider` of the open bills. */
  provider: 'gateway' | 'wechatpay';
  orders: number;
  /** The notification endpoint of each of the two instances. */
  targets: string[];
  /** The messages with two copies of each, for the first instance. */
  files: Pick<LoadSpec, 'bodiesFile' | 'messagesFile'>;
  /** The messages once each, for the second. */
  onceFiles: Pick<LoadSpec, 'bodiesFile' | 'messagesFile'>;
  /** The unit of the measured rate. */
  what: string;
  /** The throughput target; unset: an informative row (any delivery not acknowledged still fails it). */
  target?: string;
  /** Said after the figures of the throughput row. */
  note?: string;
}

/**
 * Inserts `orders` pending orders with open bills at `provider` (as after that many shoppers
 * tapped Pay), delivers every message three times at once (two copies to the first instance,
 * one to the second), counts the payments, then times the UPDATE loop over the same rows.
 */
async function storm(spec: StormSpec): Promise<ResultRow[]> {
  const client = new Client({ connectionString: spec.databaseUrl });
  await client.connect();
  try {
    if (process.env.STORM_NO_TRIGGER) await client.query('ALTER TABLE orders DISABLE TRIGGER orders_changed');
    await client.query(
      `INSERT INTO orders (order_no, owner, status, amount, currency, items, title, created_at, expires_at, status_changed_at)
       SELECT 'STORM' || lpad(n::text, 12, '0'), 'weapp:bench', 'pending', $1, 'CNY', '[]', 'bench', now(), now() + interval '1 hour', now()
       FROM generate_series(1, $2) AS n`,
      [AMOUNT, spec.orders],
    );
    await client.query(
      `INSERT INTO bills (bill_no, order_no, channel, provider, amount, status, created_at, updated_at)
       SELECT 'B' || order_no, order_no, 'WX_MINI', $1, amount, 'open', now(), now() FROM orders WHERE order_no LIKE 'STORM%'`,
      [spec.provider],
    );

    const started = Date.now();
    const loads = await Promise.all([
      generateLoad({
        url: spec.targets[0],
        connections: 64,
        amount: spec.orders * 2,
        method: 'POST',
        ...spec.files,
      }),
      generateLoad({ url: spec.targets[1], connections: 32, amount: spec.orders, method: 'POST', ...spec.onceFiles }),
    ]);
    const seconds = (Date.now() - started) / 1000;
    const delivered = loads.reduce((sum, load) => sum + load.requests, 0);
    const failed = loads.reduce((sum, load) => sum + load.non2xx + load.errors, 0);

    const { rows } = await client.query<{ payments: number; applied: number; orders_paid: number; doubled: number }>(
      `SELECT (SELECT count(*) FROM payments)::int AS payments,
              (SELECT count(*) FROM payments WHERE disposition = 'applied')::int AS applied,
              (SELECT count(*) FROM orders WHERE status = 'paid')::int AS orders_paid,
              (SELECT count(*) FROM (SELECT order_no FROM payments GROUP BY order_no HAVING count(*) > 1) AS d)::int AS doubled`,
    );
    const counts = rows[0];

    const baselineStarted = Date.now();
    for (let i = 1; i <= spec.orders; i += 1) {
      await client.query('UPDATE orders SET status_changed_at = now() WHERE order_no = $1', [orderNo(i)]);
    }
    const baselinePerSecond = spec.orders / ((Date.now() - baselineStarted) / 1000);
    const perSecond = delivered / seconds;

    return [
      {
        benchmark: 'webhook storm',
        case: `${spec.label}: ${spec.orders} orders × 3 concurrent copies, 2 instances (postgres): throughput`,
        measured: `${Math.round(perSecond)} ${spec.what} (${delivered} in ${seconds.toFixed(1)} s, ${failed} not success${spec.note ? `; ${spec.note}` : ''})`,
        baseline: `UPDATE loop ${Math.round(baselinePerSecond)}/s`,
        ratio: perSecond / baselinePerSecond,
        target: spec.target ?? 'none (informative); every copy acknowledged',
        met: spec.target === undefined ? (failed === 0 ? null : false) : perSecond >= TARGET_PER_SECOND && failed === 0,
      },
      {
        benchmark: 'webhook storm',
        case: `${spec.label}: payments recorded / double-counted`,
        measured: `${counts.payments} payments (${counts.applied} applied), ${counts.orders_paid} orders paid, ${counts.doubled} double-counted`,
        target: `exactly ${spec.orders}, 0 double-counted`,
        met:
          counts.payments === spec.orders &&
          counts.applied === spec.orders &&
          counts.orders_paid === spec.orders &&
          counts.doubled === 0,
      },
    ];
  } finally {
    await client.end();
  }
}
