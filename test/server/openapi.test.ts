import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { validate, compileErrors } from '@readme/openapi-parser';
import type Koa from 'koa';
import type { OpenAPIV3_1 } from 'openapi-types';
import type { Response, Test } from 'supertest';
import type { z } from 'zod';
import { signCallback, signRequestOrder } from '../../server/adapters/payments/douyin-trade/signing';
import { WechatPayClient } from '../../server/adapters/payments/wechatpay/client';
import { DEVELOPMENT_SECRETS } from '../../server/config';
import { clientOptionsFromSandboxKeys } from '../../server/adapters/payments/wechatpay/sandbox-credentials';
import { HTTP_STATUS } from '../../server/http/errors';
import { API_VERSION, buildApiDocument } from '../../server/http/api-document';
import { createCheckoutServer } from '../../server/http/node-server';
import { mountedRouters, servedRoutes } from '../../server/http/protocol';
import { describedOperations, type ApiOperation } from '../../server/openapi/operations';
import { CheckoutHarness, eventually, startHarness } from '../support/checkout-harness';
import { STORAGES, TestDatabase } from '../support/databases';
import { readAnswer, sendRaw, type RawAnswer } from '../support/raw-http';
import { newOutTradeNo, startNotifyReceiver } from '../support/wechatpay';

/**
 * `GET /openapi.json`: a valid OpenAPI 3.1 document that names every route the server and the
 * sandbox's control routes serve (and nothing else), and that tells the truth: a real checkout
 * (WeChat, Douyin, the merchant API, refunds, faults) driven through the real server and
 * sandbox, and a WeChat Pay APIv3 payment and refund made by our WeChat Pay client against the
 * sandbox, every answer of which must be one the document lists for its operation and status,
 * with a body its schema accepts. Every documented operation must be seen answering a success.
 */

/**
 * The sandbox's emulations of the providers' own APIs, at their real paths: the gateway's REST
 * API, WeChat Pay's APIv3, WeChat's and Douyin's jscode2session. Not ours to document; any other
 * sandbox route is.
 */
const EMULATED_PROVIDER_ROUTES = [
  'POST /2/rest/bill',
  'GET /2/rest/bills',
  'GET /2/rest/bills/count',
  'GET /2/rest/bill/:id',
  'POST /2/rest/sandbox/bill',
  'GET /2/rest/sandbox/bills',
  'GET /2/rest/sandbox/bills/count',
  'GET /2/rest/sandbox/bill/:id',
  'POST /2/rest/refund',
  'GET /2/rest/refunds',
  'GET /2/rest/refunds/count',
  'GET /2/rest/refund/status',
  'GET /2/rest/refund/:id',
  'POST /v3/pay/transactions/jsapi',
  'GET /v3/pay/transactions/out-trade-no/:out_trade_no',
  'POST /v3/pay/transactions/out-trade-no/:out_trade_no/close',
  'POST /v3/refund/domestic/refunds',
  'GET /v3/refund/domestic/refunds/:out_refund_no',
  'GET /v3/certificates',
  'GET /v3/bill/tradebill',
  'GET /v3/billdownload/file',
  'GET /sns/jscode2session',
  'POST /api/apps/v2/jscode2session',
  'POST /api/apps/ecpay/v1/create_order',
  'POST /api/apps/ecpay/v1/query_order',
  'POST /api/apps/ecpay/v1/create_refund',
  'POST /api/apps/ecpay/v1/query_refund',
  'POST /oauth/client_token/',
  'POST /api/trade_basic/v1/developer/order_query/',
  'POST /api/trade_basic/v1/developer/refund_create/',
  'POST /api/trade_basic/v1/developer/refund_query/',
];

const MERCHANT_KEY = 'sandbox-merchant-api-key';
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

type Document = OpenAPIV3_1.Document;

/** `METHOD /path/{param}` for every route of an app (HEAD goes with GET: it is not listed). */
function servedOperations(app: Koa): string[] {
  return servedRoutes(app).flatMap((route) =>
    route.methods.filter((method) => method !== 'HEAD').map((method) => `${method} ${openApiPath(route.path)}`),
  );
}

function openApiPath(routerPath: string): string {
  return routerPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function documentedOperations(document: Document): string[] {
  return Object.entries(document.paths ?? {}).flatMap(([path, item]) =>
    HTTP_METHODS.filter((method) => item?.[method]).map((method) => `${method.toUpperCase()} ${path}`),
  );
}

describe('OpenAPI document', () => {
  let database: TestDatabase;
  let h: CheckoutHarness;
  let document: Document;

  beforeAll(async () => {
    database = await STORAGES[0].open();
    h = await startHarness(database.db);
    const response = await h.api
      .get('/openapi.json')
      .expect(200)
      .expect('content-type', 'application/json; charset=utf-8');
    document = response.body;
  });

  afterAll(async () => {
    await h?.close();
    await database?.dispose();
  });

  it('should be a valid OpenAPI 3.1 document', async () => {
    expect(document.openapi).toBe('3.1.0');
    const result = await validate(structuredClone(document) as never);
    if (!result.valid) throw new Error(compileErrors(result));
    expect(result.warnings).toEqual([]);
  });

  it('should carry the package version, the security schemes and a relative server without PUBLIC_BASE_URL', () => {
    const packageJson = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string };
    expect(document.info.version).toBe(API_VERSION);
    expect(API_VERSION).toBe(packageJson.version);
    expect(document.servers).toEqual([{ url: '/', description: expect.any(String) }]);
    expect(document.components?.securitySchemes).toEqual({
      shopperSession: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
      merchantApiKey: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
      metricsToken: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
    });
    // METRICS_TOKEN is optional: the scrape is documented as working with or without it.
    expect(document.paths?.['/metrics']?.get?.security).toEqual([{ metricsToken: [] }, {}]);
  });

  it('should name every route the server serves, and document nothing it does not serve', () => {
    const sandboxApp = h.services.sandboxApp!;
    const sandboxRoutes = servedOperations(sandboxApp);
    const emulated = EMULATED_PROVIDER_ROUTES.map((route) => openApiPath(route));
    // The exclusions are exactly the emulations: each is served, and nothing else is excluded.
    expect(sandboxRoutes).toEqual(expect.arrayContaining(emulated));
    const expected = [
      ...servedOperations(h.services.app),
      ...sandboxRoutes.filter((route) => !emulated.includes(route)),
    ];
    expect(documentedOperations(document).sort()).toEqual([...new Set(expected)].sort());
    expect(expected).toEqual(expect.arrayContaining(['GET /openapi.json', 'POST /sandbox/bills/{bill_no}/settle']));
  });

  it("should tag the sandbox's paths and send them to the sandbox's own server", () => {
    for (const [path, item] of Object.entries(document.paths ?? {})) {
      const sandbox = path.startsWith('/sandbox/');
      expect({ path, servers: item?.servers }).toEqual({
        path,
        servers: sandbox ? [{ url: h.services.sandboxUrl, description: expect.any(String) }] : undefined,
      });
      for (const method of HTTP_METHODS) {
        const operation = item?.[method];
        if (operation) expect({ path, sandbox: operation.tags?.includes('sandbox') }).toEqual({ path, sandbox });
      }
    }
  });

  it('should list each error code of the server under the status the error contract gives it', () => {
    for (const [path, item] of Object.entries(document.paths ?? {})) {
      if (path.startsWith('/sandbox/')) continue;
      for (const method of HTTP_METHODS) {
        for (const [status, answer] of Object.entries(item?.[method]?.responses ?? {})) {
          if (Number(status) < 400) continue;
          const schema = (answer as OpenAPIV3_1.ResponseObject).content?.['application/json']
            ?.schema as OpenAPIV3_1.SchemaObject;
          // WeChat Pay's failure answer `{code: "FAIL", message}`: the codes leading its message are
          // listed in the answer's description.
          const codes = schema.properties?.error
            ? ((schema.properties.error as OpenAPIV3_1.SchemaObject).properties?.code as OpenAPIV3_1.SchemaObject).enum
            : [...(answer as OpenAPIV3_1.ResponseObject).description.matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]);
          expect({ path, status, codes: (codes ?? []).length > 0 }).toEqual({ path, status, codes: true });
          for (const code of codes ?? []) {
            expect({ method, path, code, status: HTTP_STATUS[code as keyof typeof HTTP_STATUS] }).toEqual({
              method,
              path,
              code,
              status: Number(status),
            });
          }
        }
      }
      expect(Object.keys(item ?? {}).length).toBeGreaterThan(0);
    }
  });

  it('should use PUBLIC_BASE_URL as its server, and leave the sandbox out when it does not run', () => {
    const built = buildApiDocument({ app: h.services.app, publicBaseUrl: 'https://pay.example.com' }) as Document;
    expect(built.servers).toEqual([{ url: 'https://pay.example.com', description: expect.any(String) }]);
    expect(Object.keys(built.paths ?? {}).filter((path) => path.startsWith('/sandbox/'))).toEqual([]);
    expect(built.tags?.map((tag) => tag.name)).not.toContain('sandbox');
    expect(Object.keys(built.paths ?? {})).toEqual(
      expect.arrayContaining(['/api/orders/{orderNo}/pay', '/openapi.json']),
    );
  });

  describe('answers to a real checkout', () => {
    /** `METHOD /path/{param} status` of every answer checked so far. */
    const seen = new Set<string>();
    const auth = (token: string) => ({ authorization: `Bearer ${token}` });
    const merchant = { authorization: `Bearer ${MERCHANT_KEY}` };

    /** The described operation (zod schemas) and documented operation (JSON) a request is for. */
    function operationFor(method: string, path: string): { described: ApiOperation; template: string } {
      const sandbox = path.startsWith('/sandbox/');
      const operations = mountedRouters(sandbox ? h.services.sandboxApp! : h.services.app).flatMap((router) => [
        ...describedOperations(router),
      ]);
      const described = operations.find(
        (operation) =>
          operation.method === method.toLowerCase() &&
          new RegExp(`^${operation.path.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path),
      );
      if (!described) throw new Error(`no documented operation for ${method} ${path}`);
      return { described, template: described.path };
    }

    /** Sends the request and checks its answer against the document; returns it. */
    async function documented(request: Test): Promise<Response> {
      const response = await request;
      const { method } = request as unknown as { method: string };
      const url = new URL((request as unknown as { url: string }).url);
      checkAnswer(
        method,
        url.pathname,
        response.status,
        response.headers['content-type'],
        response.status === 204 ? '' : response.text,
        response.body,
      );
      return response;
    }

    function checkAnswer(
      method: string,
      path: string,
      status: number,
      contentType: string | undefined,
      text: string,
      json: unknown,
    ): void {
      const { described, template } = operationFor(method, path);
      const where = `${method} ${template} ${status}`;
      const generated = document.paths?.[template]?.[method.toLowerCase() as (typeof HTTP_METHODS)[number]];
      const answer = generated?.responses?.[String(status)] as OpenAPIV3_1.ResponseObject | undefined;
      expect({ where, documented: answer !== undefined, body: text.slice(0, 300) }).toEqual({
        where,
        documented: true,
        body: text.slice(0, 300),
      });
      const describedAnswer = described.responses[String(status)] as {
        content?: Record<string, { schema: z.ZodType }>;
      };
      if (!describedAnswer.content) {
        expect({ where, text }).toEqual({ where, text: '' });
      } else {
        const mediaType = (contentType ?? '').split(';')[0];
        expect({ where, mediaType, listed: Object.keys(answer!.content ?? {}).includes(mediaType) }).toEqual({
          where,
          mediaType,
          listed: true,
        });
        const body = mediaType === 'application/json' ? json : text;
        const parsed = describedAnswer.content[mediaType].schema.safeParse(body);
        expect({ where, body, issues: parsed.success ? [] : parsed.error.issues }).toEqual({ where, body, issues: [] });
      }
      seen.add(where);
    }

    it("should document the answers of a WeChat checkout, the gateway webhook and the sandbox's bill controls", async () => {
      await documented(h.api.get('/healthz'));
      await documented(h.api.get('/openapi.json'));
      await documented(h.api.get('/metrics'));
      const catalog = await documented(h.api.get('/api/catalog'));
      const sku: string = catalog.body.items[0].sku;

      const minted = await documented(h.sandbox.post('/sandbox/wechat/codes').send({}));
      const session = await documented(h.api.post('/api/session').send({ platform: 'weapp', code: minted.body.code }));
      const token: string = session.body.token;
      await documented(h.api.post('/api/session').send({ platform: 'weapp', code: minted.body.code }));
      await documented(h.api.post('/api/session').send({ platform: 'alipay' }));

      const created = await documented(
        h.api
          .post('/api/orders')
          .set(auth(token))
          .set('idempotency-key', 'openapi-1')
          .send({ items: [{ sku, quantity: 1 }] }),
      );
      const orderNo: string = created.body.order.orderNo;
      await documented(
        h.api
          .post('/api/orders')
          .set(auth(token))
          .send({ items: [{ sku: 'no-such-sku', quantity: 1 }] }),
      );
      await documented(h.api.post('/api/orders').send({ items: [{ sku, quantity: 1 }] }));
      await documented(h.api.post(`/api/orders/${orderNo}/pay`).set(auth(token)).send({ platform: 'weapp' }));
      await documented(h.api.post(`/api/orders/${orderNo}/pay`).set(auth(token)).send({ platform: 'tt' }));
      await documented(h.api.get(`/api/orders/${orderNo}/status`).set(auth(token)));
      await documented(h.api.get('/api/orders/NOSUCHORDER0001/status').set(auth(token)));

      const bills = await documented(
        h.sandbox.get('/sandbox/bills').query({ bill_no: (await h.billsOf(orderNo))[0].bill_no }),
      );
      const billNo: string = bills.body.bills[0].bill_no;
      await documented(h.sandbox.post(`/sandbox/bills/${billNo}/settle`).send({ result: 'paid' }));
      await documented(h.sandbox.post(`/sandbox/bills/${billNo}/settle`).send({ result: 'failed' }));
      await documented(h.sandbox.post(`/sandbox/bills/${billNo}/settle`).send({ result: 'maybe' }));
      await documented(h.sandbox.post('/sandbox/bills/NOSUCHBILL/settle').send({ result: 'paid' }));
      await eventually(
        () => h.status(token, orderNo),
        (answer) => answer.status === 'paid',
      );
      await documented(h.api.get(`/api/orders/${orderNo}/status`).set(auth(token)));
      await documented(h.api.post(`/api/orders/${orderNo}/pay`).set(auth(token)).send({ platform: 'weapp' }));

      // The webhook's answers, as the sandbox's gateway received them.
      await documented(h.sandbox.post(`/sandbox/bills/${billNo}/notify`));
      const deliveries = await eventually(
        () => documented(h.sandbox.get(`/sandbox/bills/${billNo}/deliveries`)),
        (response) =>
          response.body.deliveries.length >= 2 &&
          response.body.deliveries.every((attempt: { ok: boolean }) => attempt.ok),
      );
      for (const attempt of deliveries.body.deliveries) {
        checkAnswer(
          'POST',
          '/api/gateway/webhook',
          attempt.status,
          'text/plain; charset=utf-8',
          attempt.body,
          undefined,
        );
      }
      await documented(
        h.api.post('/api/gateway/webhook').set('content-type', 'application/json').send('{"not":"a webhook"}'),
      );
      await documented(h.api.post('/api/gateway/webhook').set('content-type', 'text/plain').send('not JSON'));

      // An unpaid bill cannot be notified.
      const other = await documented(
        h.api
          .post('/api/orders')
          .set(auth(token))
          .send({ items: [{ sku, quantity: 2 }] }),
      );
      await documented(
        h.api.post(`/api/orders/${other.body.order.orderNo}/pay`).set(auth(token)).send({ platform: 'weapp' }),
      );
      const [open] = await h.billsOf(other.body.order.orderNo);
      await documented(h.sandbox.post(`/sandbox/bills/${open.bill_no}/notify`));

      // The gateway refusing: 503 for the shopper.
      await documented(h.sandbox.post('/sandbox/gateway/faults').send({ result_code: 14, operation: 'bill' }));
      await documented(h.sandbox.post('/sandbox/gateway/faults').send({ result_code: 14, http_status: 502 }));
      const refused = await documented(
        h.api
          .post('/api/orders')
          .set(auth(token))
          .send({ items: [{ sku, quantity: 3 }] }),
      );
      await documented(
        h.api.post(`/api/orders/${refused.body.order.orderNo}/pay`).set(auth(token)).send({ platform: 'weapp' }),
      );
      await documented(h.sandbox.delete('/sandbox/gateway/faults'));

      await documented(h.api.delete('/api/session').set(auth(token)));
      await documented(h.api.delete('/api/session'));
      await documented(h.api.get(`/api/orders/${orderNo}/status`).set(auth(token)));
    });

    it('should document the answers of a Douyin checkout paid on both legs, and of the Alipay and H5 cashier controls', async () => {
      const minted = await documented(h.sandbox.post('/sandbox/douyin/codes').send({}));
      const session = await documented(
        h.api
          .post('/api/session')
          .send({ platform: 'tt', code: minted.body.code, anonymousCode: minted.body.anonymousCode }),
      );
      const token: string = session.body.token;
      const created = await documented(
        h.api
          .post('/api/orders')
          .set(auth(token))
          .send({ items: [{ sku: 'ceramic-mug', quantity: 1 }] }),
      );
      const orderNo: string = created.body.order.orderNo;
      await documented(h.api.post(`/api/orders/${orderNo}/pay`).set(auth(token)).send({ platform: 'tt' }));
      const bills = await h.billsOf(orderNo);
      const h5 = bills.find((bill) => bill.channel === 'BC_WX_WAP')!;
      const alipay = bills.find((bill) => bill.channel === 'ALI_APP')!;

      await documented(h.sandbox.get('/sandbox/wechat/h5pay').query({ bill_no: h5.bill_no }));
      await documented(h.sandbox.get('/sandbox/wechat/h5pay'));
      await documented(h.sandbox.get('/sandbox/wechat/h5pay').query({ bill_no: 'NOSUCHBILL' }));
      await documented(h.sandbox.post('/sandbox/wechat/h5pay').send({ bill_no: h5.bill_no, action: 'cancel' }));
      await documented(
        h.sandbox.post('/sandbox/wechat/h5pay').type('form').send({ bill_no: h5.bill_no, action: 'pay' }),
      );
      await documented(h.sandbox.post('/sandbox/wechat/h5pay').send({ bill_no: h5.bill_no, action: 'pay' }));
      await documented(h.sandbox.post('/sandbox/wechat/h5pay').send({ bill_no: alipay.bill_no, action: 'pay' }));
      await documented(h.sandbox.post('/sandbox/wechat/h5pay').send({ bill_no: h5.bill_no, action: 'steal' }));

      await documented(h.sandbox.get('/sandbox/alipay/public-key'));
      await documented(
        h.sandbox.post('/sandbox/alipay/app-pay').send({ order_string: alipay.order_string, action: 'cancel' }),
      );
      await documented(h.sandbox.post('/sandbox/alipay/app-pay').send({ order_string: alipay.order_string }));
      await documented(h.sandbox.post('/sandbox/alipay/app-pay').send({ order_string: `${alipay.order_string}x` }));
      await documented(h.sandbox.post('/sandbox/alipay/app-pay').send({}));
      await eventually(
        () => h.status(token, orderNo),
        (answer) => answer.status === 'paid',
      );

      // The second payment goes back by itself: the merchant API lists it.
      const listed = await eventually(
        () => documented(h.api.get('/api/merchant/payments').query({ disposition: 'refunded' }).set(merchant)),
        (response) => response.body.payments.length > 0,
      );
      expect(listed.body.payments[0].refund).toMatchObject({ kind: 'duplicate' });
      await documented(
        h.api.get('/api/merchant/payments').query({ disposition: 'refund_due', limit: 10 }).set(merchant),
      );
      await documented(h.api.get('/api/merchant/payments').query({ disposition: 'everything' }).set(merchant));
    });

    it("should document the answers of an app-launched checkout, its refunds and the sandbox's refund controls", async () => {
      await documented(
        h.api.post('/api/merchant/checkouts').send({ items: [{ sku: 'ceramic-mug', quantity: 1 }], appUserId: 'u1' }),
      );
      const checkout = await documented(
        h.api
          .post('/api/merchant/checkouts')
          .set(merchant)
          .send({ items: [{ sku: 'ceramic-mug', quantity: 1 }], appUserId: 'app-user-1', attach: { cart: 'c-1' } }),
      );
      const orderNo: string = checkout.body.orderNo;
      const launchToken = new URLSearchParams(checkout.body.launch.weapp.path.split('?')[1]).get('checkout')!;
      const { token } = await h.login();
      await documented(h.api.post('/api/checkouts/claim').set(auth(token)).send({ token: launchToken }));
      await documented(h.api.post('/api/checkouts/claim').set(auth(token)).send({ token: launchToken }));
      await documented(
        h.api
          .post('/api/checkouts/claim')
          .set(auth(token))
          .send({ token: 'x'.repeat(32) }),
      );
      await documented(h.api.get(`/api/merchant/orders/${orderNo}`).set(merchant));
      await documented(
        h.api
          .post(`/api/merchant/orders/${orderNo}/refunds`)
          .set(merchant)
          .set('idempotency-key', 'r-0')
          .send({ amount: 1 }),
      );

      await h.pay(token, orderNo).expect(200);
      const [bill] = await h.billsOf(orderNo);
      await h.settle(bill.bill_no, 'paid').expect(200);
      await eventually(
        () => h.status(token, orderNo),
        (answer) => answer.status === 'paid',
      );

      await documented(h.sandbox.post('/sandbox/refunds/hold').send({ count: 1 }));
      await documented(h.sandbox.post('/sandbox/refunds/hold').send({ count: 0 }));
      const refund = { amount: 100, reason: '尺码不合适' };
      await documented(h.api.post(`/api/merchant/orders/${orderNo}/refunds`).set(merchant).send(refund));
      await documented(
        h.api.post(`/api/merchant/orders/${orderNo}/refunds`).set(merchant).set('idempotency-key', 'r-1').send(refund),
      );
      await documented(
        h.api.post(`/api/merchant/orders/${orderNo}/refunds`).set(merchant).set('idempotency-key', 'r-1').send(refund),
      );
      await documented(
        h.api
          .post(`/api/merchant/orders/${orderNo}/refunds`)
          .set(merchant)
          .set('idempotency-key', 'r-1')
          .send({ amount: 101 }),
      );
      await documented(
        h.api
          .post(`/api/merchant/orders/${orderNo}/refunds`)
          .set(merchant)
          .set('idempotency-key', 'r-2')
          .send({ amount: 10_000_000 }),
      );
      await documented(h.sandbox.delete('/sandbox/refunds/hold'));

      const refunds = await documented(h.sandbox.get('/sandbox/refunds').query({ bill_no: bill.bill_no }));
      const refundNo: string = refunds.body.refunds[0].refund_no;
      await documented(h.sandbox.post(`/sandbox/refunds/${refundNo}/settle`).send({ result: 'succeeded' }));
      await documented(h.sandbox.post(`/sandbox/refunds/${refundNo}/settle`).send({ result: 'failed' }));
      await documented(h.sandbox.post('/sandbox/refunds/NOSUCHREFUND/settle').send({ result: 'failed' }));
      await documented(h.sandbox.get(`/sandbox/refunds/${refundNo}/deliveries`));
      await documented(h.sandbox.get('/sandbox/refunds/NOSUCHREFUND/deliveries'));
      await documented(h.sandbox.get('/sandbox/refunds'));
      await documented(h.sandbox.get('/sandbox/bills'));
      await documented(h.sandbox.get('/sandbox/bills/NOSUCHBILL/deliveries'));

      const order = await documented(h.api.get(`/api/merchant/orders/${orderNo}`).set(merchant));
      expect(order.body.order).toMatchObject({ appUserId: 'app-user-1', attach: { cart: 'c-1' }, claimed: true });
      expect(order.body.order.refunds).toEqual([
        expect.objectContaining({ refundNo: refundNo, amount: 100, reason: '尺码不合适' }),
      ]);
      await documented(h.api.get('/api/merchant/orders/NOSUCHORDER0001').set(merchant));
    });

    it("should document the answers of the Douyin payment systems' sandbox controls", async () => {
      await documented(h.sandbox.get('/sandbox/douyin/keys'));
      await documented(h.sandbox.get('/sandbox/douyin/orders'));
      await documented(h.sandbox.post('/sandbox/douyin/orders/NOSUCHORDER0001/settle').send({ result: 'paid' }));
      await documented(h.sandbox.post('/sandbox/douyin/orders/NOSUCHORDER0001/settle').send({ result: 'refunded' }));

      // 通用交易系统: what tt.requestOrder does, then settling the order it made.
      const keys = (await h.sandbox.get('/sandbox/douyin/keys').expect(200)).body;
      const outOrderNo = `OA${Date.now()}`;
      const data = JSON.stringify({
        skuList: [{ skuId: 'CO0001', price: 100, quantity: 1, title: 'Ceramic mug', imageList: [] }],
        outOrderNo,
        totalAmount: 100,
        payExpireSeconds: 600,
        payNotifyUrl: `${h.services.serverUrl}/api/douyin/trade/notify`,
        orderEntrySchema: { path: 'pages/checkout/index', params: '{}' },
      });
      const byteAuthorization = signRequestOrder({
        data,
        appid: DEVELOPMENT_SECRETS.douyinAppId,
        keyVersion: keys.keyVersion,
        privateKey: keys.appPrivateKey,
        nowSeconds: Date.now() / 1000,
      });
      await documented(h.sandbox.post('/sandbox/douyin/trade/request-order').send({ data, byteAuthorization }));
      await documented(
        h.sandbox.post('/sandbox/douyin/trade/request-order').send({ data: `${data} `, byteAuthorization }),
      );
      await documented(h.sandbox.post('/sandbox/douyin/trade/request-order').send({ data }));
      await documented(
        h.sandbox.post(`/sandbox/douyin/orders/${outOrderNo}/settle`).send({ result: 'paid', notify: false }),
      );
      await documented(h.sandbox.post('/sandbox/douyin/trade/request-order').send({ data, byteAuthorization }));
      await documented(h.sandbox.post(`/sandbox/douyin/orders/${outOrderNo}/settle`).send({ result: 'closed' }));

      // Its callbacks: a verified one about nothing of ours is acknowledged; an unsigned one refused.
      const body = JSON.stringify({
        version: '2.0',
        type: 'settle',
        msg: JSON.stringify({ app_id: DEVELOPMENT_SECRETS.douyinAppId, status: 'SUCCESS', out_order_no: outOrderNo }),
      });
      const signed = signCallback(body, keys.platformPrivateKey, Date.now() / 1000);
      const taken = await documented(
        h.api.post('/api/douyin/trade/notify').set('content-type', 'application/json').set(signed).send(body),
      );
      expect(taken.body).toEqual({ err_no: 0, err_tips: 'success' });
      const unsigned = await documented(
        h.api.post('/api/douyin/trade/notify').set('content-type', 'application/json').send(body),
      );
      expect(unsigned.status).toBe(401);

      // 担保支付's orders, made by the server's own adapter (TT_PAYMENT_PROVIDER=guaranteed), paid and settled.
      const database = await STORAGES[0].open();
      const g = await startHarness(database.db, { env: { TT_PAYMENT_PROVIDER: 'guaranteed' } });
      try {
        const keys = (await g.sandbox.get('/sandbox/douyin/keys').expect(200)).body as { token: string };
        const orderOfShopper = async () => {
          const minted = await g.sandbox.post('/sandbox/douyin/codes').send({}).expect(201);
          const session = await g.api
            .post('/api/session')
            .send({ platform: 'tt', code: minted.body.code, anonymousCode: minted.body.anonymousCode })
            .expect(200);
          const order = await g.createOrder(session.body.token);
          const paid = await documented(
            g.api.post(`/api/orders/${order.orderNo}/pay`).set(auth(session.body.token)).send({ platform: 'tt' }),
          );
          const { rows } = await g.services.database.query<{ bill_no: string }>(
            'SELECT bill_no FROM bills WHERE order_no = $1',
            [order.orderNo],
          );
          return { billNo: rows[0].bill_no, amount: order.amount, orderInfo: paid.body.orderInfo };
        };
        const paidByShopper = await orderOfShopper();
        const { order_id, order_token } = paidByShopper.orderInfo as { order_id: string; order_token: string };
        await documented(g.sandbox.post('/sandbox/douyin/guaranteed/pay').send({ order_id, order_token: 'x' }));
        await documented(g.sandbox.post('/sandbox/douyin/guaranteed/pay').send({ order_id: '1', order_token }));
        await documented(g.sandbox.post('/sandbox/douyin/guaranteed/pay').send({ order_id }));
        await documented(g.sandbox.post('/sandbox/douyin/guaranteed/pay').send({ order_id, order_token }));
        await documented(g.sandbox.post('/sandbox/douyin/guaranteed/pay').send({ order_id, order_token }));

        // A refund of that order held at Douyin, then failed through the control.
        await documented(g.sandbox.post('/sandbox/douyin/refunds/hold').send({ count: 2 }));
        await documented(g.sandbox.post('/sandbox/douyin/refunds/hold').send({ count: 0 }));
        await documented(g.sandbox.delete('/sandbox/douyin/refunds/hold'));
        await g.sandbox.post('/sandbox/douyin/refunds/hold').send({ count: 1 }).expect(201);
        await eventually(
          async () =>
            (await g.services.database.query('SELECT 1 FROM payments WHERE bill_no = $1', [paidByShopper.billNo])).rows,
          (rows) => rows.length === 1,
        );
        const { rows: paidOrders } = await g.services.database.query<{ order_no: string }>(
          'SELECT order_no FROM bills WHERE bill_no = $1',
          [paidByShopper.billNo],
        );
        const asked = await g.api
          .post(`/api/merchant/orders/${paidOrders[0].order_no}/refunds`)
          .set(merchant)
          .set('idempotency-key', 'openapi-douyin-held-refund')
          .send({ amount: 100 })
          .expect(201);
        const refundNo = asked.body.refund.refundNo as string;
        await eventually(
          async () => (await documented(g.sandbox.get('/sandbox/douyin/refunds'))).body.refunds as unknown[],
          (refunds) => refunds.length === 1,
        );
        await documented(
          g.sandbox.post(`/sandbox/douyin/refunds/${refundNo}/settle`).send({ result: 'failed', notify: false }),
        );
        await documented(g.sandbox.post(`/sandbox/douyin/refunds/${refundNo}/settle`).send({ result: 'succeeded' }));
        await documented(g.sandbox.post('/sandbox/douyin/refunds/NOSUCHREFUND/settle').send({ result: 'failed' }));
        await documented(g.sandbox.post('/sandbox/douyin/refunds/NOSUCHREFUND/settle').send({ result: 'closed' }));

        const settled = await orderOfShopper();
        await documented(
          g.sandbox.post(`/sandbox/douyin/orders/${settled.billNo}/settle`).send({ result: 'paid', notify: false }),
        );
        await documented(g.sandbox.post(`/sandbox/douyin/orders/${settled.billNo}/settle`).send({ result: 'closed' }));
        await documented(g.sandbox.get('/sandbox/douyin/orders'));

        const msg = JSON.stringify({
          appid: 'ttsandbox00000001',
          cp_orderno: settled.billNo,
          total_amount: settled.amount,
          status: 'SUCCESS',
          order_id: '7000000000000000002',
        });
        const timestamp = String(Math.floor(Date.now() / 1000));
        const signed = (token: string) =>
          JSON.stringify({
            timestamp,
            nonce: '1234',
            msg,
            type: 'payment',
            msg_signature: createHash('sha1').update([token, timestamp, '1234', msg].sort().join('')).digest('hex'),
          });
        const notify = (body: string) =>
          documented(g.api.post('/api/douyin/ecpay/notify').set('content-type', 'application/json').send(body));
        expect((await notify(signed(keys.token))).status).toBe(200);
        expect((await notify(signed('not-the-token'))).status).toBe(401);
        expect((await notify('{')).status).toBe(400);
      } finally {
        await g.close();
        await database.dispose();
      }
    });

    it("should document the answers of the WeChat Pay sandbox's controls around a payment and refunds made by our WeChat Pay client", async () => {
      const receiver = await startNotifyReceiver();
      try {
        const control = '/sandbox/wechatpay';
        const keys = await documented(h.sandbox.get(`${control}/keys`));
        const client = new WechatPayClient({
          ...clientOptionsFromSandboxKeys(h.services.sandboxUrl!, keys.body),
          certificateDownloadIntervalMs: 0,
          timeoutMs: 5000,
        });
        const prepay = (outTradeNo: string, expiresAt = Date.now() + 15 * 60 * 1000) =>
          client.prepayJsapi({
            outTradeNo,
            description: 'Ceramic mug',
            amount: 1999,
            openid: 'oOpenApiPayer0001',
            notifyUrl: receiver.url,
            expiresAt,
          });
        const paid = newOutTradeNo('OA');
        const closed = newOutTradeNo('OA');
        const expired = newOutTradeNo('OA');
        await prepay(paid);
        await prepay(closed);
        await prepay(expired, Date.now() - 60_000);

        const listed = await documented(h.sandbox.get(`${control}/transactions`).query({ out_trade_no: paid }));
        expect(listed.body.transactions).toEqual([
          expect.objectContaining({ out_trade_no: paid, trade_state: 'NOTPAY', transaction_id: null }),
        ]);
        const settled = await documented(
          h.sandbox.post(`${control}/transactions/${paid}/settle`).send({ result: 'paid' }),
        );
        expect(settled.body).toMatchObject({
          transaction: { out_trade_no: paid, trade_state: 'SUCCESS' },
          notifying: true,
        });
        await documented(h.sandbox.post(`${control}/transactions/${paid}/settle`).send({ result: 'closed' }));
        await documented(h.sandbox.post(`${control}/transactions/${paid}/settle`).send({ result: 'maybe' }));
        await documented(h.sandbox.post(`${control}/transactions/${closed}/settle`).send({ result: 'closed' }));
        await documented(h.sandbox.post(`${control}/transactions/${closed}/settle`).send({ result: 'paid' }));
        await documented(h.sandbox.post(`${control}/transactions/${expired}/settle`).send({ result: 'paid' }));
        await documented(h.sandbox.post(`${control}/transactions/NOSUCHORDER1/settle`).send({ result: 'paid' }));
        expect(await client.queryTransaction(paid)).toMatchObject({ tradeState: 'SUCCESS' });
        await eventually(
          () => documented(h.sandbox.get(`${control}/transactions/${paid}/deliveries`)),
          (response) => response.body.deliveries.some((attempt: { ok: boolean }) => attempt.ok),
        );
        await documented(h.sandbox.get(`${control}/transactions/NOSUCHORDER1/deliveries`));
        await documented(h.sandbox.get(`${control}/transactions`));

        // A held refund, finished by hand; then one that succeeds by itself.
        await documented(h.sandbox.post(`${control}/refunds/hold`).send({ count: 1 }));
        await documented(h.sandbox.post(`${control}/refunds/hold`).send({ count: 0 }));
        const held = await client.createRefund({
          outTradeNo: paid,
          outRefundNo: `${paid}R1`,
          refund: 500,
          total: 1999,
          notifyUrl: receiver.url,
        });
        expect(held.status).toBe('PROCESSING');
        await documented(h.sandbox.delete(`${control}/refunds/hold`));
        const refunds = await documented(h.sandbox.get(`${control}/refunds`).query({ out_trade_no: paid }));
        expect(refunds.body.refunds).toEqual([
          expect.objectContaining({ out_refund_no: `${paid}R1`, status: 'PROCESSING' }),
        ]);
        const finished = await documented(
          h.sandbox.post(`${control}/refunds/${paid}R1/settle`).send({ result: 'abnormal' }),
        );
        expect(finished.body).toMatchObject({ refund: { status: 'ABNORMAL' }, notifying: true });
        await documented(h.sandbox.post(`${control}/refunds/${paid}R1/settle`).send({ result: 'success' }));
        await documented(h.sandbox.post(`${control}/refunds/${paid}R1/settle`).send({}));
        await documented(h.sandbox.post(`${control}/refunds/NOSUCHREFUND1/settle`).send({ result: 'success' }));
        await eventually(
          () => documented(h.sandbox.get(`${control}/refunds/${paid}R1/deliveries`)),
          (response) => response.body.deliveries.some((attempt: { ok: boolean }) => attempt.ok),
        );
        await documented(h.sandbox.get(`${control}/refunds/NOSUCHREFUND1/deliveries`));
        await client.createRefund({ outTradeNo: paid, outRefundNo: `${paid}R2`, refund: 100, total: 1999 });
        const succeeded = await eventually(
          () => documented(h.sandbox.get(`${control}/refunds`)),
          (response) =>
            response.body.refunds.some(
              (refund: { out_refund_no: string; status: string }) =>
                refund.out_refund_no === `${paid}R2` && refund.status === 'SUCCESS',
            ),
        );
        expect(succeeded.body.refunds).toContainEqual(
          expect.objectContaining({ out_refund_no: `${paid}R2`, success_time: expect.any(String) }),
        );

        // Rotation and the signing mode: the client still verifies every answer.
        const rotated = await documented(h.sandbox.post(`${control}/certificates/rotate`).send({}));
        expect(rotated.body).toEqual({
          serialNo: expect.any(String),
          previousSerialNo: keys.body.certificates[0].serialNo,
          served: [keys.body.certificates[0].serialNo, rotated.body.serialNo],
        });
        await documented(h.sandbox.post(`${control}/certificates/rotate`).send({ serial: 'x' }));
        expect(await client.queryTransaction(paid)).toMatchObject({ tradeState: 'REFUND' });
        const publicKeyMode = await documented(h.sandbox.post(`${control}/mode`).send({ mode: 'public_key' }));
        expect(publicKeyMode.body).toEqual({ mode: 'public_key', serial: keys.body.platformPublicKeyId });
        expect(await client.queryTransaction(paid)).toMatchObject({ tradeState: 'REFUND' });
        await documented(h.sandbox.post(`${control}/mode`).send({ mode: 'rsa' }));
        const certificateMode = await documented(h.sandbox.post(`${control}/mode`).send({ mode: 'certificate' }));
        expect(certificateMode.body).toEqual({ mode: 'certificate', serial: rotated.body.serialNo });
        await documented(h.sandbox.get(`${control}/keys`));

        // Faults: one answered by the next query, the rest dropped.
        const injected = await documented(
          h.sandbox.post(`${control}/faults`).send({ operation: 'query', http_status: 503, count: 2 }),
        );
        expect(injected.body.fault).toMatchObject({ code: 'SYSTEM_ERROR', count: 2, signed: true, after: false });
        await expect(client.queryTransaction(paid)).rejects.toThrow(/503/);
        await documented(h.sandbox.post(`${control}/faults`).send({ http_status: 200 }));
        const cleared = await documented(h.sandbox.delete(`${control}/faults`));
        expect(cleared.body).toEqual({ cleared: 1 });
        expect(await client.queryTransaction(paid)).toMatchObject({ tradeState: 'REFUND' });
      } finally {
        await receiver.close();
      }
    });

    it("should document the answers of WeChat Pay's notifications of a mini-program payment taken at WeChat Pay", async () => {
      const database = await STORAGES[0].open();
      const w = await startHarness(database.db, { env: { WEAPP_PAYMENT_PROVIDER: 'wechatpay' } });
      try {
        const { token } = await w.login();
        const order = await w.createOrder(token);
        await documented(w.api.post(`/api/orders/${order.orderNo}/pay`).set(auth(token)).send({ platform: 'weapp' }));
        const { rows } = await w.services.database.query<{ bill_no: string }>(
          'SELECT bill_no FROM bills WHERE order_no = $1',
          [order.orderNo],
        );
        await w.sandbox
          .post(`/sandbox/wechatpay/transactions/${rows[0].bill_no}/settle`)
          .send({ result: 'paid' })
          .expect(200);
        const deliveries = await eventually(
          async () =>
            (await w.sandbox.get(`/sandbox/wechatpay/transactions/${rows[0].bill_no}/deliveries`).expect(200)).body
              .deliveries as Array<{ status: number; body: string; ok: boolean }>,
          (attempts) => attempts.some((attempt) => attempt.ok),
        );
        for (const attempt of deliveries) {
          checkAnswer('POST', '/api/wechatpay/notify', attempt.status, undefined, attempt.body, undefined);
        }
        expect(deliveries.map((attempt) => attempt.status)).toContain(204);
        const unsigned = await documented(
          w.api.post('/api/wechatpay/notify').set('content-type', 'application/json').send('{"id":"x"}'),
        );
        expect(unsigned.status).toBe(401);
        await documented(
          w.api.post('/api/wechatpay/notify').set('content-type', 'text/plain; charset=klingon').send('x'),
        );
      } finally {
        await w.close();
        await database.dispose();
      }
    });

    describe('failures any request can get, sent to every documented operation', () => {
      /** Every documented operation: its method, its path with sample parameters, and where it is served. */
      function everyOperation(): Array<{ method: string; template: string; path: string; origin: string; app: Koa }> {
        return Object.entries(document.paths ?? {}).flatMap(([template, item]) =>
          HTTP_METHODS.filter((method) => item?.[method]).map((method) => {
            const sandbox = template.startsWith('/sandbox/');
            return {
              method: method.toUpperCase(),
              template,
              path: template.replace(/\{[^}]+\}/g, 'SAMPLE0000000001'),
              origin: sandbox ? h.services.sandboxUrl! : h.services.serverUrl,
              app: sandbox ? h.services.sandboxApp! : h.services.app,
            };
          }),
        );
      }

      /** Checks a raw answer against what the operation `method template` documents for its status. */
      function checkRaw(method: string, path: string, answer: RawAnswer): void {
        const type = answer.headers['content-type'];
        const json = type?.startsWith('application/json') ? JSON.parse(answer.body) : undefined;
        checkAnswer(method, path, answer.status, type, answer.body, json);
      }

      const send = (origin: string, lines: string[], body = '') =>
        sendRaw(origin, `${lines.join('\r\n')}\r\n\r\n${body}`);

      it("should answer what Node refuses, before any route is known, as each operation's document says", async () => {
        for (const { method, path, origin } of everyOperation()) {
          const line = `${method} ${path} HTTP/1.1`;
          const refusals: Array<[number, string[]]> = [
            [400, [line, 'Host: checkout', 'not a header line']],
            [431, [line, 'Host: checkout', `X-Padding: ${'a'.repeat(20 * 1024)}`]],
            [417, [line, 'Host: checkout', 'Expect: teapot', 'Content-Length: 0']],
            [405, [`CONNECT ${path} HTTP/1.1`, 'Host: checkout']],
          ];
          for (const [status, lines] of refusals) {
            const answer = await send(origin, lines);
            expect({ line: lines[0], status: answer.status }).toEqual({ line: lines[0], status });
            checkRaw(method, path, answer);
          }
        }
      });

      it("should answer a request too slow to arrive (408) as each operation's document says", async () => {
        for (const { method, path, app } of everyOperation()) {
          // Node raises ERR_HTTP_REQUEST_TIMEOUT from a timer; waiting for it would be a timed test.
          const server = createCheckoutServer();
          // eslint-disable-next-line @typescript-eslint/no-misused-promises -- Koa's callback never rejects
          server.on('request', app.callback());
          server.listen(0, '127.0.0.1');
          await once(server, 'listening');
          try {
            const accepted = once(server, 'connection') as Promise<[Socket]>;
            const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
            const [socket] = await accepted;
            const answer = readAnswer(client);
            client.write(`${method} ${path} HTTP/1.1\r\nHost: checkout\r\n`);
            server.emit(
              'clientError',
              Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }),
              socket,
            );
            const timedOut = await answer;
            expect(timedOut.status).toBe(408);
            checkRaw(method, path, timedOut);
          } finally {
            server.close();
          }
        }
      });

      it("should answer a method the path does not serve with 405 and Allow, as each operation's document says", async () => {
        const operations = everyOperation();
        for (const { method, template, path, origin } of operations) {
          const served = operations.filter((other) => other.template === template).map((other) => other.method);
          const unserved = ['PUT', 'PATCH', 'DELETE', 'POST', 'GET'].find((candidate) => !served.includes(candidate))!;
          const answer = await send(origin, [`${unserved} ${path} HTTP/1.1`, 'Host: checkout', 'Connection: close']);
          expect({ path, unserved, status: answer.status }).toEqual({ path, unserved, status: 405 });
          const allow = answer.headers.allow?.split(', ') ?? [];
          expect({ path, allow }).toEqual({ path, allow: expect.arrayContaining([...served, 'OPTIONS']) });
          const documentedAnswer = document.paths?.[template]?.[method.toLowerCase() as (typeof HTTP_METHODS)[number]]
            ?.responses?.['405'] as OpenAPIV3_1.ResponseObject | undefined;
          expect({ path, method, headers: Object.keys(documentedAnswer?.headers ?? {}) }).toEqual({
            path,
            method,
            headers: ['Allow'],
          });
          checkRaw(method, path, answer);
        }
      });

      it("should answer what the app refuses on any route (no Host, a body declared too large) as each operation's document says", async () => {
        for (const { method, path, origin } of everyOperation().filter(
          (operation) => operation.app === h.services.app,
        )) {
          const line = `${method} ${path} HTTP/1.1`;
          const refusals: Array<[number, string[]]> = [
            [400, [line, 'Connection: close']],
            [413, [line, 'Host: checkout', 'Content-Length: 100000', 'Connection: close']],
          ];
          for (const [status, lines] of refusals) {
            const answer = await send(origin, lines);
            expect({ line, status: answer.status }).toEqual({ line, status });
            checkRaw(method, path, answer);
          }
        }
      });
    });

    // Runs after the checkouts above (tests in a file run in order).
    it('should have seen every documented operation answer each of its successes', () => {
      const successes = Object.entries(document.paths ?? {}).flatMap(([path, item]) =>
        HTTP_METHODS.flatMap((method) =>
          Object.keys(item?.[method]?.responses ?? {})
            .filter((status) => status.startsWith('2'))
            .map((status) => `${method.toUpperCase()} ${path} ${status}`),
        ),
      );
      expect(successes.filter((success) => !seen.has(success))).toEqual([]);
    });
  });
});
