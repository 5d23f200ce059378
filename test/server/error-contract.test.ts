import { once } from 'node:events';
import { connect, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ECHO_LIMIT, echoed } from '../../server/domain/text';
import { createCheckoutServer } from '../../server/http/node-server';
import { CheckoutHarness, startHarness } from '../support/checkout-harness';
import { STORAGES, TestDatabase } from '../support/databases';
import { readAnswer, sendRaw, sendRawPipelined } from '../support/raw-http';

// Storage plays no part in how a request is refused: PGlite alone.
const storage = STORAGES[0];
const MERCHANT_KEY = 'sandbox-merchant-api-key';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** The documented error: that status, JSON, `{"error": {"code", "message"}}` and nothing else. */
function expectContract(answer: Answer, status: number, code: string) {
  expect(answer.status).toBe(status);
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  const body = typeof answer.body === 'string' ? JSON.parse(answer.body) : answer.body;
  expect(body).toEqual({ error: { code, message: expect.any(String) } });
}

describe('every answer follows the error contract', () => {
  let database: TestDatabase;
  let h: CheckoutHarness;
  let url: string;

  beforeAll(async () => {
    database = await storage.open();
    h = await startHarness(database.db);
    url = h.services.serverUrl;
  });

  afterAll(async () => {
    await h?.close();
    await database?.dispose();
  });

  const raw = (lines: string[], body = '') => sendRaw(url, `${lines.join('\r\n')}\r\n\r\n${body}`);

  describe('methods', () => {
    it.each([
      ['TRACE', '/api/orders', 'POST, OPTIONS'],
      ['PROPFIND', '/api/catalog', 'HEAD, GET, OPTIONS'],
      ['SEARCH', '/api/gateway/webhook', 'POST, OPTIONS'],
      ['PUT', '/api/merchant/checkouts', 'POST, OPTIONS'],
      ['POST', '/healthz', 'HEAD, GET, OPTIONS'],
    ])('should answer %s %s with 405 METHOD_NOT_ALLOWED and Allow: %s', async (method, path, allow) => {
      const answer = await raw([`${method} ${path} HTTP/1.1`, 'Host: checkout', 'Connection: close']);
      expectContract(answer, 405, 'METHOD_NOT_ALLOWED');
      expect(answer.headers.allow).toBe(allow);
    });

    it('should answer a method Node knows on a path nothing serves with 404 NOT_FOUND', async () => {
      const answer = await raw(['PROPFIND /api/nothing-here HTTP/1.1', 'Host: checkout', 'Connection: close']);
      expectContract(answer, 404, 'NOT_FOUND');
    });

    it('should answer DELETE /api/orders with 405 METHOD_NOT_ALLOWED and Allow', async () => {
      const response = await h.api.delete('/api/orders').expect(405);
      expectContract(response, 405, 'METHOD_NOT_ALLOWED');
      expect(response.headers.allow).toBe('POST, OPTIONS');
    });

    it('should answer 405 before reading the body or asking for credentials', async () => {
      const response = await h.api.delete('/api/merchant/orders/ORDER0000001/refunds').send({ amount: 1 }).expect(405);
      expectContract(response, 405, 'METHOD_NOT_ALLOWED');
      expect(response.headers.allow).toBe('POST, OPTIONS');
    });

    it('should answer OPTIONS with 204 and the route’s Allow', async () => {
      const response = await h.api.options('/api/orders/ORDER0000001/status').expect(204);
      expect(response.headers.allow).toBe('HEAD, GET, OPTIONS');
    });

    it('should answer CONNECT with 405 METHOD_NOT_ALLOWED: this is no proxy', async () => {
      const answer = await raw(['CONNECT example.com:443 HTTP/1.1', 'Host: example.com:443']);
      expectContract(answer, 405, 'METHOD_NOT_ALLOWED');
      expect(answer.headers.allow).toBe('');
    });
  });

  describe('requests Node refuses before the app', () => {
    it.each([
      ['a method token Node does not know', ['BREW /api/catalog HTTP/1.1', 'Host: checkout']],
      ['a lower-case method', ['get /api/catalog HTTP/1.1', 'Host: checkout']],
      ['a request line that is not one', ['this is not http']],
      ['an unknown HTTP version', ['GET /api/catalog HTTP/7.1', 'Host: checkout']],
      [
        'duplicate Content-Length',
        ['POST /api/session HTTP/1.1', 'Host: checkout', 'Content-Length: 2', 'Content-Length: 3'],
      ],
      [
        'Content-Length with Transfer-Encoding',
        ['POST /api/session HTTP/1.1', 'Host: checkout', 'Content-Length: 2', 'Transfer-Encoding: chunked'],
      ],
      ['a header without a colon', ['GET /api/catalog HTTP/1.1', 'Host: checkout', 'no colon here']],
    ])('should answer %s with 400 MALFORMED_REQUEST', async (_, lines) => {
      expectContract(await raw(lines, '{}'), 400, 'MALFORMED_REQUEST');
    });

    it('should answer 20 KB of headers with 431 HEADERS_TOO_LARGE', async () => {
      const answer = await raw(['GET /api/catalog HTTP/1.1', 'Host: checkout', `X-Padding: ${'a'.repeat(20 * 1024)}`]);
      expectContract(answer, 431, 'HEADERS_TOO_LARGE');
    });

    it('should answer an HTTP/1.1 request without Host with 400 MALFORMED_REQUEST', async () => {
      expectContract(await raw(['GET /api/catalog HTTP/1.1', 'Connection: close']), 400, 'MALFORMED_REQUEST');
    });

    it.each([
      ['two Host headers', ['Host: checkout', 'Host: elsewhere']],
      ['an empty Host', ['Host: ']],
      ['a Host that is no host', ['Host: a b c@/']],
      ['a Host with a path', ['Host: checkout/api']],
    ])('should answer %s with 400 MALFORMED_REQUEST (RFC 9112 §3.2)', async (_, host) => {
      expectContract(await raw(['GET /api/catalog HTTP/1.1', ...host, 'Connection: close']), 400, 'MALFORMED_REQUEST');
    });

    it.each(['checkout', 'checkout:8080', '127.0.0.1:3000', '[::1]:3000', 'xn--fiqs8s.example'])(
      'should serve Host: %s',
      async (host) => {
        const answer = await raw(['GET /healthz HTTP/1.1', `Host: ${host}`, 'Connection: close']);
        expect(answer.status).toBe(200);
      },
    );

    it('should check for a stalled request every second, so that 408 comes 60 s after the headers began', () => {
      const server = createCheckoutServer() as ReturnType<typeof createCheckoutServer> & {
        connectionsCheckingInterval: number;
      };
      expect(server.connectionsCheckingInterval).toBeLessThanOrEqual(1000);
    });

    it('should answer an Expect other than 100-continue with 417 EXPECTATION_FAILED', async () => {
      const answer = await raw(
        ['POST /api/session HTTP/1.1', 'Host: checkout', 'Expect: teapot', 'Content-Length: 2', 'Connection: close'],
        '{}',
      );
      expectContract(answer, 417, 'EXPECTATION_FAILED');
    });
  });

  describe('a request that cannot be parsed, pipelined behind others', () => {
    const garbage = 'FOO / HTTP/1.1\r\n\r\n';

    it('should first answer the order it created, then 400 MALFORMED_REQUEST, then close', async () => {
      const { token } = await h.login();
      const body = JSON.stringify({ items: [{ sku: 'ceramic-mug', quantity: 1 }] });
      const post = [
        'POST /api/orders HTTP/1.1',
        'Host: checkout',
        `Authorization: Bearer ${token}`,
        'Idempotency-Key: pipelined-then-garbage',
        'Content-Type: application/json',
        `Content-Length: ${Buffer.byteLength(body)}`,
        '',
        body,
      ].join('\r\n');
      const answers = await sendRawPipelined(url, post + garbage);
      expect(answers.map((answer) => answer.status)).toEqual([201, 400]);
      const { order } = JSON.parse(answers[0].body);
      expectContract(answers[1], 400, 'MALFORMED_REQUEST');
      const again = await h.api
        .post('/api/orders')
        .set('authorization', `Bearer ${token}`)
        .set('idempotency-key', 'pipelined-then-garbage')
        .send(JSON.parse(body))
        .expect(201);
      expect(again.body.order.orderNo).toBe(order.orderNo);
    });

    it('should answer two pipelined requests in order before the refusal', async () => {
      const get = 'GET /healthz HTTP/1.1\r\nHost: checkout\r\n\r\n';
      const answers = await sendRawPipelined(url, get + get + garbage);
      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 400]);
      expect(JSON.parse(answers[1].body)).toEqual({ status: 'ok' });
      expectContract(answers[2], 400, 'MALFORMED_REQUEST');
    });
  });

  describe('bodies', () => {
    const oversized = JSON.stringify({ padding: 'a'.repeat(64 * 1024) });

    it('should answer a body over 64 KB to the shopper API with 413 BODY_TOO_LARGE', async () => {
      const response = await h.api.post('/api/session').set('content-type', 'application/json').send(oversized);
      expectContract(response, 413, 'BODY_TOO_LARGE');
    });

    it('should answer a body over 64 KB to the merchant API with 413 BODY_TOO_LARGE', async () => {
      const response = await h.api
        .post('/api/merchant/checkouts')
        .set('authorization', `Bearer ${MERCHANT_KEY}`)
        .set('content-type', 'application/json')
        .send(oversized);
      expectContract(response, 413, 'BODY_TOO_LARGE');
    });

    it.each(['application/json', 'application/x-www-form-urlencoded', 'text/plain'])(
      'should answer a %s body over 64 KB to the webhook with 413 BODY_TOO_LARGE',
      async (type) => {
        const response = await h.api.post('/api/gateway/webhook').set('content-type', type).send(oversized);
        expectContract(response, 413, 'BODY_TOO_LARGE');
      },
    );

    it.each([
      ['POST', '/api/session', 'application/octet-stream'],
      ['POST', '/api/session', 'none'],
      ['POST', '/api/orders', 'multipart/form-data; boundary=x'],
      ['POST', '/api/merchant/checkouts', 'image/png'],
      ['POST', '/api/gateway/webhook', 'application/octet-stream'],
      ['POST', '/api/gateway/webhook', 'none'],
      ['DELETE', '/api/session', 'none'],
      ['GET', '/healthz', 'application/json'],
      ['OPTIONS', '/api/orders', 'text/plain'],
      ['DELETE', '/api/orders', 'application/json'],
    ])(
      'should answer %s %s with a declared body over 64 KB (%s) with 413 BODY_TOO_LARGE, unread',
      async (method, path, type) => {
        const lines = [`${method} ${path} HTTP/1.1`, 'Host: checkout', 'Content-Length: 100000'];
        if (type !== 'none') lines.push(`Content-Type: ${type}`);
        // Only the start of the body is sent: the answer must come without the rest.
        const answer = await raw(lines, 'a'.repeat(1000));
        expectContract(answer, 413, 'BODY_TOO_LARGE');
      },
    );

    it.each(['application/octet-stream', 'multipart/form-data; boundary=x', 'image/png', 'none'])(
      'should answer a chunked %s body to the shopper API with 400 VALIDATION_FAILED without reading it',
      async (type) => {
        const lines = ['POST /api/session HTTP/1.1', 'Host: checkout', 'Transfer-Encoding: chunked'];
        if (type !== 'none') lines.push(`Content-Type: ${type}`);
        // The chunked body never ends: the answer must come without it.
        const answer = await raw(lines, `1000\r\n${'a'.repeat(4096)}\r\n`);
        expectContract(answer, 400, 'VALIDATION_FAILED');
        expect(JSON.parse(answer.body).error.message).toMatch(/application\/json/);
      },
    );

    it('should answer a chunked body over 64 KB to the webhook with 413 BODY_TOO_LARGE', async () => {
      const chunk = `1000\r\n${'a'.repeat(4096)}\r\n`;
      const answer = await raw(
        [
          'POST /api/gateway/webhook HTTP/1.1',
          'Host: checkout',
          'Transfer-Encoding: chunked',
          'Content-Type: application/octet-stream',
        ],
        chunk.repeat(17),
      );
      expectContract(answer, 413, 'BODY_TOO_LARGE');
    });

    it('should answer a Content-Encoding it cannot decode with 415 UNSUPPORTED_MEDIA_TYPE', async () => {
      const response = await h.api
        .post('/api/session')
        .set('content-type', 'application/json')
        .set('content-encoding', 'zstd-but-not-really')
        .send('{}');
      expectContract(response, 415, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it('should answer a body that is not JSON with 400 VALIDATION_FAILED', async () => {
      const response = await h.api.post('/api/session').set('content-type', 'application/json').send('{"platform":');
      expectContract(response, 400, 'VALIDATION_FAILED');
    });
  });
});

describe('what an error message repeats of the request', () => {
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

  /** 5,000 characters: far beyond any identifier, well within Node's 16 KB of headers. */
  const long = 'X'.repeat(5000);
  /** What an echo of `long` may keep: ECHO_LIMIT characters and a note of how many there were. */
  const expectCut = (message: string) => {
    expect(message).toMatch(/X…\(\d{4} characters\)/);
    expect(message).not.toContain('X'.repeat(ECHO_LIMIT + 1));
    expect(message.length).toBeLessThan(ECHO_LIMIT + 200);
  };
  const auth = (token: string) => ({ authorization: `Bearer ${token}` });
  const merchant = { authorization: `Bearer ${MERCHANT_KEY}` };
  const raw = (lines: string[], body = '') => sendRaw(h.services.serverUrl, `${lines.join('\r\n')}\r\n\r\n${body}`);

  it('should cut by characters, never inside a surrogate pair, and leave a short value whole', () => {
    expect(echoed('😀'.repeat(100))).toBe(`${'😀'.repeat(ECHO_LIMIT)}…(100 characters)`);
    expect(echoed('😀'.repeat(ECHO_LIMIT))).toBe('😀'.repeat(ECHO_LIMIT));
    expect(echoed('ORDER0000001')).toBe('ORDER0000001');
  });

  it('should cut an order number in a path to ECHO_LIMIT characters in 404 ORDER_NOT_FOUND, on every route that takes one', async () => {
    const { token } = await h.login();
    const answers = [
      await h.api.get(`/api/orders/${long}/status`).set(auth(token)),
      await h.api.post(`/api/orders/${long}/pay`).set(auth(token)).send({ platform: 'weapp' }),
      await h.api.get(`/api/merchant/orders/${long}`).set(merchant),
      await h.api
        .post(`/api/merchant/orders/${long}/refunds`)
        .set(merchant)
        .set('idempotency-key', 'k')
        .send({ amount: 1 }),
    ];
    for (const answer of answers) {
      expectContract(answer, 404, 'ORDER_NOT_FOUND');
      expectCut(answer.body.error.message);
    }
  });

  it('should cut a path in 404 NOT_FOUND and 405 METHOD_NOT_ALLOWED', async () => {
    const unknown = await h.api.get(`/api/${long}`);
    expectContract(unknown, 404, 'NOT_FOUND');
    expectCut(unknown.body.error.message);
    const method = await h.api.delete(`/api/orders/${long}/status`);
    expectContract(method, 405, 'METHOD_NOT_ALLOWED');
    expectCut(method.body.error.message);
    const notify = await h.api.get(`/api/wechatpay/notify`).query({ x: long });
    expect(notify.status).toBe(405);
    expect(notify.body.message.length).toBeLessThan(200);
  });

  it('should cut headers and a CONNECT target echoed in refusals', async () => {
    const type = await h.api.post('/api/session').set('content-type', `application/${long}`).send('{}');
    expectContract(type, 400, 'VALIDATION_FAILED');
    expectCut(type.body.error.message);
    const expectation = await raw(
      ['POST /api/session HTTP/1.1', 'Host: checkout', `Expect: ${long}`, 'Content-Length: 2', 'Connection: close'],
      '{}',
    );
    expectContract(expectation, 417, 'EXPECTATION_FAILED');
    expectCut(JSON.parse(expectation.body).error.message);
    const connect = await raw([`CONNECT ${long}:443 HTTP/1.1`, 'Host: example.com:443']);
    expectContract(connect, 405, 'METHOD_NOT_ALLOWED');
    expectCut(JSON.parse(connect.body).error.message);
  });

  it('should cut a key the caller sent in the field a 400 VALIDATION_FAILED names', async () => {
    const answer = await h.api
      .post('/api/merchant/checkouts')
      .set(merchant)
      .send({ items: [{ sku: 'ceramic-mug', quantity: 1 }], appUserId: 'u1', attach: { [long]: 'a\u0000b' } });
    expectContract(answer, 400, 'VALIDATION_FAILED');
    expectCut(answer.body.error.message);
  });

  it("should cut identifiers in the sandbox's refusals: its control routes, cashier page and emulations", async () => {
    const answers = [
      await h.sandbox.post(`/sandbox/wechatpay/transactions/${long}/settle`).send({ result: 'paid' }),
      await h.sandbox.get(`/sandbox/wechatpay/refunds/${long}/deliveries`),
      await h.sandbox.post(`/sandbox/bills/${long}/settle`).send({ result: 'paid' }),
      await h.sandbox.get(`/sandbox/refunds/${long}/deliveries`),
      await h.sandbox.post('/sandbox/wechat/h5pay').send({ bill_no: long, action: 'pay' }),
      await h.sandbox.get(`/sandbox/${long}`),
      await h.sandbox.put(`/sandbox/bills/${long}/settle`),
    ];
    for (const answer of answers) {
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expectCut(answer.body.error.message);
    }
    const page = await h.sandbox.get('/sandbox/wechat/h5pay').query({ bill_no: long });
    expect(page.status).toBe(404);
    expect(page.text).not.toContain('X'.repeat(ECHO_LIMIT + 1));
    const gateway = await h.sandbox.get(`/2/rest/${long}`);
    expect(gateway.status).toBe(404);
    expectCut(gateway.body.err_detail);
  });
});

describe('a request that takes too long to arrive', () => {
  it('should be answered 408 REQUEST_TIMEOUT in the error contract', async () => {
    // Node checks deadlines (headersTimeout, requestTimeout) on an interval; waiting for one would
    // be a timed test. This raises what Node raises then: clientError with ERR_HTTP_REQUEST_TIMEOUT.
    const server = createCheckoutServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    const [socket] = await accepted;
    const answer = readAnswer(client);
    client.write('GET /api/catalog HTTP/1.1\r\nHost: checkout\r\n');
    const timeout = Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });
    server.emit('clientError', timeout, socket);
    expectContract(await answer, 408, 'REQUEST_TIMEOUT');
    server.close();
  });
});
