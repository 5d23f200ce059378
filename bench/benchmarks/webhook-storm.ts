import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DEVELOPMENT_SECRETS } from '../../server/config';
import { buildPaymentWebhook } from '../../server/sandbox/gateway/webhook-message';
import { generateLoad } from '../lib/load';
import { freshDatabase } from '../lib/postgres';
import { startCheckoutServer } from '../lib/processes';
import type { ResultRow } from '../lib/report';

const ORDERS = 10_000;
const AMOUNT = 4500;

/**
 * 10,000 paid orders whose webhooks each arrive three times at once, spread over two server
 * instances on one PostgreSQL, against a plain `UPDATE … WHERE order_no = $1` loop.
 */
export async function webhookStorm(): Promise<ResultRow[]> {
  const database = await freshDatabase('storm');
  const scratch = mkdtempSync(join(tmpdir(), 'bench-storm-'));
  const instances = [
    await startCheckoutServer({ DATABASE_URL: database.url }),
    await startCheckoutServer({ DATABASE_URL: database.url }),
  ];
  const client = new Client({ connectionString: database.url });
  await client.connect();
  try {
    if (process.env.STORM_NO_TRIGGER) await client.query('ALTER TABLE orders DISABLE TRIGGER orders_changed');
    // Orders and open bills, as after 10,000 shoppers tapped Pay.
    await client.query(
      `INSERT INTO orders (order_no, owner, status, amount, currency, items, title, created_at, expires_at, status_changed_at)
       SELECT 'STORM' || lpad(n::text, 12, '0'), 'weapp:bench', 'pending', $1, 'CNY', '[]', 'bench', now(), now() + interval '1 hour', now()
       FROM generate_series(1, $2) AS n`,
      [AMOUNT, ORDERS],
    );
    await client.query(
      `INSERT INTO bills (bill_no, order_no, channel, amount, status, created_at, updated_at)
       SELECT 'B' || order_no, order_no, 'WX_MINI', amount, 'open', now(), now() FROM orders WHERE order_no LIKE 'STORM%'`,
    );
    const messages = Array.from({ length: ORDERS }, (_, i) =>
      JSON.stringify(
        buildPaymentWebhook({
          appId: DEVELOPMENT_SECRETS.gatewayAppId,
          masterSecret: DEVELOPMENT_SECRETS.gatewayMasterSecret,
          billNo: `BSTORM${String(i + 1).padStart(12, '0')}`,
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

    const started = Date.now();
    const loads = await Promise.all([
      generateLoad({
        url: `${instances[0].url}/api/gateway/webhook`,
        connections: 64,
        amount: ORDERS * 2,
        method: 'POST',
        bodiesFile: twice,
      }),
      generateLoad({
        url: `${instances[1].url}/api/gateway/webhook`,
        connections: 32,
        amount: ORDERS,
        method: 'POST',
        bodiesFile: once,
      }),
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
    for (let i = 1; i <= ORDERS; i += 1) {
      await client.query('UPDATE orders SET status_changed_at = now() WHERE order_no = $1', [
        `STORM${String(i).padStart(12, '0')}`,
      ]);
    }
    const baselinePerSecond = ORDERS / ((Date.now() - baselineStarted) / 1000);
    const perSecond = delivered / seconds;

    return [
      {
        benchmark: 'webhook storm',
        case: `${ORDERS} orders × 3 concurrent copies, 2 instances (postgres): throughput`,
        measured: `${Math.round(perSecond)} verified webhooks/s (${delivered} in ${seconds.toFixed(1)} s, ${failed} not success)`,
        baseline: `UPDATE loop ${Math.round(baselinePerSecond)}/s`,
        ratio: perSecond / baselinePerSecond,
        target: '≥ 1500 webhooks/s',
        met: perSecond >= 1500 && failed === 0,
      },
      {
        benchmark: 'webhook storm',
        case: 'payments recorded / double-counted',
        measured: `${counts.payments} payments (${counts.applied} applied), ${counts.orders_paid} orders paid, ${counts.doubled} double-counted`,
        target: `exactly ${ORDERS}, 0 double-counted`,
        met:
          counts.payments === ORDERS &&
          counts.applied === ORDERS &&
          counts.orders_paid === ORDERS &&
          counts.doubled === 0,
      },
    ];
  } finally {
    await client.end();
    for (const instance of instances) await instance.stop();
    await database.drop();
    rmSync(scratch, { recursive: true, force: true });
  }
}
