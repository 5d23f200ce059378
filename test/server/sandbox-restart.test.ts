import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { loadConfig } from '../../server/config';
import { silentLogger } from '../../server/adapters/observability/logger';
import { RunningServices, startServices } from '../../server/services';

/**
 * `npm start`, stopped and started again over the same DATA_DIR with a bill open: the sandbox
 * still has the bill, paying again hands out that bill, and a payment on it is recorded.
 */
describe('a restart over the same DATA_DIR', () => {
  let dataDir: string;
  const running: RunningServices[] = [];

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'checkout-restart-'));
  });

  afterEach(async () => {
    for (const services of running.splice(0)) await services.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function start(): Promise<RunningServices> {
    const config = loadConfig({ PORT: '0', SANDBOX_PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir });
    const services = await startServices(config, {
      logger: silentLogger(),
      sweeper: { enabled: false },
      sandbox: { webhookTimeScale: 0.001 },
      // The sweep below may ask right after the pay did.
      settings: { webhookGraceMs: 0, gatewayCheckIntervalMs: 0 },
    });
    running.push(services);
    return services;
  }

  async function stop(services: RunningServices): Promise<void> {
    running.splice(running.indexOf(services), 1);
    await services.close();
  }

  it('should keep the open bill, hand it out again, and record its payment', async () => {
    const before = await start();
    const code = (await request(before.sandboxUrl!).post('/sandbox/wechat/codes').send({}).expect(201)).body.code;
    const api = request(before.app.callback());
    const { token } = (await api.post('/api/session').send({ platform: 'weapp', code }).expect(200)).body;
    const auth = { authorization: `Bearer ${token}` };
    const items = [{ sku: 'ceramic-mug', quantity: 1 }];
    const order = (await api.post('/api/orders').set(auth).send({ items }).expect(201)).body.order;
    const pay = (client: typeof api) =>
      client.post(`/api/orders/${order.orderNo}/pay`).set(auth).send({ platform: 'weapp' });
    const first = (await pay(api).expect(200)).body;
    await stop(before);

    const after = await start();
    const sandbox = request(after.sandboxUrl!);
    const again = request(after.app.callback());
    const bills = (await sandbox.get('/sandbox/bills').expect(200)).body.bills;
    expect(bills).toEqual([expect.objectContaining({ status: 'open', prepay_id: expect.any(String) })]);
    expect(first.requestPayment.package).toBe(`prepay_id=${bills[0].prepay_id}`);
    expect((await pay(again).expect(200)).body).toEqual(first);
    expect((await sandbox.get('/sandbox/bills').expect(200)).body.bills).toHaveLength(1);

    // The webhook goes to the address the first run had; the sweeper's query finds the payment.
    await sandbox.post(`/sandbox/bills/${bills[0].bill_no}/settle`).send({ result: 'paid' }).expect(200);
    await after.sweeper.sweepOnce();
    const status = (await again.get(`/api/orders/${order.orderNo}/status`).set(auth).expect(200)).body;
    expect(status).toMatchObject({ status: 'paid', code: 0 });
  });
});
