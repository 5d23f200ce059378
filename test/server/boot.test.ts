import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

function start(env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  let output = '';
  const child = spawn(TSX, ['server/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitFor(probe: () => RegExpMatchArray | null, timeoutMs: number): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = probe();
    if (match) return match;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('npm start (server/main.ts)', () => {
  let dataDir: string;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'checkout-boot-'));
  });

  afterEach(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('should serve both URLs it prints with no configuration, and stop cleanly on SIGTERM', async () => {
    const server = start({ PORT: '0', SANDBOX_PORT: '0', DATA_DIR: dataDir });
    try {
      const [, serverUrl] = await waitFor(() => server.output().match(/Checkout server\s+(http:\S+)/), 30_000);
      const [, sandboxUrl] = await waitFor(() => server.output().match(/Sandbox\s+(http:\S+)/), 1000);
      expect((await fetch(`${serverUrl}/healthz`)).status).toBe(200);
      const minted = await fetch(`${sandboxUrl}/sandbox/wechat/codes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(minted.ok).toBe(true);
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    } finally {
      server.child.kill('SIGKILL');
    }
  });

  it('should refuse to boot, naming the missing secret, outside sandbox mode', async () => {
    const server = start({ DATA_DIR: dataDir, GATEWAY_BASE_URL: 'https://payapi.example.com', GATEWAY_APP_ID: 'a' });
    expect(await server.exited).toBe(1);
    expect(server.output()).toMatch(/GATEWAY_APP_SECRET is required/);
    expect(server.output()).toMatch(/GATEWAY_MASTER_SECRET is required/);
  });
});
