import { generateLoad, type LoadResult } from '../lib/load';
import { freshDatabase } from '../lib/postgres';
import { startCheckoutServer } from '../lib/processes';
import type { ResultRow } from '../lib/report';
import { createOrder, login, pay } from '../lib/shop';
import { formatRatios, sideBySide } from '../lib/side-by-side';

const ORDERS = 20;
const CONNECTIONS = 50;
const ROUNDS = 3;
const ROUND_SECONDS = 5;
const WARM_UP_SECONDS = 2;
/** After the gateway is made to hang (or to answer again), before the polls start. */
const SETTLE_MS = 2000;
/** The bound: no status poll over this while the gateway hangs. */
const POLL_LIMIT_MS = 100;
/** Every gateway query of the hung sides is held this long: longer than the whole run. */
const HOLD_MS = 600_000;
const GATEWAY_TIMEOUT_MS = 30_000;
// Every pending order is due for a check after a second: the polls' background checks and the
// sweeper ask the gateway as often as the server ever does.
const WEBHOOK_GRACE_SECONDS = 0;
const CHECK_INTERVAL_SECONDS = 1;
const SWEEP_INTERVAL_SECONDS = 1;
const SETTINGS = `WEBHOOK_GRACE_SECONDS=${WEBHOOK_GRACE_SECONDS}, GATEWAY_CHECK_INTERVAL_SECONDS=${CHECK_INTERVAL_SECONDS}, SWEEP_INTERVAL_SECONDS=${SWEEP_INTERVAL_SECONDS}, GATEWAY_TIMEOUT_MS=${GATEWAY_TIMEOUT_MS}`;

/** What the sandbox's gateway logged, counted line by line from the server's output. */
interface GatewayLog {
  /** Queries whose answer the sandbox holds (a hold outlives the run, so all are still held). */
  held: number;
  /** Bill queries the sandbox answered. */
  answered: number;
  /** Checks the server gave up on ("gateway check failed …", after GATEWAY_TIMEOUT_MS). */
  failedChecks: number;
}

/**
 * Status polls of pending orders while the payment gateway hangs: every bill query the server
 * makes (the polls' background checks and the sweeper) is held by the sandbox for 10 minutes.
 * The same polls with the gateway answering at once take turns with them (healthy first in every
 * round), so both sides see the same stretches of the machine.
 */
export async function hungGateway(): Promise<ResultRow[]> {
  const database = await freshDatabase('hung');
  const server = await startCheckoutServer({
    DATABASE_URL: database.url,
    WEBHOOK_GRACE_SECONDS: String(WEBHOOK_GRACE_SECONDS),
    GATEWAY_CHECK_INTERVAL_SECONDS: String(CHECK_INTERVAL_SECONDS),
    SWEEP_INTERVAL_SECONDS: String(SWEEP_INTERVAL_SECONDS),
    GATEWAY_TIMEOUT_MS: String(GATEWAY_TIMEOUT_MS),
  });
  const gatewayLog = countGatewayLog(server.child.stdout!, server.child.stderr!);
  try {
    const sandboxUrl = server.sandboxUrl!;
    // A real shopper (WeChat login from the server's sandbox) with ORDERS orders, each paid for, so
    // each has an open bill and stays pending: its webhook never comes.
    const token = await login(server.url, sandboxUrl);
    const orderNos: string[] = [];
    for (let i = 0; i < ORDERS; i += 1) {
      const order = await createOrder(server.url, token);
      await pay(server.url, token, order.orderNo);
      orderNos.push(order.orderNo);
    }
    const paths = orderNos.map((orderNo) => `/api/orders/${orderNo}/status`);
    const polls = (durationSeconds: number) =>
      generateLoad({
        url: server.url,
        connections: CONNECTIONS,
        durationSeconds,
        headers: { authorization: `Bearer ${token}` },
        rotatingPaths: paths,
        slowerThanMs: POLL_LIMIT_MS,
      });

    const hang = async () => {
      const answer = await fetch(`${sandboxUrl}/sandbox/gateway/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ delay_ms: HOLD_MS, operation: 'query', count: 100_000 }),
      });
      if (answer.status !== 201) throw new Error(`gateway fault refused: HTTP ${answer.status} ${await answer.text()}`);
    };
    const heal = async () => {
      const answer = await fetch(`${sandboxUrl}/sandbox/gateway/faults`, { method: 'DELETE' });
      if (answer.status !== 200)
        throw new Error(`clearing the gateway faults failed: HTTP ${answer.status} ${await answer.text()}`);
    };
    const pause = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

    // The first load on a fresh server runs slower (JIT); it is not measured.
    await polls(WARM_UP_SECONDS);

    const healthyRuns: LoadResult[] = [];
    const hungRuns: LoadResult[] = [];
    const healthyAnswered: number[] = [];
    const hungHeld: number[] = [];
    const healthy = async (): Promise<LoadResult> => {
      await heal();
      await pause();
      const before = gatewayLog.answered;
      const result = await polls(ROUND_SECONDS);
      healthyAnswered.push(gatewayLog.answered - before);
      healthyRuns.push(result);
      return result;
    };
    const hung = async (): Promise<LoadResult> => {
      await hang();
      await pause();
      const before = gatewayLog.held;
      const result = await polls(ROUND_SECONDS);
      hungHeld.push(gatewayLog.held - before);
      hungRuns.push(result);
      return result;
    };
    const result = await sideBySide(healthy, hung, ROUNDS);
    await heal();
    const atEnd = { ...gatewayLog };

    const { subject, baseline } = result;
    const failures = (side: { non2xx: number; errors: number }) =>
      side.non2xx === 0 && side.errors === 0 ? '' : ` (${side.non2xx} non-2xx, ${side.errors} errors)`;
    const clean = (side: { non2xx: number; errors: number }) => side.non2xx === 0 && side.errors === 0;
    const slowest = (runs: LoadResult[]) => Math.max(...runs.map((run) => run.latencyMaxMs));
    const overLimit = (runs: LoadResult[]) => runs.reduce((sum, run) => sum + run.slowerThan, 0);
    const total = (runs: LoadResult[]) => runs.reduce((sum, run) => sum + run.requests, 0);
    const perRound = (runs: LoadResult[]) => runs.map((run) => Math.round(run.latencyMaxMs)).join('/');
    const hungMax = slowest(hungRuns);
    const where = `${ORDERS} pending orders, ${CONNECTIONS} conns, postgres, ${SETTINGS}`;
    const turns = `${ROUNDS} rounds of ${ROUND_SECONDS} s each side`;

    return [
      {
        benchmark: 'hung gateway',
        case: `status polls, ${where}, gateway hung vs healthy (${turns}): throughput`,
        measured: `hung ${Math.round(subject.requestsPerSecond)} req/s${failures(subject)}`,
        baseline: `healthy ${Math.round(baseline.requestsPerSecond)} req/s${failures(baseline)}; ${formatRatios(result.ratios)}`,
        ratio: result.medianRatio,
        target: '≥ 0.80 of healthy (informative)',
        met: clean(subject) && clean(baseline) && result.medianRatio >= 0.8,
      },
      {
        benchmark: 'hung gateway',
        case: `status polls, ${CONNECTIONS} conns, gateway hung vs healthy: latency`,
        measured: `hung p50 ${subject.latencyP50Ms} ms, p99 ${subject.latencyP99Ms} ms`,
        baseline: `healthy p50 ${baseline.latencyP50Ms} ms, p99 ${baseline.latencyP99Ms} ms`,
        ratio: baseline.latencyP99Ms > 0 ? subject.latencyP99Ms / baseline.latencyP99Ms : undefined,
        target: 'none (informative; ratio = p99 hung ÷ healthy)',
        met: null,
      },
      {
        benchmark: 'hung gateway',
        case: `status polls, ${CONNECTIONS} conns, gateway hung: slowest poll (the issue's "no poll over ${POLL_LIMIT_MS} ms")`,
        measured: `hung max ${Math.round(hungMax)} ms (rounds ${perRound(hungRuns)}); ${overLimit(hungRuns)} of ${total(hungRuns)} polls over ${POLL_LIMIT_MS} ms`,
        baseline: `healthy max ${Math.round(slowest(healthyRuns))} ms (rounds ${perRound(healthyRuns)}); ${overLimit(healthyRuns)} of ${total(healthyRuns)} over ${POLL_LIMIT_MS} ms`,
        ratio: slowest(healthyRuns) > 0 ? hungMax / slowest(healthyRuns) : undefined,
        target: `no poll over ${POLL_LIMIT_MS} ms while hung (max ≤ ${POLL_LIMIT_MS} ms, no errors)`,
        met: clean(subject) && hungMax <= POLL_LIMIT_MS,
      },
      {
        benchmark: 'hung gateway',
        case: `gateway bill queries (sandbox log): held during each hung side / answered during each healthy side`,
        measured: `${hungHeld.join('/')} held; ${atEnd.held} held at the end (${HOLD_MS / 60_000} min each); ${atEnd.failedChecks} checks given up after ${GATEWAY_TIMEOUT_MS / 1000} s`,
        baseline: `healthy: ${healthyAnswered.join('/')} answered`,
        target: 'none (informative)',
        met: null,
      },
    ];
  } finally {
    // Stopping waits for the sweep and the checks in flight; the held answers go only when the
    // sandbox closes after them, so this may take until the server's own 10 s shutdown limit.
    await server.stop();
    await database.drop();
  }
}

/** Counts the sandbox gateway's lines and the server's failed checks in the server's output. */
function countGatewayLog(stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream): GatewayLog {
  const counts: GatewayLog = { held: 0, answered: 0, failedChecks: 0 };
  const follow = (stream: NodeJS.ReadableStream) => {
    let partial = '';
    stream.on('data', (chunk: Buffer | string) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.includes(': answer held ')) counts.held += 1;
        else if (/gateway GET \/2\/rest\/bills -> /.test(line)) counts.answered += 1;
        else if (line.includes('gateway check failed')) counts.failedChecks += 1;
      }
    });
  };
  follow(stdout);
  follow(stderr);
  return counts;
}
