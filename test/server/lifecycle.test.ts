import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddressInfo, createServer as createNetServer, Socket } from 'node:net';

/**
 * The server as people and supervisors run it: `npm start` and `npm run start:prod`, real
 * processes with their whole process tree, signalled the way a terminal or a supervisor does.
 * Each server runs in its own process group, so the test can see every process it left behind.
 */
const ROOT = join(__dirname, '..', '..');
const LOCK_FILE = 'pglite.lock';

interface Server {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
}

function npm(args: string[], dataDir: string, env: Record<string, string> = {}): Server {
  let output = '';
  const child = spawn('npm', args, {
    cwd: ROOT,
    detached: true,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? tmpdir(),
      npm_config_update_notifier: 'false',
      PORT: '0',
      SANDBOX_PORT: '0',
      DATA_DIR: dataDir,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  let hasExited = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      hasExited = true;
      resolve({ code, signal });
    }),
  );
  return { child, output: () => output, exited, hasExited: () => hasExited };
}

/** Every live process of the group `npm` was started in (orphans keep their group). */
function processGroup(server: Server): number[] {
  const table = execFileSync('ps', ['-e', '-o', 'pid=,pgid=,stat='], { encoding: 'utf8' });
  return table
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([pid, pgid, stat]) => pid && Number(pgid) === server.child.pid && !stat?.startsWith('Z'))
    .map(([pid]) => Number(pid));
}

function killGroup(server: Server): void {
  try {
    process.kill(-server.child.pid!, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

async function waitFor<T>(probe: () => T | undefined | null | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function ready(server: Server): Promise<{ serverUrl: string; sandboxUrl: string }> {
  const [, serverUrl] = await waitFor(
    () => {
      if (server.hasExited()) throw new Error(`the server exited before it was ready:\n${server.output()}`);
      return server.output().match(/Checkout server\s+(http:\S+)/);
    },
    45_000,
    'the server',
  );
  const [, sandboxUrl] = await waitFor(() => server.output().match(/Sandbox\s+(http:\S+)/), 1000, 'the sandbox');
  return { serverUrl: serverUrl!, sandboxUrl: sandboxUrl! };
}

function logged(server: Server, message: string): boolean {
  return server
    .output()
    .split('\n')
    .some((line) => line.startsWith('{') && (JSON.parse(line) as { msg?: string }).msg === message);
}

/** Sends `signal` to the PID the user or supervisor started and expects the whole tree to stop cleanly. */
async function stopCleanly(server: Server, signal: NodeJS.Signals): Promise<void> {
  expect(processGroup(server).length).toBeGreaterThan(0);
  server.child.kill(signal);
  const exit = await Promise.race([
    server.exited,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`npm did not exit on ${signal}`)), 20_000).unref(),
    ),
  ]);
  expect(exit).toEqual({ code: 0, signal: null });
  await waitFor(() => processGroup(server).length === 0, 5000, 'every process of the tree to exit');
  expect(logged(server, 'stopping')).toBe(true);
  expect(logged(server, 'stopped')).toBe(true);
}

async function post(url: string, body: unknown, token?: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
}

async function orderIn(
  urls: { serverUrl: string; sandboxUrl: string },
  token?: string,
): Promise<{ token: string; orderNo: string }> {
  if (!token) {
    const minted = (await (await post(`${urls.sandboxUrl}/sandbox/wechat/codes`, {})).json()) as { code: string };
    const session = await post(`${urls.serverUrl}/api/session`, { platform: 'weapp', code: minted.code });
    token = ((await session.json()) as { token: string }).token;
  }
  const created = await post(
    `${urls.serverUrl}/api/orders`,
    { items: [{ sku: 'coffee-beans-250g', quantity: 1 }] },
    token,
  );
  expect(created.status).toBe(201);
  const { order } = (await created.json()) as { order: { orderNo: string } };
  return { token, orderNo: order.orderNo };
}

function pay(serverUrl: string, order: { token: string; orderNo: string }): Promise<Response> {
  return post(`${serverUrl}/api/orders/${order.orderNo}/pay`, { platform: 'weapp' }, order.token);
}

function heldAnswers(server: Server): number {
  return server.output().match(/answer held/g)?.length ?? 0;
}

async function statusOf(serverUrl: string, order: { token: string; orderNo: string }): Promise<number> {
  const response = await fetch(`${serverUrl}/api/orders/${order.orderNo}/status`, {
    headers: { authorization: `Bearer ${order.token}` },
  });
  return response.status;
}

describe('server lifecycle', () => {
  let dataDir: string;
  const started: Server[] = [];
  const start = (args: string[], env?: Record<string, string>) => {
    const server = npm(args, dataDir, env);
    started.push(server);
    return server;
  };

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'checkout-lifecycle-'));
  });

  afterEach(() => {
    for (const server of started.splice(0)) killGroup(server);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'should stop the whole `npm start` tree on %s to the npm PID, and leave DATA_DIR free for a restart',
    async (signal) => {
      const first = start(['start']);
      await ready(first);
      expect(existsSync(join(dataDir, LOCK_FILE))).toBe(true);
      await stopCleanly(first, signal);
      expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);

      const again = start(['start']);
      const urls = await ready(again);
      expect((await fetch(`${urls.serverUrl}/healthz`)).status).toBe(200);
      await stopCleanly(again, signal);
    },
  );

  it('should act on a signal that arrives while the start hangs (a database that never answers), not die of it', async () => {
    // Accepts connections and never answers: the start waits on it, as on a black-holed host.
    const connections: Socket[] = [];
    const silent = createNetServer((socket) => connections.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as AddressInfo;
      const server = start(['start'], { DATABASE_URL: `postgres://checkout@127.0.0.1:${port}/checkout` });
      await waitFor(() => connections.length > 0, 45_000, 'the start to reach the database');
      server.child.kill('SIGTERM');
      const exit = await Promise.race([
        server.exited,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('npm did not exit on SIGTERM')), 20_000).unref(),
        ),
      ]);
      // Exits by itself, saying the start did not finish: not killed by the signal halfway.
      expect(exit).toEqual({ code: 1, signal: null });
      await waitFor(() => processGroup(server).length === 0, 5000, 'every process of the tree to exit');
    } finally {
      for (const socket of connections) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('should refuse a second server on the same DATA_DIR, naming DATA_DIR and the running server, and keep the first one’s data', async () => {
    const first = start(['start']);
    const urls = await ready(first);
    const order = await orderIn(urls);
    const [serverPid] = await waitFor(() => processGroup(first).filter((pid) => pid !== first.child.pid), 1000, 'pids');

    const second = start(['start']);
    await expect(ready(second)).rejects.toThrow(/exited before it was ready/);
    expect((await second.exited).code).toBe(1);
    expect(second.output()).toContain(`DATA_DIR ${dataDir}`);
    expect(second.output()).toMatch(new RegExp(`pid ${serverPid}\\b`));
    expect(second.output()).toContain('server/main.ts');
    expect(second.output()).not.toMatch(/\n\s+at /);

    expect(await statusOf(urls.serverUrl, order)).toBe(200);
    await stopCleanly(first, 'SIGTERM');
  });

  it('should restart after a crash that left the lock behind, with the data written before it', async () => {
    const crashed = start(['start']);
    const urls = await ready(crashed);
    const order = await orderIn(urls);
    killGroup(crashed);
    await waitFor(() => processGroup(crashed).length === 0, 5000, 'the crashed tree to be gone');
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(true);

    const restarted = start(['start']);
    const after = await ready(restarted);
    expect(await statusOf(after.serverUrl, order)).toBe(200);
    await stopCleanly(restarted, 'SIGTERM');
  });

  it('should refuse new connections at once when stopping, with gateway work in flight, and finish the request in flight', async () => {
    // No sweeps to interleave; a poll of an open bill makes the server ask the gateway at once.
    const server = start(['start'], { SWEEP_INTERVAL_SECONDS: '3600', WEBHOOK_GRACE_SECONDS: '0' });
    const urls = await ready(server);
    const polled = await orderIn(urls);
    expect((await pay(urls.serverUrl, polled)).status).toBe(200);
    // The gateway holds its answers: to the poll's background query, then to the next bill.
    expect(
      (await post(`${urls.sandboxUrl}/sandbox/gateway/faults`, { delay_ms: 1500, operation: 'query' })).status,
    ).toBe(201);
    expect(await statusOf(urls.serverUrl, polled)).toBe(200);
    await waitFor(() => heldAnswers(server) === 1, 10_000, 'the gateway query to be held');
    const paying = await orderIn(urls, polled.token);
    expect((await post(`${urls.sandboxUrl}/sandbox/gateway/faults`, { delay_ms: 500, operation: 'bill' })).status).toBe(
      201,
    );
    const payment = pay(urls.serverUrl, paying);
    await waitFor(() => heldAnswers(server) === 2, 10_000, 'the bill to be held');

    server.child.kill('SIGTERM');
    await waitFor(() => logged(server, 'stopping'), 10_000, 'stopping');
    await expect(fetch(`${urls.serverUrl}/healthz`)).rejects.toThrow();
    const paid = await payment;
    expect(paid.status).toBe(200);
    expect(((await paid.json()) as { requestPayment?: unknown }).requestPayment).toBeDefined();
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(logged(server, 'stopped')).toBe(true);
  });

  it('should build the server to JavaScript and run it with plain node (npm run start:prod)', async () => {
    execFileSync('npm', ['run', 'build:server'], { cwd: ROOT, stdio: 'pipe', timeout: 90_000 });
    expect(existsSync(join(ROOT, 'dist', 'server', 'main.js'))).toBe(true);

    const server = start(['run', 'start:prod']);
    const urls = await ready(server);
    const [serverPid] = await waitFor(
      () => processGroup(server).filter((pid) => pid !== server.child.pid),
      1000,
      'pids',
    );
    expect(execFileSync('ps', ['-o', 'args=', '-p', String(serverPid)], { encoding: 'utf8' }).trim()).toMatch(
      /^\S*node dist\/server\/main\.js$/,
    );
    expect((await fetch(`${urls.serverUrl}/healthz`)).status).toBe(200);
    await orderIn(urls);
    await stopCleanly(server, 'SIGTERM');
  });

  it('should still exit on SIGTERM when whatever reads its log has stopped reading', async () => {
    const server = start(['start']);
    const urls = await ready(server);
    // The reader stalls: the pipe fills (64 KB on Linux) and the server's log lines queue up.
    server.child.stdout!.pause();
    const misses = Array.from({ length: 2000 }, (_, index) => `${urls.serverUrl}/no-such-page-${index}`);
    for (let index = 0; index < misses.length; index += 50) {
      await Promise.all(misses.slice(index, index + 50).map((url) => fetch(url).then((response) => response.text())));
    }
    server.child.kill('SIGTERM');
    const exit = await Promise.race([
      server.exited.then(() => 'exited'),
      new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 20_000).unref()),
    ]);
    expect(exit).toBe('exited');
    await waitFor(() => processGroup(server).length === 0, 5000, 'every process of the tree to exit');
  });
});
