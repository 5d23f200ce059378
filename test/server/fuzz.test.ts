import { METHODS, request as httpRequest } from 'node:http';
import fc from 'fast-check';
import type { ErrorCode } from '../../server/domain/errors';
import { HTTP_STATUS } from '../../server/http/errors';
import { ServedRoute, servedRoutes } from '../../server/http/protocol';
import { CheckoutHarness, eventually, startHarness } from '../support/checkout-harness';
import { STORAGES, TestDatabase } from '../support/databases';

/**
 * Property-based fuzz of every route the server serves, read from its routers (a new route is
 * fuzzed without touching this file), through the real listening server: random methods, paths,
 * path parameters, queries, headers and bodies, half of them near-valid (right method, JSON,
 * real credentials, plausible fields with one or two wrong) so that they reach the domain.
 * Every answer must be the documented JSON error with its code's status, or a documented
 * success; never a 5xx.
 *
 * Bounded by runs, not time. The seed is fixed: a failure prints the seed and counterexample
 * path, which replay it (`fc.assert(property, { seed, path })`).
 */
const SEED = 20_261_130;
const RUNS_PER_ROUTE = 60;
const RUNS_OFF_ROUTE = 80;
const MERCHANT_KEY = 'sandbox-merchant-api-key';
const CODES = new Set(Object.keys(HTTP_STATUS));

// Storage plays no part in what the HTTP layer answers to malformed input: PGlite alone.
const storage = STORAGES[0];

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

interface FuzzAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Real values, so that near-valid requests get past authentication to the domain. */
interface Known {
  shopperToken: string;
  /** A pending and a paid order of that shopper. */
  orderNos: string[];
  skus: string[];
  /** Unspent WeChat login codes (each works once). */
  loginCodes: string[];
  /** Unspent app-launch checkout tokens (each works once). */
  launchTokens: string[];
}

describe('fuzz of every endpoint', () => {
  let database: TestDatabase;
  let h: CheckoutHarness;
  let known: Known;
  let routes: ServedRoute[];

  beforeAll(async () => {
    database = await storage.open();
    h = await startHarness(database.db);
    const { token } = await h.login();
    const pending = await h.createOrder(token);
    const paid = await h.createOrder(token);
    await h.pay(token, paid.orderNo).expect(200);
    const [bill] = await h.billsOf(paid.orderNo);
    await h.settle(bill.bill_no, 'paid').expect(200);
    await eventually(
      () => h.status(token, paid.orderNo),
      (answer) => answer.status === 'paid',
    );
    const catalog = await h.api.get('/api/catalog').expect(200);
    const loginCodes: string[] = [];
    const launchTokens: string[] = [];
    for (let i = 0; i < 5; i++) {
      loginCodes.push((await h.sandbox.post('/sandbox/wechat/codes').send({}).expect(201)).body.code);
      const checkout = await h.api
        .post('/api/merchant/checkouts')
        .set('authorization', `Bearer ${MERCHANT_KEY}`)
        .send({ items: [{ sku: catalog.body.items[0].sku, quantity: 1 }], appUserId: `app-user-${i}` })
        .expect(201);
      launchTokens.push(new URLSearchParams(checkout.body.launch.weapp.path.split('?')[1]).get('checkout')!);
    }
    known = {
      shopperToken: token,
      orderNos: [pending.orderNo, paid.orderNo],
      skus: catalog.body.items.map((item: { sku: string }) => item.sku),
      loginCodes,
      launchTokens,
    };
    routes = servedRoutes(h.services.app);
  });

  afterAll(async () => {
    await h?.close();
    await database?.dispose();
  });

  it('should read the routes from the routers', () => {
    expect(routes.map((route) => route.path)).toEqual(
      expect.arrayContaining(['/healthz', '/api/orders', '/api/gateway/webhook', '/api/wechatpay/notify']),
    );
  });

  it('should answer every request to every route in the error contract or with a documented success', async () => {
    for (const route of routes) {
      await fc.assert(
        fc.asyncProperty(fuzzRequest(fc.constant(route), known), async (request) => {
          expectInContract(request, await send(h.services.serverUrl, request));
        }),
        { seed: SEED, numRuns: RUNS_PER_ROUTE },
      );
    }
  });

  it('should answer requests off the routes in the error contract', async () => {
    await fc.assert(
      fc.asyncProperty(fuzzRequest(offRoute(routes), known), async (request) => {
        expectInContract(request, await send(h.services.serverUrl, request));
      }),
      { seed: SEED, numRuns: RUNS_OFF_ROUTE },
    );
  });
});

function send(baseUrl: string, request: FuzzRequest): Promise<FuzzAnswer> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      { host: hostname, port, method: request.method, path: request.path, headers: request.headers, agent: false },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () =>
          resolve({
            status: incoming.statusCode ?? 0,
            headers: incoming.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        incoming.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(request.body);
  });
}

/** What in `answer` breaks the contract: a 5xx, an error not ours or not JSON, a success not documented. */
function contractBreach(request: FuzzRequest, answer: FuzzAnswer): string | undefined {
  if (answer.status >= 500) return 'a server error';
  if (answer.status === 204) {
    if (request.method === 'DELETE' && /^\/api\/session\/?(\?|$)/.test(request.path))
      return answer.body === '' ? undefined : 'a logout answers no body';
    return request.method === 'OPTIONS' && typeof answer.headers.allow === 'string'
      ? undefined
      : '204 is only for OPTIONS (with Allow) and a logout';
  }
  if (request.path.startsWith('/api/gateway/webhook') && answer.status === 200) {
    return answer.body === (request.method === 'HEAD' ? '' : 'success')
      ? undefined
      : 'the webhook acknowledges with "success" only';
  }
  if (/^\/metrics\/?(\?|$)/.test(request.path) && answer.status === 200) {
    if (!String(answer.headers['content-type']).startsWith('text/plain; version=0.0.4'))
      return `metrics as Content-Type ${answer.headers['content-type']}`;
    return request.method === 'HEAD' || /^# HELP checkout_http_request_duration_seconds /m.test(answer.body)
      ? undefined
      : 'metrics that are not Prometheus text';
  }
  if (answer.headers['content-type'] !== 'application/json; charset=utf-8')
    return `Content-Type ${answer.headers['content-type']}`;
  if (request.method === 'HEAD') return undefined;
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    return 'a body that is not JSON';
  }
  const providerFailure =
    answer.status >= 400 && /^\/api\/wechatpay\/notify\/?(\?|$)/i.test(request.path)
      ? wechatPayFailureMessage(body)
      : answer.status >= 400 && /^\/api\/douyin\/(ecpay|trade)\/notify\/?(\?|$)/i.test(request.path)
        ? douyinFailureMessage(body)
        : undefined;
  if (providerFailure !== undefined) {
    // A provider's own failure answer, our code leading its message.
    if (typeof providerFailure !== 'string') return providerFailure.breach;
    const code = /^([A-Z_]+): /.exec(providerFailure)?.[1];
    if (!code || !CODES.has(code)) return 'a failure message without our code';
    if (HTTP_STATUS[code as ErrorCode] !== answer.status) return `status ${answer.status} is not that of ${code}`;
    if (answer.status === 405 && typeof answer.headers.allow !== 'string') return '405 without Allow';
    return undefined;
  }
  if (answer.status >= 400) {
    const error = (body as { error?: { code?: unknown; message?: unknown } }).error;
    if (Object.keys(body as object).length !== 1 || !error || Object.keys(error).length !== 2)
      return 'not {"error": {"code", "message"}}';
    if (typeof error.message !== 'string' || typeof error.code !== 'string' || !CODES.has(error.code))
      return 'an unknown code';
    if (HTTP_STATUS[error.code as ErrorCode] !== answer.status)
      return `status ${answer.status} is not that of ${error.code}`;
    if (answer.status === 405 && typeof answer.headers.allow !== 'string') return '405 without Allow';
    return undefined;
  }
  if (answer.status !== 200 && answer.status !== 201) return `status ${answer.status}`;
  return typeof body === 'object' && body !== null && !Array.isArray(body) && !('error' in body)
    ? undefined
    : 'a success that is not an object';
}

function expectInContract(request: FuzzRequest, answer: FuzzAnswer): void {
  const exchange = `${request.method} ${request.path} ${JSON.stringify(request.headers)} ${request.body?.slice(0, 300)} → ${answer.status} ${answer.body.slice(0, 300)}`;
  expect({ exchange, breach: contractBreach(request, answer) }).toEqual({ exchange, breach: undefined });
}

/** Printable ASCII: what an HTTP client lets into a header value. */
const headerText = fc.string({ unit: 'grapheme-ascii', maxLength: 40 });
const visibleAscii = fc.string({
  unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
  minLength: 1,
  maxLength: 128,
});

/**
 * Strings of any code point, and of any UTF-16 code unit: NUL and unpaired surrogates included,
 * which storage and JSON cannot always hold (issue 10, fault 1).
 */
const text = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({
    unit: fc
      .integer({ min: 0, max: 0x10ffff })
      .filter((c) => c < 0xd800 || c > 0xdfff)
      .map((c) => String.fromCodePoint(c)),
    maxLength: 30,
  }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 30 }),
  fc.constantFrom('\u0000', 'u\u00001', '\ud800', 'a\udfffb', '\udbff\ud800'),
);

/**
 * Percent-encodes as a client would; an unpaired surrogate, which has no UTF-8, is sent as the
 * bytes a careless client would produce (CESU-8 `%ED%A0%80`), and NUL as `%00`.
 */
function uriComponent(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return (
      value
        .replace(/[\ud800-\udfff]/g, '')
        .split('')
        .map((unit) => encodeURIComponent(unit))
        .join('') + '%ED%A0%80'
    );
  }
}

/**
 * Objects nested deeper than any limit of ours, the parser's or storage's: written into the body
 * text as `{"k":[{"k":…` (a value this deep overflows JSON.stringify's own stack).
 */
const DEEP = '#DEEP#';
const deeplyNested = fc.integer({ min: 30, max: 6000 }).map((depth) => `${DEEP}${depth}`);

/** A number JSON can carry but JavaScript cannot hold exactly, written as a literal into the body. */
const HUGE = '#HUGE#';
const hugeNumber = fc
  .constantFrom(
    '1e400',
    '-1e400',
    '123456789012345678901234567890',
    '0.0000000000000000000000001',
    '9007199254740993',
    '-0',
    '1E+2',
  )
  .map((literal) => `${HUGE}${literal}`);

const junk: fc.Arbitrary<unknown> = fc.oneof(
  text,
  fc.integer(),
  fc.double(),
  hugeNumber,
  fc.boolean(),
  fc.constant(null),
  fc.constant([]),
  fc.constant({}),
  fc.jsonValue({ maxDepth: 3 }),
  deeplyNested,
);

/** For each field some route reads: values a client could mean. */
function plausibleFields(known: Known): Record<string, fc.Arbitrary<unknown>> {
  const item = fc.record(
    {
      sku: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...known.skus) }, { weight: 1, arbitrary: text }),
      quantity: fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: 1, max: 5 }) },
        { weight: 1, arbitrary: fc.integer({ min: -2, max: 1001 }) },
      ),
    },
    { requiredKeys: [] },
  );
  return {
    platform: fc.constantFrom('weapp', 'weapp', 'tt', 'WEAPP', ''),
    code: fc.oneof(fc.constantFrom(...known.loginCodes), text),
    anonymousCode: text,
    items: fc.oneof(
      { weight: 5, arbitrary: fc.array(item, { minLength: 1, maxLength: 3 }) },
      { weight: 1, arbitrary: fc.array(item, { maxLength: 52 }) },
    ),
    token: fc.oneof(fc.constantFrom(...known.launchTokens), fc.string({ minLength: 16, maxLength: 128 }), text),
    appUserId: text,
    attach: fc.oneof(
      fc.dictionary(text, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
      fc.dictionary(text, deeplyNested, { maxKeys: 1 }),
    ),
    amount: fc.oneof(
      fc.integer({ min: 1, max: 200 }),
      fc.integer({ min: -1, max: 100_000 }),
      fc.constant(Number.MAX_SAFE_INTEGER),
      hugeNumber,
    ),
    reason: text,
    signature: text,
    transaction_id: text,
    transaction_type: fc.constantFrom('PAY', 'REFUND', 'TRANSFER'),
    transaction_fee: fc.oneof(fc.integer(), hugeNumber),
  };
}

/** An object of some of the fields, each plausible or (one time in `1 + plausibility`) junk. */
function fieldsObject(known: Known, plausibility: number): fc.Arbitrary<Record<string, unknown>> {
  const entries = Object.entries(plausibleFields(known)).map(([name, value]) =>
    fc.option(
      fc.tuple(fc.constant(name), fc.oneof({ weight: plausibility, arbitrary: value }, { weight: 1, arbitrary: junk })),
      { nil: undefined },
    ),
  );
  return fc
    .tuple(...entries)
    .map((pairs) => Object.fromEntries(pairs.filter((pair): pair is [string, unknown] => pair !== undefined)));
}

function jsonText(value: unknown): string {
  return JSON.stringify(value)
    .replace(new RegExp(`"${HUGE}([^"]*)"`, 'g'), '$1')
    .replace(new RegExp(`"${DEEP}(\\d+)"`, 'g'), (_, depth: string) => {
      const levels = Array.from({ length: Number(depth) }, (_unused, level) =>
        level % 2 ? ['[', ']'] : ['{"k":', '}'],
      );
      return (
        levels.map(([open]) => open).join('') +
        '"leaf"' +
        levels
          .map(([, close]) => close)
          .reverse()
          .join('')
      );
    });
}

function wildBody(known: Known): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 3, arbitrary: fieldsObject(known, 1).map(jsonText) },
    { weight: 1, arbitrary: junk.map(jsonText) },
    { weight: 1, arbitrary: fc.json({ maxDepth: 4 }) },
    {
      weight: 1,
      arbitrary: fieldsObject(known, 1)
        .map(jsonText)
        .chain((json) => fc.nat(json.length).map((cut) => json.slice(0, cut))),
    },
    { weight: 1, arbitrary: text },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 1, max: 20 }).map((n) => `signature=${'a'.repeat(n)}&transaction_type=PAY`),
    },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 100, max: 3000 })
        .map((depth) => `{"items":${'['.repeat(depth)}${']'.repeat(depth)}}`),
    },
  );
}

const optional = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined });

function wildHeaders(known: Known): fc.Arbitrary<Record<string, string | undefined>> {
  return fc.record({
    'content-type': optional(
      fc.oneof(
        fc.constantFrom(
          'application/json',
          'application/json; charset=utf-8',
          'application/json; charset=latin1',
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/xml',
        ),
        headerText,
      ),
    ),
    authorization: optional(
      fc.oneof(
        fc.constant(`Bearer ${known.shopperToken}`),
        fc.constant(`Bearer ${MERCHANT_KEY}`),
        headerText.map((token) => `Bearer ${token}`),
        headerText,
      ),
    ),
    'idempotency-key': optional(
      fc.oneof(headerText, fc.string({ unit: 'grapheme-ascii', minLength: 120, maxLength: 140 })),
    ),
    'content-encoding': optional(fc.constantFrom('gzip', 'deflate', 'identity', 'br', 'zstd')),
    'x-forwarded-for': optional(headerText),
    accept: optional(fc.constantFrom('text/html', '*/*', 'application/json')),
  });
}

/** JSON with the credentials the path asks for, sometimes an Idempotency-Key. */
function nearValidHeaders(known: Known, path: string): fc.Arbitrary<Record<string, string | undefined>> {
  const credential = path.startsWith('/api/merchant') ? MERCHANT_KEY : known.shopperToken;
  return fc.record({
    'content-type': fc.constantFrom('application/json', 'application/json; charset=utf-8'),
    authorization: fc.constant(`Bearer ${credential}`),
    'idempotency-key': optional(visibleAscii),
  });
}

const ALL_METHODS = METHODS.filter((method) => method !== 'CONNECT');

/** A concrete path for a route pattern: its parameters real, plausible or junk, sometimes with a query. */
function pathFor(route: ServedRoute, known: Known, nearValid: boolean): fc.Arbitrary<string> {
  const realOrder = fc.constantFrom(...known.orderNos);
  const parameter = nearValid
    ? realOrder
    : fc.oneof(
        realOrder,
        fc.string({
          unit: fc.constantFrom(...'ABCDEFGHJKLMNPQRSTUVWXYZ0123456789'.split('')),
          minLength: 8,
          maxLength: 32,
        }),
        text.map(uriComponent),
        fc.constantFrom('%', '%E0%A4%A', '..', '%00', '%2F'),
      );
  const query = nearValid
    ? fc.record(
        {
          disposition: fc.constantFrom('amount_mismatch', 'refund_due', 'refunded', 'other'),
          limit: fc.constantFrom('1', '50', '200', '201', '0', 'x'),
          offset: fc.constantFrom('0', '10', '1000000', '-1'),
        },
        { requiredKeys: ['disposition'] },
      )
    : fc.dictionary(
        fc.oneof(fc.constantFrom('disposition', 'limit', 'offset'), fc.string({ maxLength: 8 })),
        fc.oneof(fc.constantFrom('refund_due', 'amount_mismatch', '50', '-1', '1e9', '0x10', ''), text),
        { maxKeys: 4 },
      );
  const segments = route.path.split('/');
  return fc
    .tuple(
      fc.array(parameter, { minLength: segments.length, maxLength: segments.length }),
      optional(query),
      nearValid ? fc.constant(false) : fc.boolean(),
    )
    .map(([values, search, trailingSlash]) => {
      const path =
        segments.map((segment, i) => (segment.startsWith(':') ? values[i] : segment)).join('/') +
        (trailingSlash ? '/' : '');
      if (!search) return path;
      const params = Object.entries(search).map(([key, value]) => `${uriComponent(key)}=${uriComponent(value)}`);
      return `${path}?${params.join('&')}`;
    });
}

/** Paths near and far from the served ones. */
function offRoute(routes: ServedRoute[]): fc.Arbitrary<ServedRoute> {
  return fc
    .tuple(fc.constantFrom(...routes), fc.array(text.map(uriComponent), { minLength: 1, maxLength: 3 }), fc.boolean())
    .map(([route, extra, under]) => ({
      path: under ? `${route.path}/${extra.join('/')}` : `/${extra.join('/')}`,
      methods: route.methods,
    }));
}

function fuzzRequest(route: fc.Arbitrary<ServedRoute>, known: Known): fc.Arbitrary<FuzzRequest> {
  return route.chain((served) => fc.oneof(wildRequest(served, known), nearValidRequest(served, known)));
}

function wildRequest(route: ServedRoute, known: Known): fc.Arbitrary<FuzzRequest> {
  return fc
    .tuple(
      fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...route.methods) },
        { weight: 2, arbitrary: fc.constantFrom(...ALL_METHODS) },
      ),
      pathFor(route, known, false),
      wildBody(known),
      wildHeaders(known),
    )
    .map(([method, path, body, headers]) => request(method, path, headers, body));
}

function nearValidRequest(route: ServedRoute, known: Known): fc.Arbitrary<FuzzRequest> {
  return fc
    .tuple(fc.constantFrom(...route.methods.filter((method) => method !== 'HEAD')), pathFor(route, known, true))
    .chain(([method, path]) =>
      fc
        .tuple(nearValidHeaders(known, path), fieldsObject(known, 6).map(jsonText))
        .map(([headers, body]) => request(method, path, headers, method === 'GET' ? undefined : body)),
    );
}

function request(
  method: string,
  path: string,
  headers: Record<string, string | undefined>,
  body: string | undefined,
): FuzzRequest {
  const chosen = Object.fromEntries(
    Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  if (body !== undefined) chosen['content-length'] = String(Buffer.byteLength(body));
  return { method, path, headers: chosen, body };
}

/** WeChat Pay's failure answer `{"code": "FAIL", "message"}`: its message, or what is wrong with it. */
function wechatPayFailureMessage(body: unknown): string | { breach: string } {
  const failure = body as { code?: unknown; message?: unknown };
  if (Object.keys(failure).length !== 2 || failure.code !== 'FAIL' || typeof failure.message !== 'string')
    return { breach: 'not {"code": "FAIL", "message"}' };
  return failure.message;
}

/** Douyin's failure answer `{"err_no": 1, "err_tips"}` (担保支付 and 通用交易系统): its message, or what is wrong with it. */
function douyinFailureMessage(body: unknown): string | { breach: string } {
  const failure = body as { err_no?: unknown; err_tips?: unknown };
  if (Object.keys(failure).length !== 2 || failure.err_no !== 1 || typeof failure.err_tips !== 'string')
    return { breach: 'not {"err_no": 1, "err_tips"}' };
  return failure.err_tips;
}
