import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DOUYIN_APP_ID } from '../../server/sandbox';
import type { DouyinPaySandboxKeys } from '../../server/sandbox/douyin-pay';
import { api, makeSandbox } from './helpers';

/**
 * The emulated 担保支付 at its real paths, checked with the published vectors
 * (payments-beyond.md, "Douyin mini-program payment" → 担保支付): a request signed as Douyin's
 * own example is taken, one changed after signing or for another app is refused; orders survive a
 * restart on one data directory.
 */

const SALT = 'oDxWDBr4U7FAAQ8hnGDm29i4A6pbTMDKme4WLLvA';
const KEYS: DouyinPaySandboxKeys = {
  salt: SALT,
  token: 'douyin_mini_token',
  appPublicKey: '',
  appPrivateKey: '',
  platformPublicKey: '',
  platformPrivateKey: '',
  keyVersion: '1',
};
const VECTOR = {
  app_id: DEFAULT_DOUYIN_APP_ID,
  out_order_no: '202406100423024876',
  total_amount: 1,
  subject: '闫嵩达 - test - subject - 01',
  body: '闫嵩达 - test - body - 01',
  valid_time: 600,
  notify_url: 'https://yansongda.cn/douyin/notify',
  sign: '771c1952ffb5e0744fc0ad1337aafa6a',
};

describe('the emulated 担保支付', () => {
  it('should take the published pre-orders with their published signs, and refuse them altered, unsigned or for another app', async () => {
    const sandbox = makeSandbox({ douyinPay: { keys: KEYS } });
    try {
      const created = await api(sandbox).post('/api/apps/ecpay/v1/create_order').send(VECTOR).expect(200);
      expect(created.body).toMatchObject({
        err_no: 0,
        data: { order_id: expect.stringMatching(/^\d{19}$/), order_token: expect.any(String) },
      });
      const second = await api(sandbox)
        .post('/api/apps/ecpay/v1/create_order')
        .send({
          ...VECTOR,
          out_order_no: '202406101307142575',
          expand_order_info: { original_delivery_fee: 15, actual_delivery_fee: 10 },
          sign: '259702d0e950991b0bd494c9357f3ca4',
        })
        .expect(200);
      expect(second.body.err_no).toBe(0);
      for (const refused of [
        { ...VECTOR, total_amount: 2 },
        { ...VECTOR, sign: undefined },
        { ...VECTOR, out_order_no: '202406101307142575' },
      ]) {
        const answer = await api(sandbox).post('/api/apps/ecpay/v1/create_order').send(refused).expect(200);
        expect(answer.body).toEqual({ err_no: 1003, err_tips: '签名校验失败' });
      }
      const otherApp = await api(sandbox)
        .post('/api/apps/ecpay/v1/create_order')
        .send({ ...VECTOR, app_id: 'tt0000000000000000' })
        .expect(200);
      expect(otherApp.body.err_no).toBe(1002);
      const notJson = await api(sandbox).post('/api/apps/ecpay/v1/query_order').send('{').expect(200);
      expect(notJson.body.err_no).toBe(1001);
    } finally {
      await sandbox.close();
    }
  });

  it('should keep its orders across a restart on one data directory, and settle them from the control endpoint once', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'douyin-guaranteed-'));
    try {
      const first = makeSandbox({ dataDir, douyinPay: { keys: KEYS } });
      const created = await api(first).post('/api/apps/ecpay/v1/create_order').send(VECTOR).expect(200);
      await first.close();

      const again = makeSandbox({ dataDir, douyinPay: { keys: KEYS } });
      try {
        const listed = await api(again).get('/sandbox/douyin/orders').expect(200);
        expect(listed.body.orders).toEqual([
          {
            system: 'guaranteed',
            outOrderNo: VECTOR.out_order_no,
            orderId: created.body.data.order_id,
            totalAmount: 1,
            status: 'pending',
          },
        ]);
        const { order_id, order_token } = created.body.data as { order_id: string; order_token: string };
        await api(again)
          .post('/sandbox/douyin/guaranteed/pay')
          .send({ order_id, order_token, action: 'open' })
          .expect(200);
        const settled = await api(again)
          .post(`/sandbox/douyin/orders/${VECTOR.out_order_no}/settle`)
          .send({ result: 'paid', notify: false })
          .expect(200);
        expect(settled.body.order.status).toBe('paid');
        const conflict = await api(again)
          .post(`/sandbox/douyin/orders/${VECTOR.out_order_no}/settle`)
          .send({ result: 'closed' })
          .expect(409);
        expect(conflict.body.error.code).toBe('ORDER_STATE_CONFLICT');
        await api(again).post('/sandbox/douyin/guaranteed/pay').send({ order_id, order_token }).expect(409);
        const salted = (params: Record<string, unknown>) => {
          const values = Object.values(params).map(String);
          const sign = createHash('md5')
            .update([...values, SALT].sort().join('&'))
            .digest('hex');
          return { app_id: DEFAULT_DOUYIN_APP_ID, ...params, sign };
        };
        const queried = await api(again)
          .post('/api/apps/ecpay/v1/query_order')
          .send(salted({ out_order_no: VECTOR.out_order_no }))
          .expect(200);
        expect(queried.body).toMatchObject({
          err_no: 0,
          out_order_no: VECTOR.out_order_no,
          order_id,
          payment_info: { total_fee: 1, order_status: 'SUCCESS' },
        });
      } finally {
        await again.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
