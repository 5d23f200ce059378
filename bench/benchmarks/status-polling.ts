import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateLoad, LoadResult } from '../lib/load';
import { freshDatabase } from '../lib/postgres';
import { startCheckoutServer, startServerProcess } from '../lib/processes';
import type { ResultRow } from '../lib/report';
import { billNoOf, createOrder, login, pay, settle, waitForStatus } from '../lib/shop';

const DURATION_SECONDS = 5;
const CONNECTIONS = [50, 500];

/**
 * `GET /api/orders/:orderNo/status` for a pending and a paid order, against bare Koa answering
 * the same JSON from a constant, measured in the same run.
 */
export async function statusPolling(): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  // The baseline runs right before each case, so both see the same machine load.
  const bare = await startServerProcess('bench/bare-koa.ts', {});
  const bareLoad = (connections: number) =>
    generateLoad({ url: `${bare.url}/api/orders/2026000000000000BENCH001/status`, connections, durationSeconds: DURATION_SECONDS });
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

        for (const [state, orderNo] of [['pending', pending.orderNo], ['paid', paid.orderNo]] as const) {
          for (const connections of CONNECTIONS) {
            const bareResult = await bareLoad(connections);
            const result = await generateLoad({
              url: `${server.url}/api/orders/${orderNo}/status`,
              connections,
              durationSeconds: DURATION_SECONDS,
              headers: { authorization: `Bearer ${token}` },
            });
            rows.push(...statusRows(storage, state, connections, result, bareResult));
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

function statusRows(storage: string, state: string, connections: number, result: LoadResult, bare: LoadResult): ResultRow[] {
  const ratio = result.requestsPerSecond / bare.requestsPerSecond;
  const healthy = result.non2xx === 0 && result.errors === 0;
  const rows: ResultRow[] = [
    {
      benchmark: 'status polling',
      case: `${storage}, ${state}, ${connections} conns: throughput`,
      measured: `${Math.round(result.requestsPerSecond)} req/s${healthy ? '' : ` (${result.non2xx} non-2xx, ${result.errors} errors)`}`,
      baseline: `bare Koa ${Math.round(bare.requestsPerSecond)} req/s`,
      ratio,
      target: '≥ 0.60 of bare Koa',
      met: healthy && ratio >= 0.6,
    },
  ];
  if (connections === 50) {
    rows.push({
      benchmark: 'status polling',
      case: `${storage}, ${state}, 50 conns: p99 latency`,
      measured: `${result.latencyP99Ms} ms (p50 ${result.latencyP50Ms} ms)`,
      baseline: `bare Koa p99 ${bare.latencyP99Ms} ms`,
      target: 'p99 ≤ 10 ms',
      met: result.latencyP99Ms <= 10,
    });
  }
  return rows;
}
