import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openPglite } from '../../server/adapters/storage/database';
import type { Database } from '../../server/adapters/storage/database';
import { createLogger } from '../../server/adapters/observability/logger';
import { CheckoutHarness, startHarness } from '../support/checkout-harness';
import { logLines } from '../support/observability';

/** An upstream that answers every request with one fixed status and body. */
async function fixedAnswer(
  status: number,
  type: string,
  body: string,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((_request, response) => {
    response.writeHead(status, { 'content-type': type });
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** What the shopper's client sees when the gateway refuses or cannot be reached. */
describe('upstream failures', () => {
  let reference: CheckoutHarness;
  let referenceDb: Database;
  const opened: Array<{ harness: CheckoutHarness; db: Database }> = [];

  beforeAll(async () => {
    referenceDb = await openPglite(undefined);
    reference = await startHarness(referenceDb);
  });

  afterAll(async () => {
    for (const { harness, db } of opened) {
      await harness.close();
      await db.close();
    }
    await reference.close();
    await referenceDb.close();
  });

  async function harnessWithGateway(env: Record<string, string>, logged?: string[]) {
    const db = await openPglite(undefined);
    const logger = logged
      ? createLogger({
          level: 'info',
          format: 'json',
          destination: { write: (line: string) => void logged.push(line) },
        })
      : undefined;
    const harness = await startHarness(db, { env, ...(logger && { logger }) });
    opened.push({ harness, db });
    return harness;
  }

  /** What a shopper must never read: an address, a host or a port (of ours, the sandbox's or an upstream's). */
  const INTERNAL_DETAIL = /https?:\/\/|127\.0\.0\.1|10\.1\.2\.3|:\d{2,5}\b/;

  describe('what a shopper is told of an upstream that failed', () => {
    it('should name WeChat Pay, not its address, when it cannot be heard, and log the address for operators', async () => {
      const logged: string[] = [];
      const h = await harnessWithGateway({ WEAPP_PAYMENT_PROVIDER: 'wechatpay' }, logged);
      // A proxy in front of WeChat Pay answering 503 unsigned: WeChat Pay cannot be heard.
      await h.sandbox
        .post('/sandbox/wechatpay/faults')
        .send({ operation: 'prepay', http_status: 503, signed: false })
        .expect(201);
      const { token } = await h.login();
      const order = await h.createOrder(token);
      const response = await h.pay(token, order.orderNo).expect(503);
      expect(response.body.error).toEqual({
        code: 'GATEWAY_UNAVAILABLE',
        message: 'WeChat Pay is unavailable at the moment: retry shortly',
      });
      const warned = logLines(logged).filter((line) => line.code === 'GATEWAY_UNAVAILABLE');
      expect(warned.map((line) => line.msg)).toEqual([expect.stringContaining(h.services.sandboxUrl!)]);
    });

    it.each([
      [
        'a WeChat Pay refusal',
        'FREQUENCY_LIMITED',
        429,
        503,
        'WeChat Pay is unavailable at the moment (FREQUENCY_LIMITED): retry shortly',
      ],
      ['a WeChat Pay refusal', 'PARAM_ERROR', 400, 502, 'WeChat Pay could not complete the request (PARAM_ERROR)'],
    ])('should answer %s %s with its code alone, not its words', async (_case, code, httpStatus, status, message) => {
      const h = await harnessWithGateway({ WEAPP_PAYMENT_PROVIDER: 'wechatpay' });
      await h.sandbox
        .post('/sandbox/wechatpay/faults')
        .send({
          operation: 'prepay',
          http_status: httpStatus,
          code,
          message: 'see http://10.1.2.3:8080/mch/1900000001',
        })
        .expect(201);
      const { token } = await h.login();
      const order = await h.createOrder(token);
      const response = await h.pay(token, order.orderNo).expect(status);
      expect(response.body.error.message).toBe(message);
    });

    it.each([
      [7, 502, 'The payment gateway could not complete the request (CHANNEL_ERROR)'],
      [14, 503, 'The payment gateway is unavailable at the moment (RUNTIME_ERROR): retry shortly'],
    ])(
      "should answer the gateway's result_code %i with its code alone, not its err_detail",
      async (resultCode, status, message) => {
        const h = await harnessWithGateway({});
        await h.sandbox
          .post('/sandbox/gateway/faults')
          .send({ result_code: resultCode, operation: 'bill', err_detail: 'upstream http://10.1.2.3:8080/x refused' })
          .expect(201);
        const { token } = await h.login();
        const order = await h.createOrder(token);
        expect((await h.pay(token, order.orderNo).expect(status)).body.error.message).toBe(message);
      },
    );
  });

  it('should answer 502 GATEWAY_ERROR when the gateway refuses the bill, and let the shopper retry', async () => {
    const h = await harnessWithGateway({
      GATEWAY_BASE_URL: reference.services.sandboxUrl!,
      GATEWAY_APP_ID: 'sandbox-app-0001',
      GATEWAY_APP_SECRET: 'not-the-secret',
      GATEWAY_MASTER_SECRET: 'whatever',
    });
    const { token } = await h.login();
    const order = await h.createOrder(token);
    const response = await h.pay(token, order.orderNo).expect(502);
    expect(response.body.error.code).toBe('GATEWAY_ERROR');
    expect(response.body.error.message).toMatch(/APP_INVALID/);
    const bills = await h.services.database.query<{ status: string }>('SELECT status FROM bills WHERE order_no = $1', [
      order.orderNo,
    ]);
    expect(bills.rows).toEqual([{ status: 'rejected' }]);
    // The refused bill does not block the next attempt.
    expect((await h.pay(token, order.orderNo).expect(502)).body.error.code).toBe('GATEWAY_ERROR');
  });

  it.each([
    [14, 'RUNTIME_ERROR', 503, 'GATEWAY_UNAVAILABLE'],
    [7, 'CHANNEL_ERROR', 502, 'GATEWAY_ERROR'],
  ])(
    'should answer a bill refused with result_code %i (%s) with %i %s, nothing left open',
    async (resultCode, _name, status, code) => {
      const h = await harnessWithGateway({});
      await h.sandbox.post('/sandbox/gateway/faults').send({ result_code: resultCode, operation: 'bill' }).expect(201);
      const { token } = await h.login();
      const order = await h.createOrder(token);
      expect((await h.pay(token, order.orderNo).expect(status)).body.error.code).toBe(code);
      const bills = await h.services.database.query<{ status: string }>(
        'SELECT status FROM bills WHERE order_no = $1',
        [order.orderNo],
      );
      expect(bills.rows).toEqual([{ status: 'rejected' }]);
      await h.pay(token, order.orderNo).expect(200);
    },
  );

  it('should answer 503 GATEWAY_UNAVAILABLE when the gateway cannot be reached', async () => {
    const h = await harnessWithGateway({
      GATEWAY_BASE_URL: 'http://127.0.0.1:9',
      GATEWAY_APP_ID: 'a',
      GATEWAY_APP_SECRET: 'b',
      GATEWAY_MASTER_SECRET: 'c',
    });
    const { token } = await h.login();
    const order = await h.createOrder(token);
    const response = await h.pay(token, order.orderNo).expect(503);
    expect(response.body.error.code).toBe('GATEWAY_UNAVAILABLE');
    expect(response.body.error.message).not.toMatch(INTERNAL_DETAIL);
    expect((await h.status(token, order.orderNo)).status).toBe('pending');
  });

  it.each([
    [503, 'text/html', '<html>503 Service Temporarily Unavailable</html>', 503, 'GATEWAY_UNAVAILABLE'],
    [504, 'text/html', '<html>504 Gateway Time-out</html>', 503, 'GATEWAY_UNAVAILABLE'],
    [502, 'text/html', '<html>502 Bad Gateway</html>', 503, 'GATEWAY_UNAVAILABLE'],
    [429, 'application/json', '{"message":"too many requests"}', 503, 'GATEWAY_UNAVAILABLE'],
    [503, 'application/json', '{"result_code":14,"result_msg":"RUNTIME_ERROR"}', 503, 'GATEWAY_UNAVAILABLE'],
    [500, 'text/html', '<html>500 Internal Server Error</html>', 502, 'GATEWAY_ERROR'],
  ])('should map a gateway answering HTTP %i with %s %s to %i %s', async (status, type, body, expected, code) => {
    const upstream = await fixedAnswer(status, type, body);
    try {
      const h = await harnessWithGateway({
        GATEWAY_BASE_URL: upstream.url,
        GATEWAY_APP_ID: 'a',
        GATEWAY_APP_SECRET: 'b',
        GATEWAY_MASTER_SECRET: 'c',
      });
      const { token } = await h.login();
      const order = await h.createOrder(token);
      const response = await h.pay(token, order.orderNo).expect(expected);
      expect(response.body.error.code).toBe(code);
      expect(response.body.error.message).not.toMatch(INTERNAL_DETAIL);
    } finally {
      await upstream.close();
    }
  });

  it('should answer 503 WECHAT_UNAVAILABLE when WeChat answers 503', async () => {
    const upstream = await fixedAnswer(503, 'text/html', '<html>503</html>');
    try {
      const h = await harnessWithGateway({
        WECHAT_API_BASE_URL: upstream.url,
        WECHAT_APPID: 'wx1',
        WECHAT_SECRET: 's',
      });
      const response = await h.api.post('/api/session').send({ platform: 'weapp', code: 'any' }).expect(503);
      expect(response.body.error.code).toBe('WECHAT_UNAVAILABLE');
      expect(response.body.error.message).not.toMatch(INTERNAL_DETAIL);
      expect(response.body.error.message).not.toMatch(INTERNAL_DETAIL);
    } finally {
      await upstream.close();
    }
  });

  it('should answer 503 WECHAT_UNAVAILABLE when WeChat cannot be reached', async () => {
    const h = await harnessWithGateway({
      WECHAT_API_BASE_URL: 'http://127.0.0.1:9',
      WECHAT_APPID: 'wx1',
      WECHAT_SECRET: 's',
    });
    const response = await h.api.post('/api/session').send({ platform: 'weapp', code: 'any' }).expect(503);
    expect(response.body.error.code).toBe('WECHAT_UNAVAILABLE');
    expect(response.body.error.message).not.toMatch(INTERNAL_DETAIL);
  });
  // What storage cannot hold (NUL, an unpaired surrogate) or an empty id is an unreadable
  // answer: the upstream's fault, never a 500 of ours.
  it.each([
    ['a NUL in openid', { openid: 'o\u0000x', session_key: 'k' }],
    ['an unpaired surrogate in openid', { openid: 'o\ud800x', session_key: 'k' }],
    ['a NUL in session_key', { openid: 'o1', session_key: 'k\u0000' }],
    ['a NUL in unionid', { openid: 'o1', session_key: 'k', unionid: 'u\u0000' }],
    ['an empty openid', { openid: '', session_key: 'k' }],
  ])('should answer 502 WECHAT_ERROR when WeChat answers %s', async (_case, answer) => {
    const upstream = await fixedAnswer(200, 'application/json', JSON.stringify(answer));
    try {
      const h = await harnessWithGateway({
        WECHAT_API_BASE_URL: upstream.url,
        WECHAT_APPID: 'wx1',
        WECHAT_SECRET: 's',
      });
      const response = await h.api.post('/api/session').send({ platform: 'weapp', code: 'any' }).expect(502);
      expect(response.body.error.code).toBe('WECHAT_ERROR');
    } finally {
      await upstream.close();
    }
  });

  it.each([
    ['a NUL in openid', { openid: 'o\u0000x', session_key: 'k' }],
    ['an unpaired surrogate in anonymous_openid', { anonymous_openid: 'a\udc00', session_key: 'k' }],
    ['a NUL in session_key', { openid: 'o1', session_key: 'k\u0000' }],
  ])('should answer 503 DOUYIN_UNAVAILABLE when Douyin answers %s', async (_case, data) => {
    const upstream = await fixedAnswer(
      200,
      'application/json',
      JSON.stringify({ err_no: 0, err_tips: 'success', data }),
    );
    try {
      const h = await harnessWithGateway({
        DOUYIN_API_BASE_URL: upstream.url,
        DOUYIN_APPID: 'tt1',
        DOUYIN_SECRET: 's',
        DOUYIN_PAY_APP_ID: 'tt1',
        DOUYIN_MERCHANT_ID: 'm1',
        DOUYIN_PAY_SECRET: 'p',
      });
      const response = await h.api.post('/api/session').send({ platform: 'tt', code: 'any' }).expect(503);
      expect(response.body.error.code).toBe('DOUYIN_UNAVAILABLE');
      expect(response.body.error.message).not.toMatch(INTERNAL_DETAIL);
    } finally {
      await upstream.close();
    }
  });
});
