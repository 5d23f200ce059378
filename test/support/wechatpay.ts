import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WechatPayClient, type WechatPayClientOptions } from '../../server/adapters/payments/wechatpay/client';
import { clientOptionsFromSandboxKeys } from '../../server/adapters/payments/wechatpay/sandbox-credentials';
import { createSandbox, type Sandbox, type SandboxOptions } from '../../server/sandbox';
import { generateSandboxKeys, type WechatPaySandboxKeys } from '../../server/sandbox/wechatpay';

/**
 * Shared pieces of the WeChat Pay APIv3 tests: one set of sandbox keys per test file (RSA and
 * certificate generation take a moment), a sandbox listening on a real port (the clients under
 * test speak real HTTP), and the `openssl` CLI as an independent signer and verifier.
 */

export const WXPAY_MCHID = '1230000109';
export const WXPAY_APPID = 'wx0123456789abcdef';

let shared: Promise<WechatPaySandboxKeys> | undefined;

/** One set of development keys for the whole test file. */
export function sharedKeys(): Promise<WechatPaySandboxKeys> {
  shared ??= generateSandboxKeys({ mchid: WXPAY_MCHID, appid: WXPAY_APPID });
  return shared;
}

export interface ListeningSandbox {
  sandbox: Sandbox;
  url: string;
  close(): Promise<void>;
}

/** A sandbox on 127.0.0.1 with `keys` (unless `dataDir` should make its own), fast notification retries. */
export async function listenSandbox(
  keys: WechatPaySandboxKeys | undefined,
  overrides: Partial<SandboxOptions> = {},
): Promise<ListeningSandbox> {
  const sandbox = createSandbox({
    gateway: { appId: 'app', appSecret: 'app-secret', masterSecret: 'master-secret', testSecret: 'test-secret' },
    wechat: { appId: WXPAY_APPID, secret: 'wechat-secret', mchId: WXPAY_MCHID },
    wechatpay: keys ? { keys } : undefined,
    webhookTimeScale: 0.001,
    ...overrides,
  });
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- Koa's callback never rejects
  const server = http.createServer(sandbox.app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    sandbox,
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await sandbox.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** What `eachTestWechatPaySandbox` gives each test. */
export interface WechatPaySandboxFixture {
  keys: WechatPaySandboxKeys;
  running: ListeningSandbox;
  receiver: NotifyReceiver;
}

/**
 * The lifecycle most WeChat Pay test files share, registered in the calling `describe`: before
 * each test, a sandbox with the file's shared keys and a notify receiver, handed to `started`
 * (which keeps them where the tests read them); after it, both closed.
 */
export function eachTestWechatPaySandbox(started: (fixture: WechatPaySandboxFixture) => void): void {
  let fixture: WechatPaySandboxFixture | undefined;
  beforeEach(async () => {
    const keys = await sharedKeys();
    const running = await listenSandbox(keys);
    let receiver: NotifyReceiver;
    try {
      receiver = await startNotifyReceiver();
    } catch (error) {
      await running.close();
      throw error;
    }
    fixture = { keys, running, receiver };
    started(fixture);
  });
  afterEach(async () => {
    const closing = fixture;
    fixture = undefined;
    await closing?.running.close();
    await closing?.receiver.close();
  });
}

/**
 * Our client of the sandbox at `url` with `keys`, as the server's development setup makes it
 * (`clientOptionsFromSandboxKeys`) but in the platform-certificate mode alone (pass
 * `platformPublicKey` to add the 微信支付公钥) and waiting 5 s for an answer.
 */
export function sandboxClient(
  url: string,
  keys: WechatPaySandboxKeys,
  overrides: Partial<WechatPayClientOptions> = {},
): WechatPayClient {
  const { platformPublicKey: _publicKey, ...certificateMode } = clientOptionsFromSandboxKeys(url, keys);
  return new WechatPayClient({ ...certificateMode, timeoutMs: 5000, ...overrides });
}

/** Runs `openssl` with PEM inputs written to a scratch directory; returns stdout. */
export function openssl(
  args: (dir: string) => string[],
  files: Record<string, string | Buffer>,
  input?: string | Buffer,
): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'wxpay-openssl-'));
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    return execFileSync('openssl', args(dir), { input, stdio: ['pipe', 'pipe', 'pipe'] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** base64 RSA-SHA256 signature of `message` by `privateKeyPem`, made by `openssl dgst`. */
export function opensslSign(message: string, privateKeyPem: string): string {
  return openssl(
    (dir) => ['dgst', '-sha256', '-sign', join(dir, 'key.pem')],
    { 'key.pem': privateKeyPem },
    message,
  ).toString('base64');
}

/** Whether `openssl dgst -verify` accepts `signature` (base64) of `message` by `publicKeyPem`. */
export function opensslVerify(message: string, signature: string, publicKeyPem: string): boolean {
  try {
    const out = openssl(
      (dir) => ['dgst', '-sha256', '-verify', join(dir, 'pub.pem'), '-signature', join(dir, 'sig.bin')],
      { 'pub.pem': publicKeyPem, 'sig.bin': Buffer.from(signature, 'base64') },
      message,
    );
    return out.toString().includes('Verified OK');
  } catch {
    return false;
  }
}

/** A real HTTP listener standing in for the merchant's notify_url. */
export interface NotifyReceiver {
  url: string;
  hits: { headers: http.IncomingHttpHeaders; body: string; at: number }[];
  close(): Promise<void>;
}

export async function startNotifyReceiver(
  answer: (
    hit: number,
    request: { headers: http.IncomingHttpHeaders; body: string },
  ) => Promise<{ status: number; body?: string }> | { status: number; body?: string } = () => ({
    status: 204,
  }),
): Promise<NotifyReceiver> {
  const hits: NotifyReceiver['hits'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const hit = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: performance.now() };
      hits.push(hit);
      // A receiver whose answer throws answers 500, as a broken merchant endpoint would.
      Promise.resolve(answer(hits.length, hit))
        .catch(() => ({ status: 500, body: undefined }))
        .then((reply) => {
          res.writeHead(reply.status, reply.body ? { 'Content-Type': 'application/json' } : {});
          res.end(reply.body);
        })
        .catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/wechatpay/notify`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Polls until `check` holds, or fails after `timeoutMs`. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

let serial = 0;
/** A fresh out_trade_no (6–32 of the allowed characters). */
export function newOutTradeNo(prefix = 'WX'): string {
  serial += 1;
  return `${prefix}${Date.now()}${String(serial).padStart(4, '0')}`;
}
