import request, { Test } from 'supertest';
import { loadConfig } from '../../server/config';
import type { Database } from '../../server/adapters/storage/database';
import { silentLogger } from '../../server/adapters/observability/logger';
import { RunningServices, StartOptions, startServices } from '../../server/services';
import type { SweepReport } from '../../server/domain/sweeper';

/**
 * A real checkout server and a real sandbox on ephemeral ports, over the given database.
 * Requests go through supertest on `app.callback()`; the sandbox calls the listening server.
 */
export interface CheckoutHarness {
  services: RunningServices;
  api: ReturnType<typeof request>;
  sandbox: ReturnType<typeof request>;
  /** Moves the server's clock forward (expiry tests). */
  advanceClock(ms: number): void;
  /** The server's clock now (real time plus what `advanceClock` moved). */
  now(): Date;
  login(openid?: string): Promise<{ token: string; openid: string }>;
  createOrder(
    token: string,
    items?: Array<{ sku: string; quantity: number }>,
  ): Promise<{ orderNo: string; amount: number; expiresAt: string }>;
  pay(token: string, orderNo: string): Test;
  billsOf(orderNo?: string): Promise<SandboxBill[]>;
  settle(billNo: string, result: 'paid' | 'failed' | 'closed', notify?: boolean): Test;
  status(token: string, orderNo: string): Promise<{ status: string; code: number; refundedAmount: number }>;
  /** Runs one sweep of the server's sweeper now (it does not run on a timer unless asked). */
  sweep(): Promise<SweepReport>;
  close(): Promise<void>;
}

export interface SandboxBill {
  bill_no: string;
  channel: string;
  total_fee: number;
  status: string;
  notify_url: string;
  prepay_id?: string;
  url?: string;
  order_string?: string;
  deliveries: number;
}

export async function startHarness(
  database: Database,
  options: Omit<StartOptions, 'database' | 'clock'> & { env?: Record<string, string> } = {},
): Promise<CheckoutHarness> {
  let offsetMs = 0;
  // Every upstream double here listens on loopback, and so does the server its webhooks reach.
  const config = loadConfig({
    PORT: '0',
    SANDBOX_PORT: '0',
    HOST: '127.0.0.1',
    ALLOW_UNREACHABLE_WEBHOOKS: 'true',
    ...options.env,
  });
  const services = await startServices(config, {
    logger: silentLogger(),
    ...options,
    sandbox: { webhookTimeScale: 0.001, ...options.sandbox },
    sweeper: { enabled: false, ...options.sweeper },
    database,
    clock: () => new Date(Date.now() + offsetMs),
  });
  const api = request(services.app.callback());
  const sandbox = request(services.sandboxUrl!);

  const harness: CheckoutHarness = {
    services,
    api,
    sandbox,
    advanceClock(ms) {
      offsetMs += ms;
    },
    now: () => new Date(Date.now() + offsetMs),
    async login(openid) {
      const minted = await sandbox
        .post('/sandbox/wechat/codes')
        .send(openid ? { openid } : {})
        .expect(201);
      const session = await api.post('/api/session').send({ platform: 'weapp', code: minted.body.code }).expect(200);
      return { token: session.body.token, openid: minted.body.openid };
    },
    async createOrder(token, items = [{ sku: 'coffee-beans-250g', quantity: 2 }]) {
      const response = await api
        .post('/api/orders')
        .set('authorization', `Bearer ${token}`)
        .send({ items })
        .expect(201);
      return response.body.order;
    },
    pay(token, orderNo) {
      return api.post(`/api/orders/${orderNo}/pay`).set('authorization', `Bearer ${token}`).send({ platform: 'weapp' });
    },
    async billsOf(orderNo) {
      const response = await sandbox.get('/sandbox/bills').expect(200);
      const bills: SandboxBill[] = response.body.bills;
      if (!orderNo) return bills;
      const ours = await services.database.query<{ bill_no: string }>('SELECT bill_no FROM bills WHERE order_no = $1', [
        orderNo,
      ]);
      const numbers = new Set(ours.rows.map((row) => row.bill_no));
      return bills.filter((bill) => numbers.has(bill.bill_no));
    },
    settle(billNo, result, notify = true) {
      return sandbox.post(`/sandbox/bills/${billNo}/settle`).send({ result, notify });
    },
    async status(token, orderNo) {
      const response = await api
        .get(`/api/orders/${orderNo}/status`)
        .set('authorization', `Bearer ${token}`)
        .expect(200);
      return response.body;
    },
    sweep: async () => {
      const report = await services.sweeper.sweepOnce();
      await services.verdicts.drain();
      await services.refunds.drain();
      return report;
    },
    close: () => services.close(),
  };
  return harness;
}

export async function eventually<T>(
  probe: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
