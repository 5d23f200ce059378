import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:net';
import type { AddressInfo } from 'node:net';
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

  describe('a start that cannot work', () => {
    let occupied: Server;
    let occupiedPort: number;
    let newDataDir: string;

    beforeAll(async () => {
      occupied = createServer();
      await new Promise<void>((resolve) => occupied.listen(0, '127.0.0.1', resolve));
      occupiedPort = (occupied.address() as AddressInfo).port;
    });

    afterAll(async () => {
      await new Promise((resolve) => occupied.close(resolve));
    });

    beforeEach(() => {
      newDataDir = join(dataDir, 'new', 'data');
    });

    /** Boots with `env`, expecting exit code 1, `message` alone on stderr, no stack and no new data directory. */
    async function expectRefusal(env: Record<string, string>, message: RegExp): Promise<string> {
      const server = start({ DATA_DIR: newDataDir, PORT: '0', SANDBOX_PORT: '0', ...env });
      try {
        // A start that goes through would run until killed: report it instead of waiting forever.
        const started = new Promise<string>((resolve) =>
          server.child.stdout!.on('data', () => /Checkout server/.test(server.output()) && resolve('started')),
        );
        expect(await Promise.race([server.exited, started])).toBe(1);
      } finally {
        server.child.kill('SIGKILL');
      }
      const output = server.output().trim();
      expect(output).toMatch(message);
      expect(output).not.toMatch(/^\s+at /m);
      expect(existsSync(join(dataDir, 'new'))).toBe(false);
      return output;
    }

    it.each(['PORT', 'SANDBOX_PORT'])('should name %s when it is in use, and remove the data directory it made', async (variable) => {
      const output = await expectRefusal(
        { [variable]: String(occupiedPort) },
        new RegExp(`^Failed to start: ${variable} ${occupiedPort} is in use on 127\\.0\\.0\\.1: .*${variable}`),
      );
      expect(output.split('\n')).toHaveLength(1);
    });

    it('should keep a data directory that existed before a failed start, and what was in it', async () => {
      mkdirSync(newDataDir, { recursive: true });
      writeFileSync(join(newDataDir, 'keep-me'), '');
      const server = start({ PORT: String(occupiedPort), SANDBOX_PORT: '0', DATA_DIR: newDataDir });
      try {
        expect(await server.exited).toBe(1);
      } finally {
        server.child.kill('SIGKILL');
      }
      expect(server.output()).toMatch(/^Failed to start: PORT \d+ is in use/);
      expect(existsSync(join(newDataDir, 'keep-me'))).toBe(true);
      expect(existsSync(join(newDataDir, 'pglite'))).toBe(false);
    });

    it('should name DATABASE_URL, without its password, when the database cannot be reached', async () => {
      const output = await expectRefusal(
        { DATABASE_URL: 'postgres://checkout:s3cret-pw@127.0.0.1:1/shop' },
        /^Failed to start: DATABASE_URL postgres:\/\/checkout:\*\*\*@127\.0\.0\.1:1\/shop cannot be used: .*ECONNREFUSED/,
      );
      expect(output.split('\n')).toHaveLength(1);
      expect(output).not.toContain('s3cret-pw');
    });

    const postgres = process.env.TEST_DATABASE_URL ? it : it.skip;
    postgres('should name DATABASE_URL when its database does not exist', async () => {
      const url = new URL(process.env.TEST_DATABASE_URL!);
      url.pathname = '/no_such_checkout_database';
      await expectRefusal(
        { DATABASE_URL: url.toString() },
        /^Failed to start: DATABASE_URL \S+ cannot be used: database "no_such_checkout_database" does not exist$/,
      );
    });

    it('should name DATA_DIR when it cannot hold a database, and leave what was there', async () => {
      const file = join(dataDir, 'a-file');
      writeFileSync(file, 'not a directory');
      await expectRefusal({ DATA_DIR: file }, /^Failed to start: DATA_DIR \S+ cannot be used: /);
      expect(existsSync(file)).toBe(true);
    });

    it.each([
      ['missing', undefined, /cannot be read: ENOENT/],
      ['not JSON', '{"items": [', /is not JSON: /],
      ['not a catalogue', '{"items": [{"sku": "a", "title": "A", "price": -1}, {"sku": "b b", "title": "", "price": 1}]}', /is not a valid catalogue: items\.0\.price: .*; items\.1\.sku: .*; items\.1\.title: /],
    ])('should name CATALOG_FILE when it is %s', async (_case, content, reason) => {
      const file = join(dataDir, 'catalog.json');
      if (content !== undefined) writeFileSync(file, content);
      const output = await expectRefusal({ CATALOG_FILE: file }, new RegExp(`^Failed to start: CATALOG_FILE \\S+ ${reason.source}`));
      expect(output.split('\n')).toHaveLength(1);
    });

    it.each([
      [{}, /PUBLIC_BASE_URL is required when GATEWAY_BASE_URL is set/],
      [{ PUBLIC_BASE_URL: 'http://127.0.0.1:3000' }, /PUBLIC_BASE_URL cannot be reached from the internet/],
    ])('should refuse a real gateway that would call back nowhere (%j)', async (env, message) => {
      await expectRefusal(
        { GATEWAY_BASE_URL: 'https://payapi.example.com', GATEWAY_APP_ID: 'a', GATEWAY_APP_SECRET: 'b', GATEWAY_MASTER_SECRET: 'c', ...env },
        message,
      );
    });

    it('should refuse one port for the server and the sandbox', async () => {
      await expectRefusal({ PORT: '3999', SANDBOX_PORT: '3999' }, /PORT and SANDBOX_PORT are both 3999/);
    });
  });
});
