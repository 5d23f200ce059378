import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPglite } from '../../server/adapters/storage/database';
import { migrate } from '../../server/adapters/storage/migrations';
import { ROOT, stopProcess } from '../lib/processes';
import type { ResultRow } from '../lib/report';
import { median } from '../lib/side-by-side';

const RUNS = 3;
const SEEDED_ORDERS = 100_000;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** `npm start` until `/healthz` answers 200, in milliseconds. */
async function timeToFirstHealthy(dataDir: string): Promise<number> {
  const [port, sandboxPort] = [await freePort(), await freePort()];
  const started = Date.now();
  const child = spawn('npm', ['start'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      DATA_DIR: dataDir,
      PORT: String(port),
      SANDBOX_PORT: String(sandboxPort),
    },
    stdio: 'ignore',
    detached: true,
  });
  try {
    for (;;) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/healthz`);
        if (response.status === 200) return Date.now() - started;
      } catch {
        // not listening yet
      }
      if (Date.now() - started > 60_000) throw new Error('the server did not become healthy within 60 s');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    // npm starts the server as its child: stop the whole process group.
    if (child.pid) process.kill(-child.pid, 'SIGTERM');
    await stopProcess(child);
  }
}

/** `npm start` to the first 200 on /healthz: an empty data dir, and one holding 100,000 orders. */
export async function coldStart(): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  const empty: number[] = [];
  for (let run = 0; run < RUNS; run += 1) {
    const dataDir = mkdtempSync(join(tmpdir(), 'bench-cold-'));
    try {
      empty.push(await timeToFirstHealthy(dataDir));
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  rows.push({
    benchmark: 'cold start',
    case: 'npm start → first 200 on /healthz, empty DATA_DIR (PGlite)',
    measured: `median ${median(empty)} ms of ${RUNS} (${empty.join(', ')})`,
    target: '≤ 3000 ms',
    met: median(empty) <= 3000,
  });

  const seeded = mkdtempSync(join(tmpdir(), 'bench-cold-seeded-'));
  try {
    const db = await openPglite(seeded);
    await migrate(db);
    await db.query(
      `INSERT INTO orders (order_no, owner, status, amount, currency, items, title, created_at, expires_at, status_changed_at)
       SELECT 'SEED' || lpad(n::text, 12, '0'), 'weapp:seed', CASE WHEN n % 3 = 0 THEN 'paid' ELSE 'expired' END, 4500, 'CNY',
              '[{"sku":"ceramic-mug","title":"陶瓷马克杯","unitPrice":4500,"quantity":1,"amount":4500}]', '陶瓷马克杯',
              now() - interval '1 day', now() - interval '1 day' + interval '15 minutes', now()
       FROM generate_series(1, $1) AS n`,
      [SEEDED_ORDERS],
    );
    await db.close();
    const withOrders: number[] = [];
    for (let run = 0; run < RUNS; run += 1) withOrders.push(await timeToFirstHealthy(seeded));
    rows.push({
      benchmark: 'cold start',
      case: `npm start → first 200 on /healthz, DATA_DIR with ${SEEDED_ORDERS} orders (PGlite)`,
      measured: `median ${median(withOrders)} ms of ${RUNS} (${withOrders.join(', ')})`,
      target: '≤ 3000 ms',
      met: median(withOrders) <= 3000,
    });
  } finally {
    rmSync(seeded, { recursive: true, force: true });
  }
  return rows;
}
