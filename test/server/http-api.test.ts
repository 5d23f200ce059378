import { CheckoutHarness, startHarness } from '../support/checkout-harness';
import { STORAGES, TestDatabase } from '../support/databases';

describe.each(STORAGES)('checkout HTTP API on $name', (storage) => {
  let database: TestDatabase;
  let h: CheckoutHarness;

  beforeAll(async () => {
    database = await storage.open();
    h = await startHarness(database.db);
  });

  afterAll(async () => {
    await h?.close();
    await database?.dispose();
  });

  const auth = (token: string) => ({ authorization: `Bearer ${token}` });

  describe('GET /healthz', () => {
    it('should answer 200 once ready', async () => {
      await h.api.get('/healthz').expect(200, { status: 'ok' });
    });
  });

  describe('GET /api/catalog', () => {
    it('should list items with integer fen prices', async () => {
      const response = await h.api.get('/api/catalog').expect(200);
      expect(response.body.items.length).toBeGreaterThan(0);
      for (const item of response.body.items) {
        expect(Object.keys(item).sort()).toEqual(['price', 'sku', 'title']);
        expect(Number.isInteger(item.price)).toBe(true);
      }
    });
  });

  describe('POST /api/session', () => {
    it('should exchange a login code for a token and never reveal session_key', async () => {
      const minted = await h.sandbox.post('/sandbox/wechat/codes').send({}).expect(201);
      const response = await h.api.post('/api/session').send({ platform: 'weapp', code: minted.body.code }).expect(200);
      expect(Object.keys(response.body).sort()).toEqual(['expiresIn', 'token']);
      expect(response.body.expiresIn).toBeGreaterThan(0);
      expect(JSON.stringify(response.body)).not.toMatch(/session_?key/i);
    });

    it('should answer 401 LOGIN_CODE_INVALID for a used code', async () => {
      const minted = await h.sandbox.post('/sandbox/wechat/codes').send({}).expect(201);
      await h.api.post('/api/session').send({ platform: 'weapp', code: minted.body.code }).expect(200);
      const again = await h.api.post('/api/session').send({ platform: 'weapp', code: minted.body.code }).expect(401);
      expect(again.body.error.code).toBe('LOGIN_CODE_INVALID');
    });

    it('should answer 401 LOGIN_CODE_INVALID for a code WeChat never issued', async () => {
      const response = await h.api.post('/api/session').send({ platform: 'weapp', code: 'never-issued' }).expect(401);
      expect(response.body.error).toEqual({ code: 'LOGIN_CODE_INVALID', message: expect.any(String) });
    });

    it.each([
      [45011, 429, 'LOGIN_RATE_LIMITED'],
      [-1, 503, 'WECHAT_UNAVAILABLE'],
      [40226, 403, 'LOGIN_REJECTED'],
    ])('should map WeChat errcode %s to %s %s', async (errcode, status, code) => {
      const minted = await h.sandbox.post('/sandbox/wechat/codes').send({ errcode }).expect(201);
      const response = await h.api
        .post('/api/session')
        .send({ platform: 'weapp', code: minted.body.code })
        .expect(status);
      expect(response.body.error.code).toBe(code);
    });

    it.each([
      [{}, 'VALIDATION_FAILED'],
      [{ platform: 'weapp' }, 'VALIDATION_FAILED'],
      [{ platform: 'alipay', code: 'x' }, 'VALIDATION_FAILED'],
    ])('should reject %j with 400 %s', async (body, code) => {
      const response = await h.api.post('/api/session').send(body).expect(400);
      expect(response.body.error.code).toBe(code);
    });

    it('should answer 400, not 500, for a body that is not JSON', async () => {
      const response = await h.api
        .post('/api/session')
        .set('content-type', 'application/json')
        .send('{"platform": "weapp",')
        .expect(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
    });
  });

  describe('POST /api/orders', () => {
    it('should price the order from the catalogue', async () => {
      const { token } = await h.login();
      const catalog = (await h.api.get('/api/catalog')).body.items as Array<{ sku: string; price: number }>;
      const response = await h.api
        .post('/api/orders')
        .set(auth(token))
        .send({
          items: [
            { sku: catalog[0].sku, quantity: 2 },
            { sku: catalog[1].sku, quantity: 1 },
          ],
        })
        .expect(201);
      const order = response.body.order;
      expect(order.amount).toBe(catalog[0].price * 2 + catalog[1].price);
      expect(order).toMatchObject({ currency: 'CNY', status: 'pending' });
      expect(order.orderNo).toMatch(/^[A-Za-z0-9]{8,32}$/);
      expect(new Date(order.expiresAt).getTime()).toBeGreaterThan(Date.now());
      expect(order.items).toHaveLength(2);
    });

    it('should ignore a price sent by the client', async () => {
      const { token } = await h.login();
      const response = await h.api
        .post('/api/orders')
        .set(auth(token))
        .send({ items: [{ sku: 'ceramic-mug', quantity: 1, price: 1 }], amount: 1 })
        .expect(201);
      expect(response.body.order.amount).toBe(4500);
    });

    it('should return the same order for a retried Idempotency-Key', async () => {
      const { token } = await h.login();
      const body = { items: [{ sku: 'ceramic-mug', quantity: 1 }] };
      const [first, second] = await Promise.all([
        h.api.post('/api/orders').set(auth(token)).set('idempotency-key', 'attempt-1').send(body),
        h.api.post('/api/orders').set(auth(token)).set('idempotency-key', 'attempt-1').send(body),
      ]);
      expect(first.status).toBe(201);
      expect(second.status).toBe(201);
      expect(second.body.order.orderNo).toBe(first.body.order.orderNo);
      const count = await h.services.database.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM orders WHERE idempotency_key = 'attempt-1'",
      );
      expect(count.rows[0].n).toBe(1);
    });

    it('should refuse an Idempotency-Key reused for a different cart with 422', async () => {
      const { token } = await h.login();
      await h.api
        .post('/api/orders')
        .set(auth(token))
        .set('idempotency-key', 'k2')
        .send({ items: [{ sku: 'ceramic-mug', quantity: 1 }] })
        .expect(201);
      const response = await h.api
        .post('/api/orders')
        .set(auth(token))
        .set('idempotency-key', 'k2')
        .send({ items: [{ sku: 'ceramic-mug', quantity: 3 }] })
        .expect(422);
      expect(response.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    });

    it('should answer 401 SESSION_INVALID without a valid token', async () => {
      const body = { items: [{ sku: 'ceramic-mug', quantity: 1 }] };
      expect((await h.api.post('/api/orders').send(body).expect(401)).body.error.code).toBe('SESSION_INVALID');
      expect((await h.api.post('/api/orders').set(auth('forged')).send(body).expect(401)).body.error.code).toBe(
        'SESSION_INVALID',
      );
    });

    it.each([
      [{ items: [] }, 400, 'VALIDATION_FAILED'],
      [{ items: [{ sku: 'ceramic-mug', quantity: 0 }] }, 400, 'VALIDATION_FAILED'],
      [{ items: [{ sku: 'ceramic-mug', quantity: 1.5 }] }, 400, 'VALIDATION_FAILED'],
      [{ items: [{ sku: 'no-such-thing', quantity: 1 }] }, 422, 'UNKNOWN_SKU'],
    ])('should reject %j with %s %s', async (body, status, code) => {
      const { token } = await h.login();
      const response = await h.api.post('/api/orders').set(auth(token)).send(body).expect(status);
      expect(response.body.error.code).toBe(code);
    });
  });

  describe('POST /api/orders/:orderNo/pay', () => {
    it('should create a WX_MINI bill for the shopper and pass the signed values through', async () => {
      const { token, openid } = await h.login();
      const order = await h.createOrder(token);
      const response = await h.pay(token, order.orderNo).expect(200);
      expect(response.body.platform).toBe('weapp');
      const params = response.body.requestPayment;
      expect(Object.keys(params).sort()).toEqual(['nonceStr', 'package', 'paySign', 'signType', 'timeStamp']);
      expect(params.timeStamp).toMatch(/^\d{10}$/);

      const [bill] = await h.billsOf(order.orderNo);
      expect(bill).toMatchObject({ channel: 'WX_MINI', total_fee: order.amount, status: 'open' });
      expect(params.package).toBe(`prepay_id=${bill.prepay_id}`);
      expect(bill.notify_url).toBe(`${h.services.serverUrl}/api/gateway/webhook`);
      expect(bill.bill_no).not.toBe(order.orderNo);
      const payer = await h.services.database.query<{ payer: string }>('SELECT payer FROM bills WHERE bill_no = $1', [
        bill.bill_no,
      ]);
      expect(payer.rows[0].payer).toBe(openid);
    });

    it('should reuse the open bill when the shopper taps pay again', async () => {
      const { token } = await h.login();
      const order = await h.createOrder(token);
      const first = await h.pay(token, order.orderNo).expect(200);
      const second = await h.pay(token, order.orderNo).expect(200);
      expect(second.body).toEqual(first.body);
      expect(await h.billsOf(order.orderNo)).toHaveLength(1);
    });

    it('should open a new bill with a new bill_no after a failed attempt', async () => {
      const { token } = await h.login();
      const order = await h.createOrder(token);
      await h.pay(token, order.orderNo).expect(200);
      const [failed] = await h.billsOf(order.orderNo);
      await h.settle(failed.bill_no, 'failed').expect(200);
      h.advanceClock(60_000);
      try {
        await h.sweep();
      } finally {
        h.advanceClock(-60_000);
      }
      await expectStatus(h, token, order.orderNo, 'failed');
      await h.pay(token, order.orderNo).expect(200);
      const bills = await h.billsOf(order.orderNo);
      expect(bills).toHaveLength(2);
      expect(new Set(bills.map((bill) => bill.bill_no)).size).toBe(2);
      expect((await h.status(token, order.orderNo)).status).toBe('pending');
    });

    it('should answer 409 ORDER_ALREADY_PAID for a paid order', async () => {
      const { token } = await h.login();
      const order = await h.createOrder(token);
      await h.pay(token, order.orderNo).expect(200);
      const [bill] = await h.billsOf(order.orderNo);
      await h.settle(bill.bill_no, 'paid').expect(200);
      await expectStatus(h, token, order.orderNo, 'paid');
      expect((await h.pay(token, order.orderNo).expect(409)).body.error.code).toBe('ORDER_ALREADY_PAID');
    });

    it('should answer 404 for an order owned by someone else, and for none at all', async () => {
      const owner = await h.login();
      const stranger = await h.login();
      const order = await h.createOrder(owner.token);
      const response = await h.pay(stranger.token, order.orderNo).expect(404);
      expect(response.body.error.code).toBe('ORDER_NOT_FOUND');
      await h.api.get(`/api/orders/${order.orderNo}/status`).set(auth(stranger.token)).expect(404);
      await h.pay(owner.token, 'NOSUCHORDER123').expect(404);
      await h.pay(owner.token, 'bad-number!').expect(404);
    });

    it('should reject a platform the session does not belong to', async () => {
      const { token } = await h.login();
      const order = await h.createOrder(token);
      const response = await h.api
        .post(`/api/orders/${order.orderNo}/pay`)
        .set(auth(token))
        .send({ platform: 'tt' })
        .expect(400);
      expect(response.body.error.code).toBe('PLATFORM_MISMATCH');
    });
  });

  describe('GET /api/orders/:orderNo/status', () => {
    it('should answer pending with code 9 before payment', async () => {
      const { token } = await h.login();
      const order = await h.createOrder(token);
      expect(await h.status(token, order.orderNo)).toEqual({
        orderNo: order.orderNo,
        status: 'pending',
        code: 9,
        refundedAmount: 0,
      });
    });

    it('should answer paid 0 after the webhook, closed 3 once the gateway answers a query with closed', async () => {
      const { token } = await h.login();
      const paid = await h.createOrder(token);
      await h.pay(token, paid.orderNo).expect(200);
      await h.settle((await h.billsOf(paid.orderNo))[0].bill_no, 'paid').expect(200);
      expect(await expectStatus(h, token, paid.orderNo, 'paid')).toMatchObject({ code: 0 });

      const closed = await h.createOrder(token);
      await h.pay(token, closed.orderNo).expect(200);
      await h.settle((await h.billsOf(closed.orderNo))[0].bill_no, 'closed').expect(200);
      // The gateway sends no message for a closure: it is learned from its answer to a query.
      expect((await h.status(token, closed.orderNo)).status).toBe('pending');
      h.advanceClock(60_000);
      try {
        await h.sweep();
      } finally {
        h.advanceClock(-60_000);
      }
      expect(await expectStatus(h, token, closed.orderNo, 'closed')).toMatchObject({ code: 3 });
    });
  });

  describe('unknown routes', () => {
    it('should answer 404 NOT_FOUND as JSON', async () => {
      const response = await h.api.get('/api/nothing-here').expect(404);
      expect(response.body.error.code).toBe('NOT_FOUND');
    });
  });
});

async function expectStatus(h: CheckoutHarness, token: string, orderNo: string, status: string) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const answer = await h.status(token, orderNo);
    if (answer.status === status || Date.now() > deadline) {
      expect(answer.status).toBe(status);
      return answer;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.each(STORAGES)('session lifetime on $name', (storage) => {
  it('should refuse an expired session and prune it later', async () => {
    const database = await storage.open();
    const h = await startHarness(database.db);
    try {
      const { token } = await h.login();
      await h.api.get('/api/orders/NOSUCHORDER1/status').set('authorization', `Bearer ${token}`).expect(404);
      h.advanceClock(2 * 60 * 60 * 1000 + 1000);
      const expired = await h.api
        .get('/api/orders/NOSUCHORDER1/status')
        .set('authorization', `Bearer ${token}`)
        .expect(401);
      expect(expired.body.error.code).toBe('SESSION_INVALID');
      const sessions = () => h.services.database.query<{ n: number }>('SELECT count(*)::int AS n FROM sessions');
      h.advanceClock(2 * 60 * 60 * 1000);
      expect((await sessions()).rows[0].n).toBe(1);
      expect(await h.services.sessions.pruneExpired()).toBe(1);
      expect((await sessions()).rows[0].n).toBe(0);
    } finally {
      await h.close();
      await database.dispose();
    }
  });
});
