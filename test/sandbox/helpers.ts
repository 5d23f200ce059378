import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import request from 'supertest';
import { createSandbox, type Sandbox, type SandboxOptions } from '../../server/sandbox';

/**
 * Test helpers for the sandbox. Signatures here are computed with `node:crypto` directly,
 * not with the sandbox's own helpers, so the tests check the sandbox independently.
 */

export const APP_ID = 'c5d1cba1-5e3f-4ba0-941d-9b0a371fe719';
export const APP_SECRET = 'test-app-secret';
export const MASTER_SECRET = 'test-master-secret';
export const TEST_SECRET = 'test-test-secret';
export const WECHAT_APPID = 'wx0123456789abcdef';
export const WECHAT_SECRET = 'test-wechat-secret';
export const PAY_KEY = 'abcdefghijklmnopqrstuvwxyz012345';

export function md5(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

export function makeSandbox(overrides: Partial<SandboxOptions> = {}): Sandbox {
  return createSandbox({
    gateway: { appId: APP_ID, appSecret: APP_SECRET, masterSecret: MASTER_SECRET, testSecret: TEST_SECRET },
    wechat: { appId: WECHAT_APPID, secret: WECHAT_SECRET, mchId: '1230000109', payKey: PAY_KEY },
    webhookTimeScale: 0.001,
    ...overrides,
  });
}

/** Adds `app_id`, `timestamp` and `app_sign = md5(app_id + timestamp + secret)`. */
export function signed(params: Record<string, unknown>, secret = APP_SECRET, timestamp = Date.now()) {
  return { app_id: APP_ID, timestamp, app_sign: md5(`${APP_ID}${timestamp}${secret}`), ...params };
}

let serial = 0;
/** A fresh valid bill_no (letters and digits, 8–32). */
export function newBillNo(): string {
  serial += 1;
  return `T${Date.now()}${String(serial).padStart(4, '0')}${Math.floor(Math.random() * 1e4)}`;
}

/** Today's date in China time, `YYYYMMDD`, computed independently of the sandbox. */
export function chinaToday(now = Date.now()): string {
  return new Date(now + 8 * 3600 * 1000).toISOString().slice(0, 10).replace(/-/g, '');
}

export type Api = ReturnType<typeof request>;

export function api(sandbox: Sandbox): Api {
  return request(sandbox.app.callback());
}

/** `GET path?para=<url-encoded JSON>`. */
export function getWithPara(sandbox: Sandbox, path: string, params: Record<string, unknown>) {
  return api(sandbox).get(`${path}?para=${encodeURIComponent(JSON.stringify(params))}`);
}

export interface BillInput {
  channel?: string;
  total_fee?: number;
  title?: string;
  openid?: string;
  notify_url?: string;
  optional?: Record<string, unknown>;
  bill_timeout?: number;
  bill_no?: string;
}

/** Opens a WX_MINI bill (by default) on the live path and returns its answer. */
export async function openBill(sandbox: Sandbox, input: BillInput = {}) {
  const body = {
    channel: 'WX_MINI',
    total_fee: 100,
    title: 'Coffee',
    openid: 'oTestOpenid000000000000000001',
    bill_no: newBillNo(),
    ...input,
  };
  const response = await api(sandbox).post('/2/rest/bill').send(signed(body));
  if (response.body.result_code !== 0) throw new Error(`bill refused: ${JSON.stringify(response.body)}`);
  return { billNo: body.bill_no, answer: response.body as Record<string, unknown> & { id: string } };
}

export interface ReceivedWebhook {
  /** performance.now() when the request arrived. */
  at: number;
  /** Date.now() when the request arrived (the sandbox's default clock). */
  wall: number;
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: Record<string, unknown>;
}

export interface Receiver {
  url: string;
  hits: ReceivedWebhook[];
  close(): Promise<void>;
}

/** A real HTTP server standing in for the merchant's webhook endpoint. */
export async function startReceiver(
  answer: (hitNumber: number) => { status?: number; body: string } = () => ({ body: 'success' }),
): Promise<Receiver> {
  const hits: ReceivedWebhook[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        // kept as raw
      }
      hits.push({ at: performance.now(), wall: Date.now(), headers: req.headers, raw, body });
      const reply = answer(hits.length);
      res.writeHead(reply.status ?? 200, { 'Content-Type': 'text/plain' });
      res.end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhook`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Polls until `check` returns true, or fails after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 3000, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(5);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
