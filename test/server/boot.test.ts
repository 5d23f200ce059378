import { ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { silentLogger } from '../../server/adapters/observability/logger';
import { openPglite } from '../../server/adapters/storage/database';
import { loadConfig } from '../../server/config';
import { startServices } from '../../server/services';
import { readyLines } from '../../server/startup';

const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const onLinux = existsSync('/proc/self/stat');
/** Permissions do not stop root: a read-only directory is tested on a server run as nobody. */
const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
/** Every server started, killed after each test: one that hangs must not outlive it. */
const children: ChildProcess[] = [];

function start(
  env: Record<string, string>,
  user: { uid?: number; gid?: number } = {},
): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  let output = '';
  const child = spawn(TSX, ['server/main.ts'], {
    cwd: ROOT,
    ...user,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
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
    for (const child of children.splice(0)) child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('should serve both URLs it prints with no configuration, and stop cleanly on SIGTERM', async () => {
    const server = start({ PORT: '0', SANDBOX_PORT: '0', DATA_DIR: dataDir });
    try {
      const [, serverUrl] = await waitFor(() => server.output().match(/Checkout server\s+(http:\S+)/), 30_000);
      const [, sandboxUrl] = await waitFor(() => server.output().match(/Sandbox\s+(http:\S+)/), 1000);
      expect((await fetch(`${serverUrl}/healthz`)).status).toBe(200);
      const minted = await fetch(`${sandboxUrl}/sandbox/wechat/codes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(minted.ok).toBe(true);
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      // Checked once it stopped: a failure must not leave tsx's child running (SIGKILL stops tsx alone).
      // The ready lines name every upstream the sandbox stands in for: WeChat Pay too, whose bills
      // opened earlier are still asked about there although new ones go to the gateway.
      expect(server.output()).toContain(
        'Payments         WeChat mini-program: the payment gateway (sandbox); Douyin: the payment gateway (sandbox); ' +
          'bills opened earlier at WeChat Pay: WeChat Pay (sandbox); ' +
          'bills opened earlier at Douyin 担保支付: Douyin 担保支付 (sandbox); ' +
          'bills opened earlier at Douyin 通用交易系统: Douyin 通用交易系统 (sandbox)',
      );
      expect(server.output()).toContain(
        `Sandbox          ${sandboxUrl}   (offline payment gateway, WeChat login, Douyin login, WeChat Pay, Douyin 担保支付, Douyin 通用交易系统)`,
      );
    } finally {
      server.child.kill('SIGKILL');
    }
  });

  describe('the ready lines, in every mode', () => {
    const realGateway = {
      GATEWAY_BASE_URL: 'https://payapi.example.com',
      GATEWAY_APP_ID: 'a',
      GATEWAY_APP_SECRET: 'b',
      GATEWAY_MASTER_SECRET: 'c',
    };
    const realLogins = {
      WECHAT_API_BASE_URL: 'https://api.weixin.example.com',
      WECHAT_APPID: 'wx1',
      WECHAT_SECRET: 's',
      WECHAT_MINIPROGRAM_USERNAME: 'gh_1',
      DOUYIN_API_BASE_URL: 'https://developer.toutiao.example.com',
      DOUYIN_APPID: 'tt1',
      DOUYIN_SECRET: 's',
      DOUYIN_PAY_APP_ID: 'tt1',
      DOUYIN_MERCHANT_ID: 'm1',
      DOUYIN_PAY_SECRET: 'p',
    };

    it.each<[string, Record<string, string>, string, string]>([
      [
        'WeChat Pay for the mini-program',
        { WEAPP_PAYMENT_PROVIDER: 'wechatpay' },
        'WeChat mini-program: WeChat Pay (sandbox); Douyin: the payment gateway (sandbox); ' +
          'bills opened earlier at Douyin 担保支付: Douyin 担保支付 (sandbox); ' +
          'bills opened earlier at Douyin 通用交易系统: Douyin 通用交易系统 (sandbox)',
        '(offline payment gateway, WeChat login, Douyin login, WeChat Pay, Douyin 担保支付, Douyin 通用交易系统)',
      ],
      [
        'a real gateway, logins sandboxed',
        realGateway,
        'WeChat mini-program: the payment gateway; Douyin: the payment gateway; ' +
          'bills opened earlier at WeChat Pay: WeChat Pay (sandbox); ' +
          'bills opened earlier at Douyin 担保支付: Douyin 担保支付 (sandbox); ' +
          'bills opened earlier at Douyin 通用交易系统: Douyin 通用交易系统 (sandbox)',
        '(offline WeChat login, Douyin login, WeChat Pay, Douyin 担保支付, Douyin 通用交易系统)',
      ],
      [
        'every upstream real but WeChat Pay',
        { ...realGateway, ...realLogins, WEAPP_PAYMENT_PROVIDER: 'wechatpay' },
        'WeChat mini-program: WeChat Pay (sandbox); Douyin: the payment gateway',
        '(offline WeChat Pay)',
      ],
      [
        'every upstream real',
        { ...realGateway, ...realLogins },
        'WeChat mini-program: the payment gateway; Douyin: the payment gateway',
        'off (every upstream has a base URL)',
      ],
    ])('should name every upstream the sandbox stands in for, with %s', async (_mode, env, payments, sandbox) => {
      const config = loadConfig({
        PORT: '0',
        SANDBOX_PORT: '0',
        HOST: '127.0.0.1',
        ALLOW_UNREACHABLE_WEBHOOKS: 'true',
        ...env,
      });
      const database = await openPglite(undefined);
      const services = await startServices(config, {
        database,
        logger: silentLogger(),
        sweeper: { enabled: false },
      });
      try {
        const lines = readyLines({
          serverUrl: services.serverUrl,
          storage: 'PGlite',
          sandboxUrl: services.sandboxUrl,
          emulated: services.emulated,
          weapp: services.paymentRoutes.WX_MINI,
          tt: services.paymentRoutes.BC_WX_WAP,
          providers: services.paymentProviders,
        }).map(({ line }) => line);
        expect(lines[1]).toBe(`Payments         ${payments}`);
        expect(lines[2]).toBe(
          sandbox.startsWith('off')
            ? `Sandbox          ${sandbox}`
            : `Sandbox          ${services.sandboxUrl}   ${sandbox}`,
        );
      } finally {
        await services.close();
        await database.close();
      }
    });
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

    /**
     * Boots with `env` (as `user`), expecting exit code 1, `message` alone on stderr, no stack and
     * no new data directory.
     */
    async function expectRefusal(env: Record<string, string>, message: RegExp, user?: typeof asUser): Promise<string> {
      const server = start({ DATA_DIR: newDataDir, PORT: '0', SANDBOX_PORT: '0', ...env }, user);
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
      // What boot refuses past the configuration's checks is said in one line.
      if (output.startsWith('Failed to start:')) expect(output.split('\n')).toHaveLength(1);
      return output;
    }

    it.each(['PORT', 'SANDBOX_PORT'])(
      'should name %s when it is in use, and remove the data directory it made',
      async (variable) => {
        await expectRefusal(
          { [variable]: String(occupiedPort) },
          new RegExp(`^Failed to start: ${variable} ${occupiedPort} is in use on 127\\.0\\.0\\.1: .*${variable}`),
        );
      },
    );

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
      expect(readdirSync(newDataDir)).toEqual(['keep-me']);
    });

    it('should name HOST when it is not an address', async () => {
      await expectRefusal({ HOST: '999.1.1.1' }, /^Failed to start: HOST 999\.1\.1\.1 /);
    });

    it('should name DATABASE_URL, without its password, when the database cannot be reached', async () => {
      const output = await expectRefusal(
        { DATABASE_URL: 'postgres://checkout:s3cret-pw@127.0.0.1:1/shop' },
        /^Failed to start: DATABASE_URL postgres:\/\/checkout:\*\*\*@127\.0\.0\.1:1\/shop cannot be used: .*ECONNREFUSED/,
      );
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
      await expectRefusal({ DATA_DIR: file }, /^Failed to start: DATA_DIR \S+ cannot be used: .*not a directory/);
      await expectRefusal({ DATA_DIR: join(file, 'data') }, /^Failed to start: DATA_DIR \S+ cannot be used: /);
      expect(existsSync(file)).toBe(true);
    });

    (onLinux ? it : it.skip)(
      'should name DATA_DIR, promptly, when the file system refuses new names in it (/proc)',
      async () => {
        // Node's recursive mkdir spins forever there: procfs answers ENOENT for a child of /proc.
        await expectRefusal(
          { DATA_DIR: '/proc/checkout-data' },
          /^Failed to start: DATA_DIR \/proc\/checkout-data cannot be used: .*ENOENT/,
        );
        await expectRefusal(
          { DATA_DIR: '/proc/checkout-data/a/b' },
          /^Failed to start: DATA_DIR \/proc\/checkout-data\/a\/b cannot be used: /,
        );
      },
    );

    it('should name DATA_DIR when it is a symbolic link to nothing, and leave the link', async () => {
      const link = join(dataDir, 'link');
      symlinkSync(join(dataDir, 'nowhere'), link);
      await expectRefusal(
        { DATA_DIR: link },
        /^Failed to start: DATA_DIR \S+ cannot be used: .*symbolic link .*does not exist/,
      );
      await expectRefusal({ DATA_DIR: join(link, 'data') }, /^Failed to start: DATA_DIR \S+ cannot be used: /);
      expect(lstatSync(link).isSymbolicLink()).toBe(true);
      expect(existsSync(join(dataDir, 'nowhere'))).toBe(false);
    });

    it.each([
      ['DATA_DIR is', ''],
      ['DATA_DIR is in', 'data'],
      ['DATA_DIR/sandbox is', 'sandbox'],
    ])('should name DATA_DIR when %s a read-only directory', async (_case, below) => {
      chmodSync(dataDir, 0o755);
      const readOnly = join(dataDir, 'read-only');
      mkdirSync(readOnly);
      const dataDirectory = below === 'sandbox' ? readOnly : join(readOnly, below);
      if (below === 'sandbox') {
        // Only the sandbox's directory is read-only: the database opens, the sandbox's state cannot be kept.
        chmodSync(readOnly, 0o777);
        mkdirSync(join(readOnly, 'sandbox'), { mode: 0o555 });
        chmodSync(join(readOnly, 'sandbox'), 0o555);
      } else {
        chmodSync(readOnly, 0o555);
      }
      const before = readdirSync(readOnly);
      await expectRefusal(
        { DATA_DIR: dataDirectory },
        new RegExp(`^Failed to start: DATA_DIR ${dataDirectory} cannot be used: `),
        asUser,
      );
      expect(readdirSync(readOnly)).toEqual(before);
    });

    it('should name DATA_DIR when DATA_DIR/sandbox, where the sandbox keeps its state, is a file', async () => {
      mkdirSync(newDataDir, { recursive: true });
      writeFileSync(join(newDataDir, 'sandbox'), 'not a directory');
      const server = start({ PORT: '0', SANDBOX_PORT: '0', DATA_DIR: newDataDir });
      try {
        expect(await server.exited).toBe(1);
      } finally {
        server.child.kill('SIGKILL');
      }
      expect(server.output().trim()).toMatch(
        new RegExp(`^Failed to start: DATA_DIR ${newDataDir} cannot be used: .*sandbox.*not a directory$`),
      );
      expect(readdirSync(newDataDir)).toEqual(['sandbox']);
    });

    it.each([
      ['missing', undefined, /cannot be read: ENOENT/],
      ['not JSON', '{"items": [', /is not JSON: /],
      [
        'not a catalogue',
        '{"items": [{"sku": "a", "title": "A", "price": -1}, {"sku": "b b", "title": "", "price": 1}]}',
        /is not a valid catalogue: items\.0\.price: .*; items\.1\.sku: .*; items\.1\.title: /,
      ],
    ])('should name CATALOG_FILE when it is %s', async (_case, content, reason) => {
      const file = join(dataDir, 'catalog.json');
      if (content !== undefined) writeFileSync(file, content);
      await expectRefusal({ CATALOG_FILE: file }, new RegExp(`^Failed to start: CATALOG_FILE \\S+ ${reason.source}`));
    });

    it.each([
      [{}, /PUBLIC_BASE_URL is required when GATEWAY_BASE_URL is set/],
      [{ PUBLIC_BASE_URL: 'http://127.0.0.1:3000' }, /PUBLIC_BASE_URL cannot be reached from the internet/],
    ])('should refuse a real gateway that would call back nowhere (%j)', async (env, message) => {
      await expectRefusal(
        {
          GATEWAY_BASE_URL: 'https://payapi.example.com',
          GATEWAY_APP_ID: 'a',
          GATEWAY_APP_SECRET: 'b',
          GATEWAY_MASTER_SECRET: 'c',
          ...env,
        },
        message,
      );
    });

    it('should refuse one port for the server and the sandbox', async () => {
      await expectRefusal({ PORT: '3999', SANDBOX_PORT: '3999' }, /PORT and SANDBOX_PORT are both 3999/);
    });
  });
});

describe('npm start with WeChat Pay key files of the wrong kind', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'checkout-boot-keys-'));
  });
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('should refuse an EC merchant key and a 1024-bit 微信支付公钥, naming each variable, what it holds and what it must be, and no key', async () => {
    const ec = generateKeyPairSync('ec', {
      namedCurve: 'prime256v1',
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    }).privateKey;
    const small = generateKeyPairSync('rsa', {
      modulusLength: 1024,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    }).publicKey;
    writeFileSync(join(dir, 'apiclient_key.pem'), ec);
    writeFileSync(join(dir, 'pub_key.pem'), small);
    const server = start({
      DATA_DIR: join(dir, 'data'),
      PORT: '0',
      SANDBOX_PORT: '0',
      WECHATPAY_BASE_URL: 'https://api.mch.weixin.qq.com',
      WECHATPAY_MCHID: '1230000109',
      WECHATPAY_SERIAL_NO: '3775B6A45ACD588826D15E583A95F5DDAAAAAAAA',
      WECHATPAY_PRIVATE_KEY_FILE: join(dir, 'apiclient_key.pem'),
      WECHATPAY_APIV3_KEY: 'a'.repeat(32),
      WECHATPAY_PUBLIC_KEY_ID: 'PUB_KEY_ID_0112300001092025010100000000000001',
      WECHATPAY_PUBLIC_KEY_FILE: join(dir, 'pub_key.pem'),
    });
    // A start that goes through would run until killed: report it instead of waiting forever.
    const started = new Promise<string>((resolve) =>
      server.child.stdout!.on('data', () => /Checkout server/.test(server.output()) && resolve('started')),
    );
    expect(await Promise.race([server.exited, started])).toBe(1);
    const output = server.output();
    expect(output).toContain(
      `WECHATPAY_PRIVATE_KEY_FILE ${join(dir, 'apiclient_key.pem')} holds an EC (prime256v1) private key: ` +
        "it must be the merchant's API private key, apiclient_key.pem: an RSA private key of at least 2048 bits",
    );
    expect(output).toContain(
      `WECHATPAY_PUBLIC_KEY_FILE ${join(dir, 'pub_key.pem')} holds a 1024-bit RSA public key: ` +
        'it must be the 微信支付公钥, pub_key.pem: an RSA public key (BEGIN PUBLIC KEY) of at least 2048 bits',
    );
    expect(output).not.toContain('-----BEGIN');
    for (const line of [...ec.split('\n'), ...small.split('\n')].filter((text) => text && !text.startsWith('-----'))) {
      expect(output).not.toContain(line);
    }
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });
});
