import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { webhookSignature } from '../../server/adapters/payments/gateway/beecloud';
import { createLogger } from '../../server/adapters/observability/logger';
import { ConfigError, DEVELOPMENT_SECRETS, loadConfig } from '../../server/config';
import { buildPaymentWebhook } from '../../server/sandbox/gateway/webhook-message';
import { CheckoutHarness, eventually, startHarness } from '../support/checkout-harness';
import { STORAGES, TestDatabase } from '../support/databases';
import { sendRaw } from '../support/raw-http';
import { logLines, sample, type LogLine } from '../support/observability';

/**
 * Logs and metrics through the real server and sandbox: every log line is captured in memory
 * (JSON, at debug, so that every line the flows can produce is looked at), `/metrics` is
 * scraped as Prometheus would, with METRICS_TOKEN set.
 */
const METRICS_TOKEN = 'metrics-bearer-0123456789abcdef';
const NOTIFY_SECRET = 'merchant-notify-secret-0123456789';
const MERCHANT_KEY = DEVELOPMENT_SECRETS.merchantApiKey;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('logs and metrics', () => {
  let database: TestDatabase;
  let h: CheckoutHarness;
  let merchantEndpoint: Server;
  const written: string[] = [];
  const lines = (): LogLine[] => logLines(written);
  /** Every credential the flows below handle: none may appear in a log line. */
  const secrets = new Set<string>([
    DEVELOPMENT_SECRETS.gatewayAppSecret,
    DEVELOPMENT_SECRETS.gatewayMasterSecret,
    DEVELOPMENT_SECRETS.gatewayTestSecret,
    DEVELOPMENT_SECRETS.wechatSecret,
    DEVELOPMENT_SECRETS.douyinSecret,
    DEVELOPMENT_SECRETS.douyinPaySecret,
    MERCHANT_KEY,
    METRICS_TOKEN,
    NOTIFY_SECRET,
  ]);

  const scrape = async () => {
    const answer = await h.api.get('/metrics').set('authorization', `Bearer ${METRICS_TOKEN}`).expect(200);
    expect(answer.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    return answer.text;
  };

  const login = async () => {
    const session = await h.login();
    secrets.add(session.token);
    return session.token;
  };

  beforeAll(async () => {
    database = await STORAGES[0].open();
    // A merchant that never accepts: its notifications stay in the outbox.
    merchantEndpoint = createServer((_request, response) => response.writeHead(503).end());
    await new Promise<void>((resolve) => merchantEndpoint.listen(0, '127.0.0.1', resolve));
    const { port } = merchantEndpoint.address() as AddressInfo;
    h = await startHarness(database.db, {
      env: {
        METRICS_TOKEN,
        MERCHANT_NOTIFY_URL: `http://127.0.0.1:${port}/notify`,
        MERCHANT_NOTIFY_SECRET: NOTIFY_SECRET,
      },
      logger: createLogger({
        level: 'debug',
        format: 'json',
        destination: { write: (line: string) => void written.push(line) },
      }),
      merchantNotifier: { pollIntervalMs: 20, backoffBaseMs: 3_600_000 },
    });
  });

  afterAll(async () => {
    await h?.close();
    await new Promise((resolve) => merchantEndpoint?.close(resolve));
    await database?.dispose();
  });

  describe('request id', () => {
    it('should echo a sent X-Request-Id and carry it on the request line and on the domain lines of that request', async () => {
      const token = await login();
      const answer = await h.api
        .post('/api/orders')
        .set('authorization', `Bearer ${token}`)
        .set('x-request-id', 'client-trace-42.a/b')
        .send({ items: [{ sku: 'coffee-beans-250g', quantity: 1 }] })
        .expect(201);
      expect(answer.headers['x-request-id']).toBe('client-trace-42.a/b');
      const ours = lines().filter((line) => line.reqId === 'client-trace-42.a/b');
      expect(ours).toEqual([
        expect.objectContaining({
          level: 'info',
          msg: 'order created',
          event: 'order.created',
          orderNo: answer.body.order.orderNo,
        }),
        expect.objectContaining({
          level: 'info',
          msg: 'request',
          method: 'POST',
          route: '/api/orders',
          path: '/api/orders',
          status: 201,
          durationMs: expect.any(Number),
        }),
      ]);
    });

    it('should keep concurrent requests apart: each domain line names its own request', async () => {
      const token = await login();
      const ids = Array.from({ length: 8 }, (_, index) => `concurrent-${index}`);
      const orders = await Promise.all(
        ids.map((id) =>
          h.api
            .post('/api/orders')
            .set('authorization', `Bearer ${token}`)
            .set('x-request-id', id)
            .send({ items: [{ sku: 'coffee-beans-250g', quantity: 1 }] })
            .expect(201),
        ),
      );
      const created = lines().filter((line) => line.event === 'order.created' && ids.includes(line.reqId!));
      expect(Object.fromEntries(created.map((line) => [line.reqId, line.orderNo]))).toEqual(
        Object.fromEntries(ids.map((id, index) => [id, orders[index].body.order.orderNo])),
      );
    });

    it('should log a read that succeeded at debug, and every other request at info', async () => {
      await h.api.get('/api/catalog').set('x-request-id', 'a-read').expect(200);
      await h.api.get('/api/nothing-here').set('x-request-id', 'a-failed-read').expect(404);
      await h.api
        .post('/api/session')
        .set('x-request-id', 'a-write')
        .send({ platform: 'weapp', code: 'spent' })
        .expect(401);
      const levels = Object.fromEntries(
        lines()
          .filter((line) => line.msg === 'request' && ['a-read', 'a-failed-read', 'a-write'].includes(line.reqId!))
          .map((line) => [line.reqId, line.level]),
      );
      expect(levels).toEqual({ 'a-read': 'debug', 'a-failed-read': 'info', 'a-write': 'info' });
    });

    it.each([
      ['none sent', undefined],
      ['too long', 'x'.repeat(129)],
      ['with a space', 'two words'],
      ['with a control character', 'tab\there'],
    ])('should answer a new UUID when %s', async (_case, sent) => {
      const call = h.api.get('/healthz');
      if (sent !== undefined) call.set('x-request-id', sent);
      const answer = await call.expect(200);
      const id = answer.headers['x-request-id'];
      expect(id).toMatch(UUID);
      expect(lines().filter((line) => line.reqId === id)).toEqual([
        expect.objectContaining({ msg: 'request', route: '/healthz', status: 200 }),
      ]);
    });

    it.each([
      ['404 from the route guard', () => h.api.get('/no/such/path'), 404, 'unmatched'],
      ['405 from the route guard', () => h.api.delete('/api/orders'), 405, 'unmatched'],
      [
        '413 before the body is read',
        () => h.api.post('/api/orders').set('content-length', '999999999'),
        413,
        'unmatched',
      ],
      [
        '401 from a route',
        () => h.api.get('/api/orders/20260000000000000000ABCD/status'),
        401,
        '/api/orders/:orderNo/status',
      ],
    ])('should echo it on a %s', async (_case, call, status, route) => {
      const answer = await call().set('x-request-id', `error-${status}`);
      expect(answer.status).toBe(status);
      expect(answer.headers['x-request-id']).toBe(`error-${status}`);
      expect(answer.body.error.code).toEqual(expect.any(String));
      expect(lines().filter((line) => line.reqId === `error-${status}`)).toEqual([
        expect.objectContaining({ msg: 'request', route, status }),
      ]);
    });

    it('should give an id to what Node refuses before the app, log it, and count it', async () => {
      const counted = (text: string) =>
        sample(text, 'checkout_http_request_duration_seconds_count', {
          method: 'unknown',
          route: 'unmatched',
          status: '400',
        });
      const before = counted(await scrape());
      const answer = await sendRaw(h.services.serverUrl, 'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n');
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body).error.code).toBe('MALFORMED_REQUEST');
      expect(answer.headers['x-request-id']).toMatch(UUID);
      expect(lines()).toContainEqual(
        expect.objectContaining({
          msg: 'request refused before the app',
          reqId: answer.headers['x-request-id'],
          status: 400,
        }),
      );
      expect(counted(await scrape()) - before).toBe(1);
    });
  });

  describe('webhooks', () => {
    it('should log a refused webhook at warn with its reason, and count it by outcome', async () => {
      const before = await scrape();
      const token = await login();
      const { orderNo } = await h.createOrder(token);
      await h.pay(token, orderNo).expect(200);
      const [bill] = await h.billsOf(orderNo);
      const forged = buildPaymentWebhook({
        appId: DEVELOPMENT_SECRETS.gatewayAppId,
        masterSecret: 'not-the-master-secret',
        billNo: bill.bill_no,
        channel: 'WX_MINI',
        totalFee: bill.total_fee,
        outcome: 'paid',
      });
      secrets.add(forged.signature);
      const refused = await h.api
        .post('/api/gateway/webhook')
        .set('x-request-id', 'forged-webhook')
        .set('content-type', 'application/json')
        .send(JSON.stringify(forged));
      expect(refused.status).toBe(401);
      await h.api
        .post('/api/gateway/webhook')
        .set('x-request-id', 'not-json')
        .set('content-type', 'text/plain')
        .send('{')
        .expect(400);

      expect(lines().filter((line) => line.reqId === 'forged-webhook')).toEqual([
        expect.objectContaining({
          level: 'warn',
          msg: 'webhook refused',
          event: 'webhook.handled',
          outcome: 'bad_signature',
          code: 'WEBHOOK_SIGNATURE_INVALID',
          reason: 'Webhook signature does not verify',
        }),
        expect.objectContaining({ level: 'info', msg: 'request', route: '/api/gateway/webhook', status: 401 }),
      ]);
      expect(lines()).toContainEqual(
        expect.objectContaining({
          reqId: 'not-json',
          level: 'warn',
          msg: 'webhook refused',
          outcome: 'invalid',
          code: 'WEBHOOK_INVALID',
        }),
      );
      const after = await scrape();
      for (const outcome of ['bad_signature', 'invalid']) {
        expect(
          sample(after, 'checkout_webhooks_total', { outcome }) -
            sample(before, 'checkout_webhooks_total', { outcome }),
        ).toBe(1);
      }
    });
  });

  describe('/metrics', () => {
    it('should answer 401 METRICS_UNAUTHORIZED without the METRICS_TOKEN bearer', async () => {
      for (const authorization of [
        undefined,
        'Bearer wrong-token',
        `Basic ${METRICS_TOKEN}`,
        `Bearer ${METRICS_TOKEN}x`,
      ]) {
        const call = h.api.get('/metrics');
        if (authorization) call.set('authorization', authorization);
        const answer = await call.expect(401);
        expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
        expect(answer.body).toEqual({ error: { code: 'METRICS_UNAUTHORIZED', message: expect.any(String) } });
        expect(answer.headers['x-request-id']).toMatch(UUID);
      }
    });

    it('should count a paid checkout: requests by route, upstream calls, the payment, the webhook, the outbox and the sweeper lag', async () => {
      const before = await scrape();
      const token = await login();
      const { orderNo } = await h.createOrder(token);
      await h.pay(token, orderNo).expect(200);
      const [bill] = await h.billsOf(orderNo);
      await h.settle(bill.bill_no, 'paid').expect(200);
      await eventually(
        () => h.status(token, orderNo),
        (answer) => answer.status === 'paid',
      );
      // The merchant never accepts: the paid order's notification is tried once and waits an hour.
      await eventually(
        scrape,
        (text) => sample(text, 'checkout_merchant_notifications_total', { outcome: 'retried' }) >= 1,
      );
      // Another order whose bill is open and never asked about: the sweeper is a minute behind.
      const waiting = await h.createOrder(token);
      await h.pay(token, waiting.orderNo).expect(200);
      h.advanceClock(60_000);
      const after = await scrape();

      const added = (name: string, labels: Record<string, string> = {}) =>
        sample(after, name, labels) - sample(before, name, labels);
      expect(added('checkout_orders_created_total')).toBe(2);
      expect(added('checkout_bills_opened_total', { channel: 'WX_MINI' })).toBe(2);
      expect(added('checkout_payments_recorded_total', { disposition: 'applied', source: 'webhook' })).toBe(1);
      expect(added('checkout_webhooks_total', { outcome: 'accepted' })).toBe(1);
      expect(
        added('checkout_upstream_request_duration_seconds_count', {
          upstream: 'wechat',
          operation: 'code2session',
          outcome: 'ok',
        }),
      ).toBe(1);
      expect(
        added('checkout_upstream_request_duration_seconds_count', {
          upstream: 'gateway',
          operation: 'create_bill',
          outcome: 'ok',
        }),
      ).toBe(2);
      const payRequests = { method: 'POST', route: '/api/orders/:orderNo/pay', status: '200' };
      expect(added('checkout_http_request_duration_seconds_count', payRequests)).toBe(2);
      expect(added('checkout_http_request_duration_seconds_bucket', { ...payRequests, le: '+Inf' })).toBe(2);
      expect(
        added('checkout_http_request_duration_seconds_count', {
          method: 'POST',
          route: '/api/gateway/webhook',
          status: '200',
        }),
      ).toBe(1);
      expect(
        sample(after, 'checkout_http_request_duration_seconds_count', {
          method: 'GET',
          route: '/api/orders/:orderNo/status',
          status: '200',
        }),
      ).toBeGreaterThanOrEqual(1);
      // No raw path ever becomes a label.
      expect(after).not.toContain(`route="/api/orders/${orderNo}`);
      expect(after).toContain('# TYPE checkout_http_request_duration_seconds histogram');
      expect(sample(after, 'checkout_http_request_duration_seconds_sum', payRequests)).toBeGreaterThan(
        sample(before, 'checkout_http_request_duration_seconds_sum', payRequests),
      );

      expect(sample(after, 'checkout_merchant_outbox_depth')).toBeGreaterThanOrEqual(1);
      expect(sample(after, 'checkout_merchant_outbox_oldest_age_seconds')).toBeGreaterThanOrEqual(60);
      expect(sample(after, 'checkout_sweeper_lag_seconds')).toBeGreaterThanOrEqual(60);
      expect(sample(after, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);

      // The log says what the metrics count.
      expect(lines()).toContainEqual(
        expect.objectContaining({
          level: 'info',
          msg: 'payment recorded',
          event: 'payment.recorded',
          orderNo,
          billNo: bill.bill_no,
          disposition: 'applied',
          source: 'webhook',
        }),
      );
      expect(lines()).toContainEqual(
        expect.objectContaining({
          level: 'warn',
          event: 'notification.retried',
          orderNo,
          error: 'HTTP 503',
          attempt: 1,
        }),
      );
    });
  });

  describe('secrets', () => {
    it('should write no secret in any log line through a whole flow, every line JSON with level, time and msg', async () => {
      const token = await login();
      const { orderNo } = await h.createOrder(token);
      await h.pay(token, orderNo).expect(200);
      const [bill] = await h.billsOf(orderNo);
      await h.settle(bill.bill_no, 'paid').expect(200);
      await eventually(
        () => h.status(token, orderNo),
        (answer) => answer.status === 'paid',
      );
      await h.api
        .post(`/api/merchant/orders/${orderNo}/refunds`)
        .set('authorization', `Bearer ${MERCHANT_KEY}`)
        .set('idempotency-key', 'refund-1')
        .send({ amount: 100, reason: 'damaged' })
        .expect(201);
      // WeChat refunds send no webhook: the sweeper's query finishes it.
      h.advanceClock(120_000);
      await h.sweep();
      await scrape();
      await h.api.delete('/api/session').set('authorization', `Bearer ${token}`).expect(204);

      const sessionKeys = await database.db.query<{ session_key: string }>('SELECT session_key FROM sessions');
      for (const { session_key } of sessionKeys.rows) secrets.add(session_key);
      // The signature of the PAY webhook the sandbox delivered for that bill.
      secrets.add(
        webhookSignature(
          DEVELOPMENT_SECRETS.gatewayAppId,
          {
            transaction_id: bill.bill_no,
            transaction_type: 'PAY',
            channel_type: 'WX',
            transaction_fee: bill.total_fee,
          },
          DEVELOPMENT_SECRETS.gatewayMasterSecret,
        ),
      );
      expect(sessionKeys.rows.length).toBeGreaterThan(0);

      const all = lines();
      expect(all).toContainEqual(
        expect.objectContaining({ event: 'refund.requested', orderNo, kind: 'merchant', amount: 100 }),
      );
      expect(all).toContainEqual(expect.objectContaining({ event: 'refund.succeeded', orderNo, amount: 100 }));
      expect(all).toContainEqual(
        expect.objectContaining({ msg: 'upstream call', upstream: 'gateway', operation: 'create_refund' }),
      );
      for (const line of all) {
        expect(line).toEqual(
          expect.objectContaining({ level: expect.any(String), time: expect.any(Number), msg: expect.any(String) }),
        );
      }
      for (const secret of secrets) {
        expect(secret.length).toBeGreaterThanOrEqual(8);
        expect(written.filter((line) => line.includes(secret))).toEqual([]);
      }
    });
  });
});

describe('logging and metrics configuration', () => {
  it('should default to info, pretty only on a terminal, and an open /metrics', () => {
    expect(loadConfig({})).toEqual(
      expect.objectContaining({ logging: { level: 'info', format: 'auto' }, metricsToken: undefined }),
    );
    expect(loadConfig({ LOG_LEVEL: 'debug', LOG_FORMAT: 'json', METRICS_TOKEN: METRICS_TOKEN })).toEqual(
      expect.objectContaining({ logging: { level: 'debug', format: 'json' }, metricsToken: METRICS_TOKEN }),
    );
  });

  it.each([
    ['LOG_LEVEL', 'verbose'],
    ['LOG_FORMAT', 'xml'],
    ['METRICS_TOKEN', 'two words and then some more'],
    ['METRICS_TOKEN', 'short-token'],
    ['MERCHANT_NOTIFY_URL', 'https://shop:s3cr3t-value@merchant.example.com/notify'],
    ['GATEWAY_BASE_URL', 'https://s3cr3t-value@gateway.example.com'],
  ])('should refuse %s=%s naming the variable', (variable, value) => {
    expect(() => loadConfig({ [variable]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [variable]: value })).toThrow(new RegExp(variable));
    // The refusal is printed at boot: a credential in the value must not be.
    expect(() => loadConfig({ [variable]: value })).not.toThrow(/s3cr3t-value/);
  });
});
