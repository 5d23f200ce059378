import { Client } from 'pg';
import { DEVELOPMENT_SECRETS } from '../../server/config';
import { generateLoad, LoadResult } from '../lib/load';
import { freshDatabase } from '../lib/postgres';
import { startCheckoutServer, startServerProcess } from '../lib/processes';
import type { ResultRow } from '../lib/report';
import { createOrder, login, pay } from '../lib/shop';
import { formatRatios, sideBySide } from '../lib/side-by-side';

const ORDERS = 10_000;
const ROUNDS = 3;
const ROUND_SECONDS = 5;
const WARM_UP_SECONDS = 2;
/** How often the gateway double's count is read while the load generator runs. */
const SAMPLE_MS = 100;
const CONNECTIONS = 50;
// The mechanism of the defaults (5 s / 10 s / 10 s), on a scale that fits a short run.
const SWEEP_INTERVAL_SECONDS = 1;
const CHECK_INTERVAL_SECONDS = 5;
const WEBHOOK_GRACE_SECONDS = 0;
/** Added to every bench order's last check while the sweeper is to be idle: none is due. */
const PAUSE_MS = 24 * 60 * 60 * 1000;
/** At the end of every busy round the oldest check is at most this old if the sweeper keeps up. */
const KEEPING_UP_LAG_SECONDS = CHECK_INTERVAL_SECONDS + 2 * SWEEP_INTERVAL_SECONDS;
const SETTINGS = `SWEEP_INTERVAL_SECONDS=${SWEEP_INTERVAL_SECONDS}, GATEWAY_CHECK_INTERVAL_SECONDS=${CHECK_INTERVAL_SECONDS}, WEBHOOK_GRACE_SECONDS=${WEBHOOK_GRACE_SECONDS}`;

interface DoubleCounts {
  byPath: Record<string, number>;
  distinctBillsQueried: number;
}

/** What the gateway saw while the polls ran and what the database said after one busy round. */
interface BusyRound {
  queries: number;
  seconds: number;
  /** Now minus the oldest `gateway_checked_at` among the bench orders, at the end of the round. */
  lagSeconds: number;
  /** Bench orders whose last check is at most one check interval old, at the end of the round. */
  checkedWithinInterval: number;
}

/**
 * The background sweeper's cost with 10,000 pending orders whose bills are open and whose
 * webhooks never come: the gateway queries per second it makes and whether it keeps up with
 * one query per order per check interval, and status polling beside it, taking turns with the
 * same polling while no order is due (the same 10,000 orders, checked "in the future").
 */
export async function sweeperCost(): Promise<ResultRow[]> {
  const gateway = await startServerProcess('bench/gateway-double.ts', {});
  const database = await freshDatabase('sweeper');
  const server = await startCheckoutServer({
    DATABASE_URL: database.url,
    GATEWAY_BASE_URL: gateway.url,
    GATEWAY_APP_ID: DEVELOPMENT_SECRETS.gatewayAppId,
    GATEWAY_APP_SECRET: DEVELOPMENT_SECRETS.gatewayAppSecret,
    GATEWAY_MASTER_SECRET: DEVELOPMENT_SECRETS.gatewayMasterSecret,
    SWEEP_INTERVAL_SECONDS: String(SWEEP_INTERVAL_SECONDS),
    GATEWAY_CHECK_INTERVAL_SECONDS: String(CHECK_INTERVAL_SECONDS),
    WEBHOOK_GRACE_SECONDS: String(WEBHOOK_GRACE_SECONDS),
  });
  const client = new Client({ connectionString: database.url });
  await client.connect();
  try {
    // The polled order: a real shopper's, through the API (WeChat login from the server's sandbox).
    const token = await login(server.url, server.sandboxUrl!);
    const polled = await createOrder(server.url, token);
    await pay(server.url, token, polled.orderNo);

    // 10,000 orders with bills opened a minute ago, as if their webhooks were lost. Their last
    // checks are spread evenly over one check interval, so the sweeper finds them due at a steady
    // pace from the first busy round on (no first pass over all of them at once); for now they
    // are pushed a day ahead, so none is due.
    let pausedAt = Date.now();
    await client.query(
      `INSERT INTO orders (order_no, owner, status, amount, currency, items, title, created_at, expires_at, status_changed_at, gateway_checked_at)
       SELECT 'SWEEP' || lpad(n::text, 12, '0'), 'weapp:bench', 'pending', 4500, 'CNY', '[]', 'bench',
              now() - interval '1 minute', now() + interval '1 hour', now() - interval '1 minute',
              $2::timestamptz + ($3 - n * $4::float8 / $1) * interval '1 millisecond'
       FROM generate_series(1, $1) AS n`,
      [ORDERS, new Date(pausedAt), PAUSE_MS, CHECK_INTERVAL_SECONDS * 1000],
    );
    await client.query(
      `INSERT INTO bills (bill_no, order_no, channel, amount, status, created_at, updated_at)
       SELECT 'B' || order_no, order_no, 'WX_MINI', amount, 'open', created_at, created_at FROM orders WHERE order_no LIKE 'SWEEP%'`,
    );
    await client.query('ANALYZE orders');
    await client.query('ANALYZE bills');

    const counts = async (): Promise<number> => {
      const answer = (await (await fetch(`${gateway.url}/bench/counts`)).json()) as DoubleCounts;
      return answer.byPath['/2/rest/bills'] ?? 0;
    };
    const pollLoad = (seconds: number) =>
      generateLoad({
        url: `${server.url}/api/orders/${polled.orderNo}/status`,
        connections: CONNECTIONS,
        durationSeconds: seconds,
        headers: { authorization: `Bearer ${token}` },
      });
    const resume = async () => {
      // Every last check moves forward by the time the sweeper was idle: it goes on where it stopped.
      await client.query(
        `UPDATE orders SET gateway_checked_at = gateway_checked_at - $1 * interval '1 millisecond' WHERE order_no LIKE 'SWEEP%'`,
        [PAUSE_MS - (Date.now() - pausedAt)],
      );
    };
    const pause = async () => {
      pausedAt = Date.now();
      await client.query(
        `UPDATE orders SET gateway_checked_at = gateway_checked_at + $1 * interval '1 millisecond' WHERE order_no LIKE 'SWEEP%'`,
        [PAUSE_MS],
      );
    };
    const backlog = async () => {
      const { rows } = await client.query<{ lag: number; recent: number }>(
        `SELECT extract(epoch FROM ($1::timestamptz - min(gateway_checked_at)))::float8 AS lag,
                count(*) FILTER (WHERE gateway_checked_at > $1::timestamptz - $2 * interval '1 second')::int AS recent
         FROM orders WHERE order_no LIKE 'SWEEP%'`,
        [new Date(), CHECK_INTERVAL_SECONDS],
      );
      return { lagSeconds: rows[0].lag, checkedWithinInterval: rows[0].recent };
    };

    // The first load on a fresh server runs slower (JIT); it is not measured.
    await pollLoad(WARM_UP_SECONDS);

    const idleQueries: Array<{ queries: number; seconds: number }> = [];
    const busyRounds: BusyRound[] = [];
    const idle = async (): Promise<LoadResult> => {
      const before = await counts();
      const started = Date.now();
      const load = await pollLoad(ROUND_SECONDS);
      idleQueries.push({ queries: (await counts()) - before, seconds: (Date.now() - started) / 1000 });
      return load;
    };
    const busy = async (): Promise<LoadResult> => {
      await resume();
      // The load generator takes a moment to start: the queries are counted while it polls, from
      // counts read every SAMPLE_MS.
      const sampler = sampleCounts(counts);
      const load = await pollLoad(ROUND_SECONDS);
      const ended = Date.now();
      const samples = await sampler.stop();
      const started = ended - load.durationSeconds * 1000;
      busyRounds.push({
        queries: Math.round(countAt(samples, ended) - countAt(samples, started)),
        seconds: load.durationSeconds,
        ...(await backlog()),
      });
      await pause();
      return load;
    };
    const result = await sideBySide(idle, busy, ROUNDS);

    // The sweeper on its own, after the last round: what it manages with the process to itself.
    await resume();
    await new Promise((resolve) => setTimeout(resolve, SWEEP_INTERVAL_SECONDS * 1000));
    const aloneBefore = await counts();
    const aloneStarted = Date.now();
    await new Promise((resolve) => setTimeout(resolve, ROUND_SECONDS * 1000));
    const aloneQueries = (await counts()) - aloneBefore;
    const aloneSeconds = (Date.now() - aloneStarted) / 1000;
    const aloneBacklog = await backlog();
    const distinct = ((await (await fetch(`${gateway.url}/bench/counts`)).json()) as DoubleCounts).distinctBillsQueried;

    const busyQueries = busyRounds.reduce((sum, round) => sum + round.queries, 0);
    const busySeconds = busyRounds.reduce((sum, round) => sum + round.seconds, 0);
    const perSecond = busyQueries / busySeconds;
    const alonePerSecond = aloneQueries / aloneSeconds;
    const designPerSecond = ORDERS / CHECK_INTERVAL_SECONDS;
    const idlePerSecond =
      idleQueries.reduce((sum, round) => sum + round.queries, 0) /
      idleQueries.reduce((sum, round) => sum + round.seconds, 0);
    const lags = busyRounds.map((round) => round.lagSeconds);
    const keepingUp = [...lags, aloneBacklog.lagSeconds].every((lag) => lag <= KEEPING_UP_LAG_SECONDS);
    const { subject, baseline } = result;
    const healthy = subject.non2xx === 0 && subject.errors === 0;
    const idleHealthy = baseline.non2xx === 0 && baseline.errors === 0;
    const failures = (side: { non2xx: number; errors: number }) =>
      side.non2xx === 0 && side.errors === 0 ? '' : ` (${side.non2xx} non-2xx, ${side.errors} errors)`;
    const where = `${ORDERS} pending orders, postgres, ${SETTINGS}`;
    const design = `design: ${ORDERS} orders ÷ ${CHECK_INTERVAL_SECONDS} s = ${designPerSecond}/s`;

    return [
      {
        benchmark: 'sweeper cost',
        case: `${where}: gateway bill queries while ${CONNECTIONS} conns poll (${ROUNDS} rounds of ${ROUND_SECONDS} s)`,
        measured: `${Math.round(perSecond)} queries/s (${busyQueries} in ${busySeconds.toFixed(1)} s; rounds ${busyRounds
          .map((round) => Math.round(round.queries / round.seconds))
          .join('/')})`,
        baseline: design,
        ratio: perSecond / designPerSecond,
        target: 'none (informative)',
        met: null,
      },
      {
        benchmark: 'sweeper cost',
        case: `${where}: gateway bill queries, no polls (${ROUND_SECONDS} s after the rounds)`,
        measured: `${Math.round(alonePerSecond)} queries/s (${aloneQueries} in ${aloneSeconds.toFixed(1)} s); ${distinct} distinct bills asked in all; sweeper idle ${idlePerSecond.toFixed(1)}/s`,
        baseline: design,
        ratio: alonePerSecond / designPerSecond,
        target: 'none (informative)',
        met: null,
      },
      {
        benchmark: 'sweeper cost',
        case: `${where}: lag (now − oldest check) after each busy round / after the no-poll run`,
        measured: `${lags.map((lag) => lag.toFixed(1)).join('/')} s / ${aloneBacklog.lagSeconds.toFixed(1)} s; checked within the last ${CHECK_INTERVAL_SECONDS} s: ${[
          ...busyRounds,
          aloneBacklog,
        ]
          .map((round) => round.checkedWithinInterval)
          .join('/')} of ${ORDERS}`,
        baseline: `check interval ${CHECK_INTERVAL_SECONDS} s + sweep interval ${SWEEP_INTERVAL_SECONDS} s`,
        target: `≤ ${KEEPING_UP_LAG_SECONDS} s every time (keeps up)`,
        met: keepingUp,
      },
      {
        benchmark: 'sweeper cost',
        case: `status polls of a pending order, ${CONNECTIONS} conns, sweeper busy vs idle: throughput`,
        measured: `busy ${Math.round(subject.requestsPerSecond)} req/s${failures(subject)}`,
        baseline: `idle ${Math.round(baseline.requestsPerSecond)} req/s${failures(baseline)}; ${formatRatios(result.ratios)}`,
        ratio: result.medianRatio,
        target: '≥ 0.60 of idle (informative)',
        met: healthy && idleHealthy && result.medianRatio >= 0.6,
      },
      {
        benchmark: 'sweeper cost',
        case: `status polls of a pending order, ${CONNECTIONS} conns, sweeper busy vs idle: latency`,
        measured: `busy p50 ${subject.latencyP50Ms} ms, p99 ${subject.latencyP99Ms} ms`,
        baseline: `idle p50 ${baseline.latencyP50Ms} ms, p99 ${baseline.latencyP99Ms} ms`,
        ratio: baseline.latencyP99Ms > 0 ? subject.latencyP99Ms / baseline.latencyP99Ms : undefined,
        target: 'none (informative; ratio = p99 busy ÷ idle)',
        met: null,
      },
    ];
  } finally {
    await client.end();
    await server.stop();
    await gateway.stop();
    await database.drop();
  }
}

/** Reads a counter every SAMPLE_MS until stopped, with the time of each reading. */
function sampleCounts(read: () => Promise<number>) {
  const samples: Array<{ at: number; count: number }> = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const count = await read();
      samples.push({ at: Date.now(), count });
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
    }
    const count = await read();
    samples.push({ at: Date.now(), count });
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return samples;
    },
  };
}

/** The counter at a moment, interpolated between the readings around it. */
function countAt(samples: ReadonlyArray<{ at: number; count: number }>, at: number): number {
  if (at <= samples[0].at) return samples[0].count;
  for (let i = 1; i < samples.length; i += 1) {
    const next = samples[i];
    if (at <= next.at) {
      const previous = samples[i - 1];
      return previous.count + ((next.count - previous.count) * (at - previous.at)) / Math.max(1, next.at - previous.at);
    }
  }
  return samples[samples.length - 1].count;
}
