import { createPublicKey, createSign, createVerify, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DOUYIN } from '../../server/sandbox';
import { api, makeSandbox } from './helpers';

describe("the Douyin payment systems' control endpoints", () => {
  it('should hand out matching 2048-bit RSA pairs, a salt and a token, the same across a restart on one data directory', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'douyin-pay-keys-'));
    try {
      const first = makeSandbox({ dataDir });
      const keys = (await api(first).get('/sandbox/douyin/keys').expect(200)).body as Record<string, string>;
      await first.close();
      for (const [privateKey, publicKey] of [
        [keys.appPrivateKey, keys.appPublicKey],
        [keys.platformPrivateKey, keys.platformPublicKey],
      ]) {
        expect(createPublicKey(publicKey).asymmetricKeyDetails?.modulusLength).toBe(2048);
        const signature = createSign('RSA-SHA256').update('message').sign(privateKey);
        expect(createVerify('RSA-SHA256').update('message').verify(publicKey, signature)).toBe(true);
      }
      expect(keys.appPublicKey).not.toBe(keys.platformPublicKey);
      expect(keys.salt.length).toBeGreaterThanOrEqual(32);
      expect(keys.token.length).toBeGreaterThan(0);
      const again = makeSandbox({ dataDir });
      expect((await api(again).get('/sandbox/douyin/keys').expect(200)).body).toEqual(keys);
      await again.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('should refuse a bad settle body with 400 and an unknown order with 404', async () => {
    const sandbox = makeSandbox();
    try {
      expect((await api(sandbox).get('/sandbox/douyin/orders').expect(200)).body).toEqual({ orders: [] });
      const bad = await api(sandbox)
        .post('/sandbox/douyin/orders/NOSUCH1/settle')
        .send({ result: 'refunded' })
        .expect(400);
      expect(bad.body.error.code).toBe('BAD_REQUEST');
      const unknown = await api(sandbox)
        .post('/sandbox/douyin/orders/NOSUCH1/settle')
        .send({ result: 'paid' })
        .expect(404);
      expect(unknown.body.error.code).toBe('NO_SUCH_ORDER');
      // A long number is echoed cut short, saying how long it was (the README's error contract).
      const long = await api(sandbox)
        .post(`/sandbox/douyin/orders/${'9'.repeat(3000)}/settle`)
        .send({ result: 'paid' });
      expect(long.status).toBe(404);
      expect(long.body.error.message).toContain('…(3000 characters)');
      expect(long.body.error.message.length).toBeLessThan(200);
    } finally {
      await sandbox.close();
    }
  });

  describe('the emulated 通用交易系统', () => {
    /** What tt.requestOrder carries: the order JSON and its byteAuthorization, signed here with node:crypto. */
    function signedOrder(
      keys: Record<string, string>,
      outOrderNo: string,
      amount = 300,
      timestampS = Date.now() / 1000,
    ) {
      const data = JSON.stringify({
        skuList: [{ skuId: 'CO1', price: amount, quantity: 1, title: 'Tea', imageList: [] }],
        outOrderNo,
        totalAmount: amount,
        payExpireSeconds: 600,
        payNotifyUrl: 'http://127.0.0.1:9/notify',
        orderEntrySchema: { path: 'pages/checkout/index', params: '{}' },
      });
      const timestamp = String(Math.floor(timestampS));
      const nonce = randomBytes(8).toString('hex');
      const signature = createSign('RSA-SHA256')
        .update(`POST\n/requestOrder\n${timestamp}\n${nonce}\n${data}\n`)
        .sign(keys.appPrivateKey, 'base64');
      const byteAuthorization =
        `SHA256-RSA2048 appid=${DEFAULT_DOUYIN.appId},nonce_str=${nonce},timestamp=${timestamp},` +
        `key_version=${keys.keyVersion},signature=${signature}`;
      return { data, byteAuthorization };
    }

    it('should make, list, settle and refund orders with client tokens, and keep them across a restart', async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'douyin-trade-'));
      let sandbox = makeSandbox({ dataDir });
      try {
        const keys = (await api(sandbox).get('/sandbox/douyin/keys').expect(200)).body as Record<string, string>;
        const refused = await api(sandbox)
          .post('/oauth/client_token/')
          .send({ client_key: DEFAULT_DOUYIN.appId, client_secret: 'wrong', grant_type: 'client_credential' })
          .expect(200);
        expect(refused.body.data).toMatchObject({ error_code: 10013 });
        const issued = await api(sandbox)
          .post('/oauth/client_token/')
          .send({
            client_key: DEFAULT_DOUYIN.appId,
            client_secret: DEFAULT_DOUYIN.secret,
            grant_type: 'client_credential',
          })
          .expect(200);
        expect(issued.body.data).toMatchObject({
          error_code: 0,
          expires_in: 7200,
          access_token: expect.stringMatching(/^clt\./),
        });
        const token = issued.body.data.access_token as string;
        const query = (body: Record<string, unknown>, accessToken = token) =>
          api(sandbox).post('/api/trade_basic/v1/developer/order_query/').set('access-token', accessToken).send(body);

        expect((await query({ out_order_no: 'T1' }, 'clt.forged').expect(200)).body).toMatchObject({
          err_no: 28001003,
        });
        expect((await query({ out_order_no: 'T1' }).expect(200)).body).toMatchObject({ err_no: 28001004 });

        const made = await api(sandbox)
          .post('/sandbox/douyin/trade/request-order')
          .send(signedOrder(keys, 'T1'))
          .expect(200);
        expect((await api(sandbox).get('/sandbox/douyin/orders').expect(200)).body.orders).toEqual([
          { system: 'trade', outOrderNo: 'T1', orderId: made.body.orderId, totalAmount: 300, status: 'pending' },
        ]);
        expect((await query({ out_order_no: 'T1' }).expect(200)).body.data).toMatchObject({ pay_status: 'PROCESS' });
        await api(sandbox).post('/sandbox/douyin/orders/T1/settle').send({ result: 'paid', notify: false }).expect(200);
        expect((await query({ order_id: made.body.orderId }).expect(200)).body.data).toMatchObject({
          pay_status: 'SUCCESS',
          total_amount: 300,
        });
        const conflict = await api(sandbox)
          .post('/sandbox/douyin/orders/T1/settle')
          .send({ result: 'closed' })
          .expect(409);
        expect(conflict.body.error.code).toBe('ORDER_STATE_CONFLICT');

        const refund = (amount: number, outRefundNo: string) =>
          api(sandbox)
            .post('/api/trade_basic/v1/developer/refund_create/')
            .set('access-token', token)
            .send({ out_order_no: 'T1', out_refund_no: outRefundNo, refund_total_amount: amount });
        expect((await refund(301, 'R0').expect(200)).body).toMatchObject({ err_no: 28001012 });
        const accepted = await refund(100, 'R1').expect(200);
        expect(accepted.body).toMatchObject({ err_no: 0, data: { refund_id: expect.any(String) } });
        expect((await refund(100, 'R1').expect(200)).body.data.refund_id).toBe(accepted.body.data.refund_id);
        expect((await refund(200, 'R1').expect(200)).body).toMatchObject({ err_no: 28001010 });

        await sandbox.close();
        sandbox = makeSandbox({ dataDir });
        const listed = await api(sandbox)
          .post('/api/trade_basic/v1/developer/refund_query/')
          .set('access-token', token)
          .send({ out_refund_no: 'R1' })
          .expect(200);
        // Tokens are not kept across a restart; orders and refunds are.
        expect(listed.body).toMatchObject({ err_no: 28001003 });
        expect((await api(sandbox).get('/sandbox/douyin/orders').expect(200)).body.orders).toEqual([
          expect.objectContaining({ outOrderNo: 'T1', status: 'paid' }),
        ]);
      } finally {
        await sandbox.close();
        rmSync(dataDir, { recursive: true, force: true });
      }
    });

    it('should refuse at tt.requestOrder a stale, foreign or forged byteAuthorization and malformed order data', async () => {
      const sandbox = makeSandbox();
      try {
        const keys = (await api(sandbox).get('/sandbox/douyin/keys').expect(200)).body as Record<string, string>;
        const requestOrder = (body: object) => api(sandbox).post('/sandbox/douyin/trade/request-order').send(body);
        const stale = signedOrder(keys, 'S1', 300, Date.now() / 1000 - 301);
        expect((await requestOrder(stale).expect(400)).body.error).toMatchObject({ code: 'SIGNATURE_INVALID' });
        const fresh = signedOrder(keys, 'S1');
        const foreign = {
          ...fresh,
          byteAuthorization: fresh.byteAuthorization.replace(DEFAULT_DOUYIN.appId, 'ttother'),
        };
        expect((await requestOrder(foreign).expect(400)).body.error.message).toMatch(/appid/);
        const otherVersion = {
          ...fresh,
          byteAuthorization: fresh.byteAuthorization.replace(/key_version=\w+/, 'key_version=9'),
        };
        expect((await requestOrder(otherVersion).expect(400)).body.error.message).toMatch(/key_version/);
        const forged = { ...fresh, data: fresh.data.replace('"totalAmount":300', '"totalAmount":3') };
        expect((await requestOrder(forged).expect(400)).body.error.code).toBe('SIGNATURE_INVALID');
        const twoLines = signedOrder(keys, 'S2');
        const parsed = JSON.parse(twoLines.data) as { skuList: unknown[] };
        parsed.skuList.push(parsed.skuList[0]);
        const malformed = signedOrder(keys, 'S2');
        const resigned = (() => {
          const data = JSON.stringify({ ...JSON.parse(malformed.data), skuList: parsed.skuList });
          const timestamp = String(Math.floor(Date.now() / 1000));
          const signature = createSign('RSA-SHA256')
            .update(`POST\n/requestOrder\n${timestamp}\nn1\n${data}\n`)
            .sign(keys.appPrivateKey, 'base64');
          return {
            data,
            byteAuthorization: `SHA256-RSA2048 appid=${DEFAULT_DOUYIN.appId},nonce_str=n1,timestamp=${timestamp},key_version=${keys.keyVersion},signature=${signature}`,
          };
        })();
        expect((await requestOrder(resigned).expect(400)).body.error).toMatchObject({
          code: 'ORDER_INVALID',
          message: expect.stringMatching(/one SKU line/),
        });
        expect((await api(sandbox).get('/sandbox/douyin/orders').expect(200)).body.orders).toEqual([]);
      } finally {
        await sandbox.close();
      }
    });
  });
});
