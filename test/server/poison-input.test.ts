import type { Queryable } from '../../server/adapters/storage/database';
import { DEVELOPMENT_SECRETS } from '../../server/config';
import { buildPaymentWebhook, GatewayWebhookMessage, signWebhook } from '../../server/sandbox/gateway/webhook-message';
import { CheckoutHarness, startHarness } from '../support/checkout-harness';
import { STORAGES, TestDatabase } from '../support/databases';
import { sendRaw as sendRawRequest } from '../support/raw-http';

/**
 * Input PostgreSQL cannot store as JavaScript holds it — NUL, unpaired surrogates, deep nesting,
 * amounts beyond 32 bits — is either kept faithfully or refused with a 4xx: never a 5xx, and a
 * verified gateway message is always acknowledged (else the gateway retries it for 36 hours).
 */

const credentials = { appId: DEVELOPMENT_SECRETS.gatewayAppId, masterSecret: DEVELOPMENT_SECRETS.gatewayMasterSecret };
const API_KEY = 'merchant-key-for-tests-0123456789';
const merchantAuth = { authorization: `Bearer ${API_KEY}` };

/** `{"a":{"a":…1…}}`, `depth` objects deep, as JSON text (building it as a value would be as deep). */
function deepJson(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** The JSON text of `value` with `"@@name@@"` placeholders replaced by raw JSON text. */
function withRaw(value: unknown, raw: Record<string, string>): string {
  return JSON.stringify(value).replace(/"@@(\w+)@@"/g, (_match, name: string) => raw[name]);
}

/** How deep `{"a":{"a":…}}` goes before the innermost value. */
function depthOf(value: unknown): number {
  let depth = 0;
  for (let at = value; typeof at === 'object' && at !== null; at = (at as { a: unknown }).a) depth += 1;
  return depth;
}

/** A JSON value as sorted `[key, value]` lists: own keys only, `__proto__` included, in any order. */
function ownEntries(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(ownEntries);
  if (typeof value !== 'object' || value === null) return value;
  return Object.keys(value)
    .sort()
    .map((key) => [key, ownEntries((value as Record<string, unknown>)[key])]);
}

/** A stored message: jsonb, or a jsonb string holding the JSON text jsonb could not hold (README). */
const storedMessage = (value: unknown): Record<string, unknown> =>
  typeof value === 'string' ? JSON.parse(value) : (value as Record<string, unknown>);

describe.each(STORAGES)('poison input on $name', (storage) => {
  let database: TestDatabase;
  let h: CheckoutHarness;

  beforeAll(async () => {
    database = await storage.open();
    h = await startHarness(database.db, { env: { MERCHANT_API_KEY: API_KEY } });
  });

  afterAll(async () => {
    await h?.close();
    await database?.dispose();
  });

  const db = (): Queryable => h.services.database;

  async function openBill() {
    const { token } = await h.login();
    const order = await h.createOrder(token);
    await h.pay(token, order.orderNo).expect(200);
    const [bill] = await h.billsOf(order.orderNo);
    return { token, order, bill };
  }

  const signedPayment = (billNo: string, fee: number) =>
    buildPaymentWebhook({ ...credentials, billNo, channel: 'WX_MINI', totalFee: fee, outcome: 'paid' });

  const sendRaw = (raw: string) => h.api.post('/api/gateway/webhook').set('content-type', 'application/json').send(raw);

  async function paymentsOf(orderNo: string) {
    const { rows } = await db().query<{
      disposition: string;
      amount: number;
      gateway_trade_no: string | null;
      detail: unknown;
    }>('SELECT disposition, amount, gateway_trade_no, detail FROM payments WHERE order_no = $1 ORDER BY id', [orderNo]);
    return rows;
  }

  async function unmatched(transactionId: string) {
    const { rows } = await db().query<{ transaction_type: string; amount: number; reason: string; body: unknown }>(
      'SELECT transaction_type, amount, reason, body FROM unmatched_gateway_messages WHERE transaction_id = $1',
      [transactionId],
    );
    return rows;
  }

  describe('a verified gateway message', () => {
    it.each<[string, (message: GatewayWebhookMessage) => string]>([
      [
        'NUL in message_detail',
        (m) => JSON.stringify({ ...m, message_detail: { ...m.message_detail, attach: 'a\u0000b' } }),
      ],
      [
        'NUL in optional, in a value and a key',
        (m) => JSON.stringify({ ...m, optional: { note: 'a\u0000b', ['k\u0000']: 1 } }),
      ],
      [
        'a lone surrogate (escaped in the JSON) in message_detail and optional',
        (m) =>
          withRaw(
            { ...m, message_detail: { ...m.message_detail, body: '@@high@@' }, optional: { x: '@@low@@' } },
            {
              high: '"x\\ud800"',
              low: '"\\udc00y"',
            },
          ),
      ],
      [
        'unsigned fields of unexpected shapes',
        (m) =>
          JSON.stringify({
            ...m,
            message_detail: ['not', 'an', 'object'],
            trade_success: 'yes',
            sub_channel_type: 7,
            timestamp: {},
          }),
      ],
    ])('with %s is answered success, the payment recorded and the message kept as sent', async (_what, craft) => {
      const { token, order, bill } = await openBill();
      const raw = craft(signedPayment(bill.bill_no, order.amount));
      await sendRaw(raw).expect(200, 'success');
      await sendRaw(raw).expect(200, 'success');
      expect((await h.status(token, order.orderNo)).status).toBe('paid');
      const payments = await paymentsOf(order.orderNo);
      expect(payments).toEqual([expect.objectContaining({ disposition: 'applied', amount: order.amount })]);
      expect(storedMessage(payments[0].detail)).toEqual(JSON.parse(raw));
    });

    it.each<[string, (message: GatewayWebhookMessage) => string]>([
      [
        '__proto__ in message_detail',
        (m) =>
          withRaw({ ...m, message_detail: '@@d@@' }, { d: '{"__proto__":{"isAdmin":true},"transaction_id":"4200"}' }),
      ],
      [
        '__proto__ at the top',
        (m) => withRaw(m, {}).replace(/^\{/, '{"__proto__":{"transaction_type":"REFUND","isAdmin":true},'),
      ],
      [
        'constructor.prototype in optional',
        (m) => withRaw({ ...m, optional: '@@o@@' }, { o: '{"constructor":{"prototype":{"isAdmin":true}}}' }),
      ],
    ])('with %s, sent as application/json, is answered success and kept as sent', async (_what, craft) => {
      const { token, order, bill } = await openBill();
      const raw = craft(signedPayment(bill.bill_no, order.amount));
      await sendRaw(raw).expect(200, 'success');
      await sendRaw(raw).expect(200, 'success');
      expect((await h.status(token, order.orderNo)).status).toBe('paid');
      const payments = await paymentsOf(order.orderNo);
      expect(payments).toEqual([expect.objectContaining({ disposition: 'applied', amount: order.amount })]);
      // JSON.parse makes `__proto__` an own key, and PostgreSQL keeps it so: compare own keys.
      expect(ownEntries(storedMessage(payments[0].detail))).toEqual(ownEntries(JSON.parse(raw)));
      expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    });

    it.each([
      'application/octet-stream',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'none',
    ])('sent as %s is read as text and answered success', async (type) => {
      const { token, order, bill } = await openBill();
      const raw = JSON.stringify(signedPayment(bill.bill_no, order.amount));
      const lines = ['POST /api/gateway/webhook HTTP/1.1', 'Host: checkout', 'Connection: close'];
      lines.push(`Content-Length: ${Buffer.byteLength(raw)}`);
      if (type !== 'none') lines.push(`Content-Type: ${type}`);
      const answer = await sendRawRequest(h.services.serverUrl, `${lines.join('\r\n')}\r\n\r\n${raw}`);
      expect(answer).toMatchObject({ status: 200, body: 'success' });
      expect((await h.status(token, order.orderNo)).status).toBe('paid');
    });

    it('with message_detail nested 5,000 deep is answered success and kept whole', async () => {
      const { token, order, bill } = await openBill();
      const raw = withRaw(
        { ...signedPayment(bill.bill_no, order.amount), message_detail: '@@deep@@' },
        { deep: deepJson(5000) },
      );
      await sendRaw(raw).expect(200, 'success');
      expect((await h.status(token, order.orderNo)).status).toBe('paid');
      const [payment] = await paymentsOf(order.orderNo);
      expect(payment.disposition).toBe('applied');
      expect(depthOf(storedMessage(payment.detail).message_detail)).toBe(5000);
    });

    it('with NUL in the channel trade number (unsigned) records the payment with the number escaped', async () => {
      const { token, order, bill } = await openBill();
      const message = signedPayment(bill.bill_no, order.amount);
      const raw = JSON.stringify({
        ...message,
        message_detail: { ...message.message_detail, transaction_id: '4200\u00001' },
      });
      await sendRaw(raw).expect(200, 'success');
      expect((await h.status(token, order.orderNo)).status).toBe('paid');
      expect(await paymentsOf(order.orderNo)).toEqual([
        expect.objectContaining({ disposition: 'applied', gateway_trade_no: '4200\\u00001' }),
      ]);
    });

    it.each([
      ['transaction_id', { transaction_id: 'B2026\u0000X', transaction_type: 'PAY' }, 'B2026\\u0000X'],
      ['transaction_id', { transaction_id: 'B2026\ud800Y', transaction_type: 'PAY' }, 'B2026\\ud800Y'],
      ['transaction_type', { transaction_id: 'B2026NULTYPE', transaction_type: 'PAY\u0000' }, 'B2026NULTYPE'],
    ])('whose signed %s cannot be stored is answered success and kept for review', async (_field, signed, storedId) => {
      const { signature: _signature, ...fields } = signedPayment('B00000000000000000000000', 100);
      const message = signWebhook(credentials, {
        ...fields,
        ...(signed as { transaction_id: string; transaction_type: 'PAY' }),
      });
      await sendRaw(JSON.stringify(message)).expect(200, 'success');
      await sendRaw(JSON.stringify(message)).expect(200, 'success');
      const rows = await unmatched(storedId);
      expect(rows).toEqual([expect.objectContaining({ amount: 100, reason: expect.stringContaining('NUL') })]);
      expect(storedMessage(rows[0].body)).toEqual(message);
    });

    /** Text that compresses badly: far beyond what one index entry can hold. */
    const incompressible = (length: number, seed: number) =>
      Array.from({ length }, (_, index) => String.fromCharCode(0x4e00 + ((index * 7919 + seed) % 20_000))).join('');

    it.each([
      ['REFUND, transaction_id of 15,000 characters', 'REFUND', incompressible(15_000, 1)],
      ['TRANSFER, transaction_id of 15,000 characters', 'TRANSFER', incompressible(15_000, 2)],
      ['transaction_type of 10,000 characters', incompressible(10_000, 3), 'T2026LONGTYPE'],
    ])('with a signed %s is answered success and kept', async (_what, type, id) => {
      const { signature: _signature, ...fields } = signedPayment('B00000000000000000000000', 100);
      const message = signWebhook(credentials, { ...fields, transaction_type: type as 'REFUND', transaction_id: id });
      await sendRaw(JSON.stringify(message)).expect(200, 'success');
      await sendRaw(JSON.stringify(message)).expect(200, 'success');
      const { rows } = await db().query<{ transaction_type: string; transaction_id: string; body: unknown }>(
        'SELECT transaction_type, transaction_id, body FROM unmatched_gateway_messages WHERE transaction_id LIKE $1',
        [`${id.slice(0, 200)}%`],
      );
      expect(rows).toHaveLength(1);
      expect(`${rows[0].transaction_type} ${rows[0].transaction_id}`).toMatch(/…sha256:[0-9a-f]{64}/);
      expect(storedMessage(rows[0].body)).toEqual(message);
    });

    it('for a refund we never made, with NUL in optional, is answered success and kept', async () => {
      const { signature: _signature, ...fields } = signedPayment('B00000000000000000000000', 100);
      const message = signWebhook(credentials, {
        ...fields,
        transaction_type: 'REFUND',
        transaction_id: '20260101RNOSUCHREFUND01',
        optional: { note: 'a\u0000b' },
      });
      await sendRaw(JSON.stringify(message)).expect(200, 'success');
      const rows = await unmatched('20260101RNOSUCHREFUND01');
      expect(rows).toEqual([expect.objectContaining({ transaction_type: 'REFUND', amount: 100 })]);
      expect(storedMessage(rows[0].body)).toEqual(message);
    });

    it.each([2_147_483_648, 2 ** 40])(
      'with fee %d for a bill of another amount is kept as amount_mismatch',
      async (fee) => {
        const { token, order, bill } = await openBill();
        await sendRaw(JSON.stringify(signedPayment(bill.bill_no, fee))).expect(200, 'success');
        expect((await h.status(token, order.orderNo)).status).toBe('pending');
        expect(await paymentsOf(order.orderNo)).toEqual([
          expect.objectContaining({ disposition: 'amount_mismatch', amount: fee }),
        ]);
      },
    );

    it.each([2_147_483_648, 2 ** 40])('with fee %d for an order of that amount pays it', async (fee) => {
      const { token, order, bill } = await openBill();
      // The catalogue caps an order far lower; the columns must still hold whatever a bill can be.
      await db().query('UPDATE orders SET amount = $2 WHERE order_no = $1', [order.orderNo, fee]);
      await db().query('UPDATE bills SET amount = $2 WHERE bill_no = $1', [bill.bill_no, fee]);
      await sendRaw(JSON.stringify(signedPayment(bill.bill_no, fee))).expect(200, 'success');
      expect((await h.status(token, order.orderNo)).status).toBe('paid');
      expect(await paymentsOf(order.orderNo)).toEqual([
        expect.objectContaining({ disposition: 'applied', amount: fee }),
      ]);
      const lookup = await h.api.get(`/api/merchant/orders/${order.orderNo}`).set(merchantAuth).expect(200);
      expect(lookup.body.order).toMatchObject({ amount: fee, status: 'paid' });
    });
  });

  it('keeps every money column as int8', async () => {
    const { rows } = await db().query<{ table_name: string; column_name: string; data_type: string }>(
      `SELECT table_name, column_name, data_type FROM information_schema.columns
       WHERE table_schema = current_schema() AND column_name LIKE '%amount%'`,
    );
    expect(rows.length).toBeGreaterThanOrEqual(6);
    expect(rows.filter((row) => row.data_type !== 'bigint')).toEqual([]);
  });

  it('keeps a payment learned by query whose detail jsonb cannot hold', async () => {
    const { token, order, bill } = await openBill();
    const detail = { trade_state: 'SUCCESS', note: 'a\u0000b', lone: '\udc00', deep: JSON.parse(deepJson(5000)) };
    await h.services.verdicts.recordPayment({
      billNo: bill.bill_no,
      provider: 'gateway',
      amount: order.amount,
      source: 'query',
      tradeNo: 'T\u0000',
      detail,
    });
    expect((await h.status(token, order.orderNo)).status).toBe('paid');
    const [payment] = await paymentsOf(order.orderNo);
    expect(payment).toMatchObject({ disposition: 'applied', gateway_trade_no: 'T\\u0000' });
    const stored = storedMessage(payment.detail);
    expect(depthOf(stored.deep)).toBe(5000);
    expect({ ...stored, deep: undefined }).toEqual({ ...detail, deep: undefined });
  });

  describe('the merchant API', () => {
    const checkout = { items: [{ sku: 'ceramic-mug', quantity: 1 }], appUserId: 'u1' };
    const postRaw = (raw: string) =>
      h.api.post('/api/merchant/checkouts').set(merchantAuth).set('content-type', 'application/json').send(raw);

    it.each<[string, string, string]>([
      ['NUL in appUserId', JSON.stringify({ ...checkout, appUserId: 'u\u00001' }), 'body.appUserId'],
      ['NUL in an attach value', JSON.stringify({ ...checkout, attach: { cart: 'x\u0000' } }), 'body.attach.cart'],
      ['NUL in an attach key', JSON.stringify({ ...checkout, attach: { ['c\u0000']: 1 } }), 'body.attach'],
      [
        'a lone surrogate in attach',
        withRaw({ ...checkout, attach: { cart: '@@s@@' } }, { s: '"\\ud800"' }),
        'body.attach.cart',
      ],
      [
        'a lone surrogate in appUserId',
        withRaw({ ...checkout, appUserId: '@@s@@' }, { s: '"u\\udfff"' }),
        'body.appUserId',
      ],
      [
        'NUL in a sku',
        JSON.stringify({ ...checkout, items: [{ sku: 'ceramic\u0000', quantity: 1 }] }),
        'body.items.0.sku',
      ],
      [
        'attach nested 5,000 deep',
        withRaw({ ...checkout, attach: '@@deep@@' }, { deep: deepJson(5000) }),
        'body.attach',
      ],
    ])('should refuse a checkout with %s: 400 VALIDATION_FAILED naming the field', async (_what, raw, field) => {
      const response = await postRaw(raw).expect(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
      expect(response.body.error.message.startsWith(`${field}`)).toBe(true);
    });

    it('should keep a checkout whose text is merely unusual (emoji, a surrogate pair, CJK) exactly', async () => {
      const attach = { note: '😀 支付 \u00ff', nested: { list: [1, 'two', null] } };
      const created = await postRaw(JSON.stringify({ ...checkout, appUserId: 'u-😀', attach })).expect(201);
      const lookup = await h.api.get(`/api/merchant/orders/${created.body.orderNo}`).set(merchantAuth).expect(200);
      expect(lookup.body.order).toMatchObject({ appUserId: 'u-😀', attach });
    });

    it.each([
      ['NUL', JSON.stringify({ amount: 1, reason: 'a\u0000b' })],
      ['a lone surrogate', withRaw({ amount: 1, reason: '@@s@@' }, { s: '"a\\ud800"' })],
    ])('should refuse a refund reason with %s: 400 VALIDATION_FAILED', async (_what, raw) => {
      const response = await h.api
        .post('/api/merchant/orders/NOSUCHORDER000000000001/refunds')
        .set(merchantAuth)
        .set('idempotency-key', 'poison-1')
        .set('content-type', 'application/json')
        .send(raw)
        .expect(400);
      expect(response.body.error).toMatchObject({
        code: 'VALIDATION_FAILED',
        message: expect.stringMatching(/^body\.reason/),
      });
    });

    it('should refuse a query parameter with NUL: 400 VALIDATION_FAILED', async () => {
      const response = await h.api
        .get('/api/merchant/payments?disposition=refunded&limit=1%00')
        .set(merchantAuth)
        .expect(400);
      expect(response.body.error).toMatchObject({
        code: 'VALIDATION_FAILED',
        message: expect.stringMatching(/^query\.limit/),
      });
    });
  });

  describe('the shopper API', () => {
    it.each([
      ['NUL in a WeChat login code', { platform: 'weapp', code: 'abc\u0000' }, 'body.code'],
      [
        'NUL in a Douyin anonymous code',
        { platform: 'tt', code: 'abc', anonymousCode: 'x\u0000' },
        'body.anonymousCode',
      ],
    ])('should refuse a session with %s: 400 VALIDATION_FAILED', async (_what, body, field) => {
      const response = await h.api.post('/api/session').send(body).expect(400);
      expect(response.body.error).toMatchObject({
        code: 'VALIDATION_FAILED',
        message: expect.stringMatching(`^${field}`),
      });
    });

    it.each([
      ['an unused query parameter with NUL', '/api/catalog?x=%00', 'query.x'],
      ['a query key with NUL', '/api/catalog?a%00=1', 'query'],
      ['an unused query parameter on the merchant API', '/api/merchant/orders/NOSUCHORDER01?x=a%00', 'query.x'],
    ])('should refuse %s: 400 VALIDATION_FAILED', async (_what, path, field) => {
      const response = await h.api.get(path).set(merchantAuth).expect(400);
      expect(response.body.error).toMatchObject({
        code: 'VALIDATION_FAILED',
        message: expect.stringMatching(`^${field.replace(/\./g, '\\.')}`),
      });
    });

    it('should refuse a body with NUL on DELETE /api/session: 400 VALIDATION_FAILED', async () => {
      const { token } = await h.login();
      const response = await h.api
        .delete('/api/session')
        .set('authorization', `Bearer ${token}`)
        .set('content-type', 'application/json')
        .send('{"why":"a\\u0000"}')
        .expect(400);
      expect(response.body.error).toMatchObject({
        code: 'VALIDATION_FAILED',
        message: expect.stringMatching(/^body\.why/),
      });
      // Refused, so not logged out.
      await h.createOrder(token);
    });

    it('should refuse a body that is not JSON on DELETE /api/session: 400 VALIDATION_FAILED', async () => {
      const response = await h.api.delete('/api/session').set('content-type', 'text/plain').send('bye').expect(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
    });

    it('should refuse __proto__ in a shopper body: 400 VALIDATION_FAILED', async () => {
      const response = await h.api
        .post('/api/session')
        .set('content-type', 'application/json')
        .send('{"platform":"weapp","code":"abc","__proto__":{"x":1}}')
        .expect(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
    });

    it('should refuse a login code with a lone surrogate: 400 VALIDATION_FAILED', async () => {
      const response = await h.api
        .post('/api/session')
        .set('content-type', 'application/json')
        .send('{"platform":"weapp","code":"abc\\ud800"}')
        .expect(400);
      expect(response.body.error).toMatchObject({
        code: 'VALIDATION_FAILED',
        message: expect.stringMatching(/^body\.code/),
      });
    });

    it.each([
      [
        '/api/orders',
        'NUL in a sku',
        JSON.stringify({ items: [{ sku: 'coffee\u0000', quantity: 1 }] }),
        'body.items.0.sku',
      ],
      [
        '/api/orders',
        'a field nested 5,000 deep',
        withRaw({ items: [{ sku: 'coffee-beans-250g', quantity: 1 }], extra: '@@deep@@' }, { deep: deepJson(5000) }),
        'body.extra',
      ],
      ['/api/checkouts/claim', 'NUL in the token', JSON.stringify({ token: `${'a'.repeat(20)}\u0000` }), 'body.token'],
    ])('should refuse %s with %s: 400 VALIDATION_FAILED', async (path, _what, raw, field) => {
      const { token } = await h.login();
      const response = await h.api
        .post(path)
        .set('authorization', `Bearer ${token}`)
        .set('content-type', 'application/json')
        .send(raw)
        .expect(400);
      expect(response.body.error).toMatchObject({
        code: 'VALIDATION_FAILED',
        message: expect.stringMatching(`^${field.replace(/\./g, '\\.')}`),
      });
    });
  });
});
