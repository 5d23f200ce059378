import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { WechatPayClient } from '../../server/adapters/payments/wechatpay/client';
import { fetchSandboxClientOptions } from '../../server/adapters/payments/wechatpay/sandbox-credentials';
import { listenSandbox, newOutTradeNo, sharedKeys, startNotifyReceiver, waitUntil } from '../support/wechatpay';

describe('the WeChat Pay sandbox control endpoints', () => {
  it('should refuse bad control bodies with 400 and unknown orders and refunds with 404', async () => {
    const running = await listenSandbox(await sharedKeys());
    try {
      const api = request(running.url);
      await api.post('/sandbox/wechatpay/transactions/NOSUCH123/settle').send({ result: 'paid' }).expect(404);
      await api.post('/sandbox/wechatpay/refunds/NOSUCH123/settle').send({ result: 'success' }).expect(404);
      await api.get('/sandbox/wechatpay/transactions/NOSUCH123/deliveries').expect(404);
      await api.post('/sandbox/wechatpay/mode').send({}).expect(400);
      await api.post('/sandbox/wechatpay/certificates/rotate').send({ serial: 'x' }).expect(400);
      await api.post('/sandbox/wechatpay/refunds/hold').send({ count: 0 }).expect(400);
      const client = new WechatPayClient(await fetchSandboxClientOptions(running.url));
      const outTradeNo = newOutTradeNo();
      await client.prepayJsapi({
        outTradeNo,
        description: 'Tea',
        amount: 10,
        openid: 'oOpenid',
        notifyUrl: 'https://example.com/notify',
      });
      const bad = await api
        .post(`/sandbox/wechatpay/transactions/${outTradeNo}/settle`)
        .send({ result: 'refunded' })
        .expect(400);
      expect(bad.body.error.code).toBe('BAD_REQUEST');
      await api.delete('/sandbox/wechatpay/refunds/hold').expect(200);
    } finally {
      await running.close();
    }
  });

  it('should refuse to pay an order past its time_expire', async () => {
    let clock = Date.now();
    const running = await listenSandbox(await sharedKeys(), { now: () => clock });
    try {
      const client = new WechatPayClient({ ...(await fetchSandboxClientOptions(running.url)), now: () => clock });
      const outTradeNo = newOutTradeNo();
      await client.prepayJsapi({
        outTradeNo,
        description: 'Tea',
        amount: 10,
        openid: 'oOpenid',
        notifyUrl: 'https://example.com/n',
        expiresAt: clock + 60_000,
      });
      clock += 61_000;
      const refused = await request(running.url)
        .post(`/sandbox/wechatpay/transactions/${outTradeNo}/settle`)
        .send({ result: 'paid' })
        .expect(409);
      expect(refused.body.error.code).toBe('TRANSACTION_EXPIRED');
    } finally {
      await running.close();
    }
  });
});

describe('the WeChat Pay sandbox in a data directory', () => {
  let directory: string;
  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'wxpay-sandbox-'));
  });
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  it('should generate its keys once per directory and keep orders, refunds, mode and rotation across a restart', async () => {
    const first = await listenSandbox(undefined, { dataDir: directory });
    let outTradeNo: string;
    let keys: Record<string, unknown>;
    try {
      keys = (await request(first.url).get('/sandbox/wechatpay/keys').expect(200)).body;
      expect(statSync(join(directory, 'wechatpay-keys.json')).mode & 0o077).toBe(0);
      const client = new WechatPayClient(await fetchSandboxClientOptions(first.url));
      outTradeNo = newOutTradeNo();
      await client.prepayJsapi({
        outTradeNo,
        description: 'Tea',
        amount: 10,
        openid: 'oOpenid',
        notifyUrl: 'https://example.com/n',
      });
      await request(first.url)
        .post(`/sandbox/wechatpay/transactions/${outTradeNo}/settle`)
        .send({ result: 'paid', notify: false })
        .expect(200);
      await request(first.url).post('/sandbox/wechatpay/certificates/rotate').send({}).expect(200);
      await request(first.url).post('/sandbox/wechatpay/mode').send({ mode: 'public_key' }).expect(200);
    } finally {
      await first.close();
    }

    const second = await listenSandbox(undefined, { dataDir: directory });
    try {
      const again = (await request(second.url).get('/sandbox/wechatpay/keys').expect(200)).body;
      expect({ ...again, mode: undefined, certificates: undefined }).toEqual({
        ...keys,
        mode: undefined,
        certificates: undefined,
      });
      expect(again.mode).toBe('public_key');
      expect(again.certificates).toHaveLength(2);
      const client = new WechatPayClient(await fetchSandboxClientOptions(second.url));
      expect((await client.queryTransaction(outTradeNo))?.tradeState).toBe('SUCCESS');
    } finally {
      await second.close();
    }
    expect(JSON.parse(readFileSync(join(directory, 'wechatpay.json'), 'utf8')).transactions).toHaveLength(1);
  });

  it('should resume a notification still being delivered when it stopped', async () => {
    let accept = false;
    const receiver = await startNotifyReceiver(() => (accept ? { status: 204 } : { status: 503 }));
    try {
      const first = await listenSandbox(await sharedKeys(), { dataDir: directory, webhookTimeScale: 1 });
      const outTradeNo = newOutTradeNo();
      try {
        const client = new WechatPayClient(await fetchSandboxClientOptions(first.url));
        await client.prepayJsapi({
          outTradeNo,
          description: 'Tea',
          amount: 10,
          openid: 'oOpenid',
          notifyUrl: receiver.url,
        });
        await request(first.url)
          .post(`/sandbox/wechatpay/transactions/${outTradeNo}/settle`)
          .send({ result: 'paid' })
          .expect(200);
        await waitUntil(() => receiver.hits.length === 1, 5000, 'the first attempt');
      } finally {
        await first.close();
      }
      accept = true;
      const second = await listenSandbox(await sharedKeys(), { dataDir: directory });
      try {
        await waitUntil(() => receiver.hits.length === 2, 5000, 'the resumed delivery');
        await waitUntil(
          async () => {
            const listed = await request(second.url).get(`/sandbox/wechatpay/transactions/${outTradeNo}/deliveries`);
            return listed.body.deliveries.some((d: { ok: boolean }) => d.ok);
          },
          5000,
          'the acknowledged attempt to be recorded',
        );
      } finally {
        await second.close();
      }
    } finally {
      await receiver.close();
    }
  });
});
