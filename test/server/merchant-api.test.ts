import { createHmac } from 'node:crypto';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openPglite } from '../../server/adapters/storage/database';
import { DEVELOPMENT_SECRETS } from '../../server/config';
import { CheckoutHarness, eventually, startHarness } from '../support/checkout-harness';
import { STORAGES, TestDatabase } from '../support/databases';

const API_KEY = 'merchant-key-for-tests-0123456789';
const USERNAME = 'gh_0123456789ab';

const merchantAuth = { authorization: `Bearer ${API_KEY}` };

function tokenOf(path: string): string {
  const token = new URL(path, 'https://mini.program/').searchParams.get('checkout');
  if (!token) throw new Error(`no checkout token in ${path}`);
  return token;
}

describe.each(STORAGES)('merchant API on $name', (storage) => {
  let database: TestDatabase;
  let h: CheckoutHarness;

  beforeAll(async () => {
    database = await storage.open();
    h = await startHarness(database.db, { env: { MERCHANT_API_KEY: API_KEY, WECHAT_MINIPROGRAM_USERNAME: USERNAME } });
  });

  afterAll(async () => {
    await h?.close();
    await database?.dispose();
  });

  const createCheckout = (body: object = { items: [{ sku: 'ceramic-mug', quantity: 2 }], appUserId: 'app-user-1' }) =>
    h.api.post('/api/merchant/checkouts').set(merchantAuth).send(body);
  const claim = (token: string, checkoutToken: string) =>
    h.api.post('/api/checkouts/claim').set('authorization', `Bearer ${token}`).send({ token: checkoutToken });

  describe('authentication', () => {
    it.each([
      ['no header', {}],
      ['a wrong key', { authorization: 'Bearer not-the-key' }],
      ['a shopper token', { authorization: 'Bearer ' + 'x'.repeat(43) }],
      ['the key without Bearer', { authorization: API_KEY }],
    ])('should answer 401 MERCHANT_UNAUTHORIZED for %s', async (_what, headers) => {
      const response = await h.api.get('/api/merchant/orders/NOSUCHORDER1').set(headers).expect(401);
      expect(response.body.error.code).toBe('MERCHANT_UNAUTHORIZED');
    });
  });

  describe('POST /api/merchant/checkouts', () => {
    it('should price the order and answer launch paths carrying a one-time token, not the order number', async () => {
      const response = await createCheckout({
        items: [{ sku: 'ceramic-mug', quantity: 2 }],
        appUserId: 'u1',
        attach: { cart: 7 },
      }).expect(201);
      const checkout = response.body;
      expect(checkout.amount).toBe(9000);
      expect(checkout.orderNo).toMatch(/^[A-Za-z0-9]{8,32}$/);
      expect(checkout.launch.weapp.userName).toBe(USERNAME);
      expect(checkout.launch.weapp.path).toMatch(/^pages\/checkout\/index\?checkout=/);
      expect(checkout.launch.tt.path).toBe(checkout.launch.weapp.path);
      const token = tokenOf(checkout.launch.weapp.path);
      expect(token.length).toBeGreaterThanOrEqual(40);
      expect(checkout.launch.weapp.path).not.toContain(checkout.orderNo);
      const stored = await h.services.database.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM checkout_tokens WHERE token_hash = $1',
        [token],
      );
      expect(stored.rows[0].n).toBe(0);
    });

    it.each([
      ['no items', { items: [], appUserId: 'u' }, 400, 'VALIDATION_FAILED'],
      ['no appUserId', { items: [{ sku: 'ceramic-mug', quantity: 1 }] }, 400, 'VALIDATION_FAILED'],
      [
        'an attach over 2 KB',
        { items: [{ sku: 'ceramic-mug', quantity: 1 }], appUserId: 'u', attach: { big: 'x'.repeat(3000) } },
        400,
        'VALIDATION_FAILED',
      ],
      ['an unknown sku', { items: [{ sku: 'nope', quantity: 1 }], appUserId: 'u' }, 422, 'UNKNOWN_SKU'],
    ])('should reject %s with %s %s', async (_what, body, status, code) => {
      expect((await createCheckout(body).expect(status)).body.error.code).toBe(code);
    });
  });

  describe('claiming a checkout in the mini-program', () => {
    it('should give the order to the first shopper to claim, and refuse a reused token', async () => {
      const checkout = (await createCheckout().expect(201)).body;
      const token = tokenOf(checkout.launch.weapp.path);
      const first = await h.login();
      const second = await h.login();

      const claimed = await claim(first.token, token).expect(200);
      expect(claimed.body.order).toMatchObject({
        orderNo: checkout.orderNo,
        amount: checkout.amount,
        status: 'pending',
      });

      expect((await claim(first.token, token).expect(409)).body.error.code).toBe('CHECKOUT_TOKEN_USED');
      expect((await claim(second.token, token).expect(409)).body.error.code).toBe('CHECKOUT_TOKEN_USED');
      await h.api
        .get(`/api/orders/${checkout.orderNo}/status`)
        .set('authorization', `Bearer ${second.token}`)
        .expect(404);
      expect((await h.status(first.token, checkout.orderNo)).status).toBe('pending');
    });

    it('should let exactly one of two concurrent claims win', async () => {
      const checkout = (await createCheckout().expect(201)).body;
      const token = tokenOf(checkout.launch.weapp.path);
      const [a, b] = [await h.login(), await h.login()];
      const answers = await Promise.all([claim(a.token, token), claim(b.token, token)]);
      expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409]);
    });

    it('should refuse an unknown token with 404 and an expired one with 410', async () => {
      const shopper = await h.login();
      expect((await claim(shopper.token, 'x'.repeat(43)).expect(404)).body.error.code).toBe('CHECKOUT_TOKEN_INVALID');
      const checkout = (await createCheckout().expect(201)).body;
      h.advanceClock(16 * 60 * 1000);
      try {
        const fresh = await h.login();
        const expired = await claim(fresh.token, tokenOf(checkout.launch.weapp.path)).expect(410);
        expect(expired.body.error.code).toBe('CHECKOUT_TOKEN_EXPIRED');
      } finally {
        h.advanceClock(-16 * 60 * 1000);
      }
    });

    it('should require a shopper session to claim', async () => {
      const checkout = (await createCheckout().expect(201)).body;
      await h.api
        .post('/api/checkouts/claim')
        .send({ token: tokenOf(checkout.launch.weapp.path) })
        .expect(401);
    });
  });

  describe('GET /api/merchant/orders/:orderNo', () => {
    it('should show the payment state and the payments once the shopper pays', async () => {
      const checkout = (
        await createCheckout({
          items: [{ sku: 'drip-coffee-10', quantity: 1 }],
          appUserId: 'u9',
          attach: { ref: 'A-1' },
        }).expect(201)
      ).body;
      const before = await h.api.get(`/api/merchant/orders/${checkout.orderNo}`).set(merchantAuth).expect(200);
      expect(before.body.order).toMatchObject({
        status: 'pending',
        code: 9,
        claimed: false,
        appUserId: 'u9',
        attach: { ref: 'A-1' },
        payments: [],
      });

      const shopper = await h.login();
      await claim(shopper.token, tokenOf(checkout.launch.weapp.path)).expect(200);
      await h.pay(shopper.token, checkout.orderNo).expect(200);
      const [bill] = await h.billsOf(checkout.orderNo);
      await h.settle(bill.bill_no, 'paid').expect(200);
      await eventually(
        () => h.status(shopper.token, checkout.orderNo),
        (answer) => answer.status === 'paid',
      );

      const after = await h.api.get(`/api/merchant/orders/${checkout.orderNo}`).set(merchantAuth).expect(200);
      expect(after.body.order).toMatchObject({
        status: 'paid',
        code: 0,
        claimed: true,
        amount: 3900,
        payments: [{ billNo: bill.bill_no, amount: 3900, channel: 'WX_MINI', disposition: 'applied' }],
      });
      expect(typeof after.body.order.paidAt).toBe('string');
    });

    it('should answer 404 for an unknown order', async () => {
      expect((await h.api.get('/api/merchant/orders/NOSUCHORDER1').set(merchantAuth).expect(404)).body.error.code).toBe(
        'ORDER_NOT_FOUND',
      );
    });
  });
});

describe('merchant API switched off', () => {
  it('should answer 404 MERCHANT_API_DISABLED against a real gateway without MERCHANT_API_KEY', async () => {
    const db = await openPglite(undefined);
    const h = await startHarness(db, {
      env: {
        GATEWAY_BASE_URL: 'http://127.0.0.1:9',
        GATEWAY_APP_ID: 'a',
        GATEWAY_APP_SECRET: 'b',
        GATEWAY_MASTER_SECRET: 'c',
      },
    });
    try {
      const response = await h.api
        .get('/api/merchant/orders/NOSUCHORDER1')
        .set('authorization', `Bearer ${DEVELOPMENT_SECRETS.merchantApiKey}`)
        .expect(404);
      expect(response.body.error.code).toBe('MERCHANT_API_DISABLED');
    } finally {
      await h.close();
      await db.close();
    }
  });
});

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** The merchant's notification endpoint: answers each request with the next status in `answers`, then 200. */
async function notificationReceiver(answers: number[] = []) {
  const received: Received[] = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body });
      response.statusCode = answers.shift() ?? 200;
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/notify`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe.each(STORAGES)('merchant notifications on $name', (storage) => {
  const SECRET = 'notify-secret-for-tests';

  async function payThroughApp(h: CheckoutHarness) {
    const checkout = (
      await h.api
        .post('/api/merchant/checkouts')
        .set('authorization', `Bearer ${DEVELOPMENT_SECRETS.merchantApiKey}`)
        .send({ items: [{ sku: 'ceramic-mug', quantity: 1 }], appUserId: 'app-42', attach: { cart: 'c-1' } })
        .expect(201)
    ).body;
    const shopper = await h.login();
    await h.api
      .post('/api/checkouts/claim')
      .set('authorization', `Bearer ${shopper.token}`)
      .send({ token: tokenOf(checkout.launch.weapp.path) })
      .expect(200);
    await h.pay(shopper.token, checkout.orderNo).expect(200);
    const [bill] = await h.billsOf(checkout.orderNo);
    await h.settle(bill.bill_no, 'paid').expect(200);
    return checkout.orderNo as string;
  }

  it('should POST the final state signed, retry until 2xx, and then stop', async () => {
    const database = await storage.open();
    const receiver = await notificationReceiver([500, 503]);
    const h = await startHarness(database.db, {
      env: { MERCHANT_NOTIFY_URL: receiver.url, MERCHANT_NOTIFY_SECRET: SECRET },
      merchantNotifier: { pollIntervalMs: 20, backoffBaseMs: 20 },
    });
    try {
      const orderNo = await payThroughApp(h);
      await eventually(
        async () => receiver.received.length,
        (count) => count >= 3,
        10_000,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(receiver.received).toHaveLength(3);
      for (const { headers, body } of receiver.received) {
        const timestamp = String(headers['x-checkout-timestamp']);
        expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
        const expected = createHmac('sha256', SECRET).update(`${timestamp}.${body}`).digest('hex');
        expect(headers['x-checkout-signature']).toBe(expected);
        expect(JSON.parse(body)).toMatchObject({
          event: 'order.final',
          order: { orderNo, status: 'paid', code: 0, appUserId: 'app-42', attach: { cart: 'c-1' } },
        });
      }
      const row = await h.services.database.query<{ attempts: number; delivered: boolean }>(
        'SELECT attempts, delivered_at IS NOT NULL AS delivered FROM merchant_notifications WHERE order_no = $1',
        [orderNo],
      );
      expect(row.rows).toEqual([{ attempts: 3, delivered: true }]);
    } finally {
      await h.close();
      await receiver.close();
      await database.dispose();
    }
  });

  it('should deliver a notification that was pending when the server stopped, after a restart', async () => {
    const database = await storage.open();
    const receiver = await notificationReceiver();
    const deadUrl = 'http://127.0.0.1:9/notify';
    const first = await startHarness(database.db, {
      env: { MERCHANT_NOTIFY_URL: deadUrl, MERCHANT_NOTIFY_SECRET: SECRET },
      merchantNotifier: { pollIntervalMs: 20, backoffBaseMs: 20 },
    });
    let orderNo: string;
    try {
      orderNo = await payThroughApp(first);
      await eventually(
        async () =>
          (
            await first.services.database.query<{ attempts: number }>(
              'SELECT attempts FROM merchant_notifications WHERE order_no = $1',
              [orderNo],
            )
          ).rows[0]?.attempts ?? 0,
        (attempts) => attempts >= 1,
      );
    } finally {
      await first.close();
    }
    const second = await startHarness(database.db, {
      env: { MERCHANT_NOTIFY_URL: receiver.url, MERCHANT_NOTIFY_SECRET: SECRET },
      merchantNotifier: { pollIntervalMs: 20, backoffBaseMs: 20 },
    });
    try {
      await eventually(
        async () => receiver.received.length,
        (count) => count >= 1,
        10_000,
      );
      expect(JSON.parse(receiver.received[0].body).order).toMatchObject({ orderNo: orderNo!, status: 'paid' });
    } finally {
      await second.close();
      await receiver.close();
      await database.dispose();
    }
  });
});
