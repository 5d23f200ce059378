import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { BeeCloudGateway } from '../../server/adapters/payments/gateway/beecloud';
import type { Sandbox } from '../../server/sandbox';
import { APP_ID, APP_SECRET, MASTER_SECRET, makeSandbox, startReceiver, type Receiver } from '../sandbox/helpers';

/**
 * The gateway adapter's day of transactions (`listTransactions`) against the sandbox, which
 * serves `GET /2/rest/bills` with its filters and paging as seed 001 §4.4.1 describes them.
 */
describe('BeeCloudGateway.listTransactions', () => {
  // The sandbox and the adapter share a clock the test moves, so bills are created on given days.
  let clock = 0;
  let sandbox: Sandbox;
  let server: Server;
  let receiver: Receiver;
  let gateway: BeeCloudGateway;
  const at = (iso: string) => {
    clock = Date.parse(iso);
  };

  beforeAll(async () => {
    sandbox = makeSandbox({ now: () => clock });
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- Koa's callback never rejects
    server = createServer(sandbox.app.callback());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    receiver = await startReceiver();
    gateway = new BeeCloudGateway({
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      appId: APP_ID,
      appSecret: APP_SECRET,
      masterSecret: MASTER_SECRET,
      notifyUrl: receiver.url,
      now: () => clock,
    });
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await sandbox.close();
    await receiver.close();
  });

  let serial = 0;
  async function bill(amount: number, paidAtIso?: string): Promise<string> {
    serial += 1;
    const billNo = `L${String(serial).padStart(12, '0')}`;
    const created = await gateway.openBill({
      billNo,
      orderNo: `O${billNo}`,
      channel: 'WX_MINI',
      amount,
      title: 'Coffee',
      expiresAt: new Date(clock + 3_600_000),
      timeoutSeconds: 3600,
      openid: 'oTestOpenid000000000000000001',
    });
    expect(created.outcome).toBe('created');
    if (paidAtIso) {
      const openedAt = clock;
      at(paidAtIso);
      await request(sandbox.app.callback())
        .post(`/sandbox/bills/${billNo}/settle`)
        .send({ result: 'paid', notify: false })
        .expect(200);
      clock = openedAt;
    }
    return billNo;
  }

  it('lists the bills created that China day and paid, page after page, whenever they were paid', async () => {
    at('2026-03-14T23:59:59.999+08:00');
    const dayBefore = await bill(100, '2026-03-15T00:05:00+08:00');
    at('2026-03-15T00:00:00.000+08:00');
    const first = await bill(200, '2026-03-15T00:01:00+08:00');
    at('2026-03-15T12:00:00+08:00');
    const midday: string[] = [];
    for (let i = 0; i < 55; i += 1) midday.push(await bill(1000 + i, '2026-03-15T12:30:00+08:00'));
    for (let i = 0; i < 3; i += 1) await bill(300);
    const refundedBill = midday[7];
    const refund = await gateway.createRefund({
      refundNo: '20260315R0000000001',
      billNo: refundedBill,
      channel: 'WX_MINI',
      amount: 10,
      billAmount: 1007,
      orderNo: `O${refundedBill}`,
    });
    expect(refund.outcome).toBe('accepted');
    at('2026-03-15T23:59:59.999+08:00');
    const last = await bill(400, '2026-03-16T00:10:00+08:00');
    at('2026-03-16T00:00:00.000+08:00');
    const dayAfter = await bill(500, '2026-03-16T00:01:00+08:00');

    const listed = await gateway.listTransactions('2026-03-15');

    expect(listed.map((transaction) => transaction.billNo).sort()).toEqual([first, ...midday, last].sort());
    expect(listed.map((transaction) => transaction.billNo)).not.toContain(dayBefore);
    expect(listed.map((transaction) => transaction.billNo)).not.toContain(dayAfter);
    const byBill = new Map(listed.map((transaction) => [transaction.billNo, transaction]));
    expect(byBill.get(last)).toMatchObject({
      amount: 400,
      state: 'paid',
      paidAt: new Date('2026-03-16T00:10:00+08:00'),
    });
    expect(byBill.get(last)?.tradeNo).toEqual(expect.any(String));
    expect(byBill.get(midday[54])).toMatchObject({ amount: 1054, state: 'paid' });
    expect(byBill.get(refundedBill)).toMatchObject({ amount: 1007, state: 'refunded' });

    expect((await gateway.listTransactions('2026-03-16')).map((transaction) => transaction.billNo)).toEqual([dayAfter]);
  });

  it('refuses what is not a day', async () => {
    await expect(gateway.listTransactions('2026-02-30')).rejects.toThrow(RangeError);
  });
});
