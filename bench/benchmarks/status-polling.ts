import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateLoad } from '../lib/load';
import { freshDatabase } from '../lib/postgres';
import { startCheckoutServer, startServerProcess } from '../lib/processes';
import type { ResultRow } from '../lib/report';
import { billNoOf, createOrder, login, pay, settle, waitForStatus } from '../lib/shop';
import { formatRatios, sideBySide, SideBySideResult } from '../lib/side-by-side';

const ROUNDS = 3;
const DURATION_SECONDS = 3;
const CONNECTIONS = [50, 500];

/**
 * `GET /api/orders/:orderNo/status` for a pending and a paid order, against bare Koa answering
 * the same JSON from a constant. Per case, bare Koa and the server take turns (ROUNDS short
 * runs each, baseline first in every round) and the table shows medians.
 */
export async function statusPolling(): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  const bare = await startServerProcess('bench/bare-koa.ts', {});
  const bareLoad = (connections: number) => () =>
    generateLoad({
      url: `${bare.url}/api/orders/2026000000000000BENCH001/status`,
      connections,
      durationSeconds: DURATION_SECONDS,
    });
  try {
    for (const storage of ['pglite', 'postgres'] as const) {
      const dataDir = mkdtempSync(join(tmpdir(), 'bench-status-'));
      const database = storage === 'postgres' ? await freshDatabase('status') : undefined;
      const server = await startCheckoutServer(database ? { DATABASE_URL: database.url } : { DATA_DIR: dataDir });
      try {
        const token = await login(server.url, server.sandboxUrl!);
        const pending = await createOrder(server.url, token);
        await pay(server.url, token, pending.orderNo);
        const paid = await createOrder(server.url, token);
        await pay(server.url, token, paid.orderNo);
        await settle(server.sandboxUrl!, await billNoOf(server.sandboxUrl!, server.url));
        await waitForStatus(server.url, token, paid.orderNo, 'paid');

        for (const [state, orderNo] of [
          ['pending', pending.orderNo],
          ['paid', paid.orderNo],
        ] as const) {
          for (const connections of CONNECTIONS) {
            const serverLoad = () =>
              generateLoad({
                url: `${server.url}/api/orders/${orderNo}/status`,
                connections,
                durationSeconds: DURATION_SECONDS,
                headers: { authorization: `Bearer ${token}` },
              });
            const result = await sideBySide(bareLoad(connections), serverLoad, ROUNDS);
            rows.push(...statusRows(storage, state, connections, result));
          }
        }
      } finally {
        await server.stop();
        await database?.drop();
        rmSync(dataDir, { recursive: true, force: true });
      }
    }
  } finally {
    await bare.stop();
  }
  return rows;
}

function statusRows(storage: string, state: string, connections: number, result: SideBySideResult): ResultRow[] {
  const { subject, baseline, medianRatio } = result;
  const healthy = subject.non2xx === 0 && subject.errors === 0;
  const rows: ResultRow[] = [
    {
      benchmark: 'status polling',
      case: `${storage}, ${state}, ${connections} conns: throughput`,
      measured: `${Math.round(subject.requestsPerSecond)} req/s${healthy ? '' : ` (${subject.non2xx} non-2xx, ${subject.errors} errors)`}`,
      baseline: `bare Koa ${Math.round(baseline.requestsPerSecond)} req/s; ${formatRatios(result.ratios)}`,
      ratio: medianRatio,
      target: '≥ 0.60 of bare Koa',
      met: healthy && medianRatio >= 0.6,
    },
  ];
  if (connections === 50) {
    rows.push({
      benchmark: 'status polling',
      case: `${storage}, ${state}, 50 conns: p99 latency`,
      measured: `${subject.latencyP99Ms} ms (p50 ${subject.latencyP50Ms} ms)`,
      baseline: `bare Koa p99 ${baseline.latencyP99Ms} ms`,
      target: 'p99 ≤ 10 ms',
      met: subject.latencyP99Ms <= 10,
    });
  }
  return rows;
}
