import { createSign, createVerify, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEVELOPMENT_SECRETS } from '../../server/config';
import type { DouyinPaySandboxKeys } from '../../server/sandbox/douyin-pay';
import { CheckoutHarness, eventually, startHarness } from '../support/checkout-harness';
import { STORAGES, TestDatabase } from '../support/databases';
import { logLines } from '../support/observability';
import {
  merchantRefund,
  settleDouyinOrder,
  startLoggedHarness,
  ttLogin,
  paymentsOf,
  expectRefusedForSignature,
} from '../support/provider-checkout';

/**
 * A Douyin mini-program checkout paid through Douyin's 通用交易系统 (TT_PAYMENT_PROVIDER=trade),
 * through our real server and the sandbox's 通用交易系统: the signed `tt.requestOrder` answer,
 * the order Douyin makes only at `tt.requestOrder`, signed callbacks (and forged ones), lost
 * callbacks found by query, a second Pay tap, refunds and the sweeper.
 */

const NOTIFY_PATH = '/api/douyin/trade/notify';

interface TradeData {
  skuList: Array<{ skuId: string; price: number; quantity: number; title: string; imageList: string[] }>;
  outOrderNo: string;
  totalAmount: number;
  payExpireSeconds: number;
  payNotifyUrl: string;
  orderEntrySchema: { path: string; params: string };
}

/** `byteAuthorization`'s parts and whether its signature verifies with `publicKey`: Douyin's rule, written out here. */
function checkByteAuthorization(value: string, data: string, publicKey: string) {
  const match =
    /^SHA256-RSA2048 appid=([^,]+),nonce_str=([^,]+),timestamp=(\d+),key_version=([^,]+),signature=(.+)$/.exec(value);
  if (!match) throw new Error(`not a byteAuthorization: ${value}`);
  const [, appid, nonce, timestamp, keyVersion, signature] = match;
  const verifies = createVerify('RSA-SHA256')
    .update(`POST\n/requestOrder\n${timestamp}\n${nonce}\n${data}\n`)
    .verify(publicKey, signature, 'base64');
  return { appid, timestamp: Number(timestamp), keyVersion, verifies };
}

/** A callback as Douyin sends it, signed with `signingKey` (the platform's unless forged). */
function callback(
  keys: DouyinPaySandboxKeys,
  msg: Record<string, unknown>,
  overrides: { timestampS?: number; signingKey?: string; tamper?: (body: string) => string; noHeaders?: boolean } = {},
) {
  const body = JSON.stringify({ version: '2.0', type: 'payment', msg: JSON.stringify(msg) });
  const timestamp = String(overrides.timestampS ?? Math.floor(Date.now() / 1000));
  const nonce = randomBytes(8).toString('hex');
  const signature = createSign('RSA-SHA256')
    .update(`${timestamp}\n${nonce}\n${body}\n`)
    .sign(overrides.signingKey ?? keys.platformPrivateKey, 'base64');
  return {
    body: overrides.tamper ? overrides.tamper(body) : body,
    headers: overrides.noHeaders
      ? { 'content-type': 'application/json' }
      : {
          'content-type': 'application/json',
          'byte-timestamp': timestamp,
          'byte-nonce-str': nonce,
          'byte-signature': signature,
        },
  };
}

describe.each(STORAGES)('Douyin 通用交易系统 checkout on $name', (storage) => {
  let database: TestDatabase;
  let h: CheckoutHarness;
  let keys: DouyinPaySandboxKeys;
  const written: string[] = [];

  beforeAll(async () => {
    database = await storage.open();
    h = await startLoggedHarness(database.db, { TT_PAYMENT_PROVIDER: 'trade' }, written);
    keys = (await h.sandbox.get('/sandbox/douyin/keys').expect(200)).body;
  });

  afterAll(async () => {
    await h?.close();
    await database?.dispose();
  });

  const auth = (token: string) => ({ authorization: `Bearer ${token}` });

  /** A shopper's order after tapping Pay: the `tt.requestOrder` parameters answered. */
  async function payingOrder() {
    const token = await ttLogin(h);
    const order = await h.createOrder(token);
    const paid = await h.api
      .post(`/api/orders/${order.orderNo}/pay`)
      .set(auth(token))
      .send({ platform: 'tt' })
      .expect(200);
    const requestOrder = paid.body.requestOrder as { data: string; byteAuthorization: string };
    return { token, order, requestOrder, data: JSON.parse(requestOrder.data) as TradeData };
  }

  /** What `tt.requestOrder` does inside Douyin. */
  function callRequestOrder(requestOrder: { data: string; byteAuthorization: string }) {
    return h.sandbox.post('/sandbox/douyin/trade/request-order').send(requestOrder);
  }

  const settle = (outOrderNo: string, result: 'paid' | 'closed', notify = true) =>
    settleDouyinOrder(h, outOrderNo, result, notify);

  it('should answer tt.requestOrder parameters signed with the app key, and be paid through the signed callback', async () => {
    const { token, order, requestOrder, data } = await payingOrder();
    expect(data).toEqual({
      skuList: [{ skuId: order.orderNo, price: order.amount, quantity: 1, title: expect.any(String), imageList: [] }],
      outOrderNo: expect.any(String),
      totalAmount: order.amount,
      payExpireSeconds: expect.any(Number),
      payNotifyUrl: expect.stringMatching(/\/api\/douyin\/trade\/notify$/),
      orderEntrySchema: { path: 'pages/checkout/index', params: JSON.stringify({ orderNo: order.orderNo }) },
    });
    expect(data.payExpireSeconds).toBeGreaterThan(0);
    expect(data.payExpireSeconds).toBeLessThanOrEqual(15 * 60);
    const signed = checkByteAuthorization(requestOrder.byteAuthorization, requestOrder.data, keys.appPublicKey);
    expect(signed).toEqual({
      appid: DEVELOPMENT_SECRETS.douyinAppId,
      timestamp: expect.any(Number),
      keyVersion: keys.keyVersion,
      verifies: true,
    });
    expect(Math.abs(signed.timestamp - Date.now() / 1000)).toBeLessThan(60);
    expect(
      checkByteAuthorization(requestOrder.byteAuthorization, `${requestOrder.data} `, keys.appPublicKey).verifies,
    ).toBe(false);

    // No order at Douyin until the client calls tt.requestOrder: a poll finds nothing to record.
    expect((await h.status(token, order.orderNo)).status).toBe('pending');
    const made = await callRequestOrder(requestOrder).expect(200);
    expect(made.body).toMatchObject({ orderId: expect.any(String), outOrderNo: data.outOrderNo });

    await settle(data.outOrderNo, 'paid').expect(200);
    await eventually(
      () => h.status(token, order.orderNo),
      (answer) => answer.status === 'paid',
    );
    expect(await paymentsOf(h.services.database, order.orderNo)).toEqual([
      expect.objectContaining({ bill_no: data.outOrderNo, source: 'webhook', disposition: 'applied' }),
    ]);
  });

  it('should refuse a callback with a wrong signature, a stale timestamp, a tampered body or no signature, log it, and leave the order unpaid', async () => {
    const { token, order, requestOrder, data } = await payingOrder();
    const made = await callRequestOrder(requestOrder).expect(200);
    const msg = {
      app_id: DEVELOPMENT_SECRETS.douyinAppId,
      status: 'SUCCESS',
      order_id: made.body.orderId,
      out_order_no: data.outOrderNo,
      total_amount: order.amount,
      discount_amount: 0,
      pay_channel: 10,
      channel_pay_id: '4200000000000000000000000001',
      cp_extra: '',
    };
    const forgeries: Array<[string, Parameters<typeof callback>[2]]> = [
      ['bad-signature', { signingKey: keys.appPrivateKey }],
      ['stale', { timestampS: Math.floor(Date.now() / 1000) - 600 }],
      ['tampered', { tamper: (body) => body.replace(`\\"total_amount\\":${order.amount}`, '\\"total_amount\\":1') }],
      ['no-headers', { noHeaders: true }],
    ];
    for (const [name, forged] of forgeries) {
      const message = callback(keys, msg, forged);
      if (name === 'tampered') expect(message.body).not.toBe(callback(keys, msg).body);
      const answer = await h.api
        .post(NOTIFY_PATH)
        .set(message.headers)
        .set('x-request-id', `tt-${name}`)
        .send(message.body);
      expect({ name, status: answer.status, body: answer.body }).toEqual({
        name,
        status: 401,
        body: { err_no: 1, err_tips: expect.stringMatching(/^WEBHOOK_SIGNATURE_INVALID: /) },
      });
      expectRefusedForSignature(written, `tt-${name}`);
    }
    expect((await h.status(token, order.orderNo)).status).toBe('pending');
    expect(await paymentsOf(h.services.database, order.orderNo)).toEqual([]);

    // The same message, untouched, is taken: what refused the others was the forgery.
    const genuine = callback(keys, msg);
    const taken = await h.api.post(NOTIFY_PATH).set(genuine.headers).send(genuine.body);
    expect({ status: taken.status, body: taken.body }).toEqual({
      status: 200,
      body: { err_no: 0, err_tips: 'success' },
    });
    expect(await paymentsOf(h.services.database, order.orderNo)).toHaveLength(1);
  });

  it('should find a payment whose callback was lost from the status poll, and from the sweeper', async () => {
    const polled = await payingOrder();
    const swept = await payingOrder();
    for (const paying of [polled, swept]) {
      await callRequestOrder(paying.requestOrder).expect(200);
      await settle(paying.data.outOrderNo, 'paid', false).expect(200);
    }
    h.advanceClock(60_000);
    await eventually(
      () => h.status(polled.token, polled.order.orderNo),
      (answer) => answer.status === 'paid',
    );
    await h.sweep();
    expect(await paymentsOf(h.services.database, swept.order.orderNo)).toEqual([
      expect.objectContaining({ bill_no: swept.data.outOrderNo, source: 'query', disposition: 'applied' }),
    ]);
  });

  it('should answer a second Pay tap with the same order signed afresh, whether or not tt.requestOrder was called', async () => {
    // Called: Douyin has the order; the second answer is the same order with a new signature.
    const first = await payingOrder();
    const made = await callRequestOrder(first.requestOrder).expect(200);
    h.advanceClock(2000);
    const again = await h.api
      .post(`/api/orders/${first.order.orderNo}/pay`)
      .set(auth(first.token))
      .send({ platform: 'tt' })
      .expect(200);
    const second = again.body.requestOrder as { data: string; byteAuthorization: string };
    const secondData = JSON.parse(second.data) as TradeData;
    expect(secondData.outOrderNo).toBe(first.data.outOrderNo);
    expect(secondData.payExpireSeconds).toBeLessThan(first.data.payExpireSeconds);
    expect(second.byteAuthorization).not.toBe(first.requestOrder.byteAuthorization);
    expect(checkByteAuthorization(second.byteAuthorization, second.data, keys.appPublicKey).verifies).toBe(true);
    const remade = await callRequestOrder(second).expect(200);
    expect(remade.body.orderId).toBe(made.body.orderId);
    await settle(secondData.outOrderNo, 'paid').expect(200);
    await eventually(
      () => h.status(first.token, first.order.orderNo),
      (answer) => answer.status === 'paid',
    );

    // Never called: Douyin has no such order yet, but the first parameters may still make it (a
    // slow tt.requestOrder, another device): the second tap gets the same order signed afresh, and
    // a payment made from the first parameters, its callback lost, is found.
    const unused = await payingOrder();
    h.advanceClock(2000);
    const retry = await h.api
      .post(`/api/orders/${unused.order.orderNo}/pay`)
      .set(auth(unused.token))
      .send({ platform: 'tt' })
      .expect(200);
    const retried = retry.body.requestOrder as { data: string; byteAuthorization: string };
    const retriedData = JSON.parse(retried.data) as TradeData;
    expect(retriedData.outOrderNo).toBe(unused.data.outOrderNo);
    expect(checkByteAuthorization(retried.byteAuthorization, retried.data, keys.appPublicKey).verifies).toBe(true);
    await callRequestOrder(unused.requestOrder).expect(200);
    await settle(unused.data.outOrderNo, 'paid', false).expect(200);
    h.advanceClock(60_000);
    await h.sweep();
    expect(await paymentsOf(h.services.database, unused.order.orderNo)).toEqual([
      expect.objectContaining({ bill_no: unused.data.outOrderNo, source: 'query', disposition: 'applied' }),
    ]);
    expect((await h.status(unused.token, unused.order.orderNo)).status).toBe('paid');
  });

  it('should refuse at tt.requestOrder a byteAuthorization that is stale or does not verify', async () => {
    const { requestOrder } = await payingOrder();
    const stale = requestOrder.byteAuthorization.replace(
      /timestamp=(\d+)/,
      (_m, t: string) => `timestamp=${Number(t) - 600}`,
    );
    const refused = await callRequestOrder({ ...requestOrder, byteAuthorization: stale }).expect(400);
    expect(refused.body.error).toMatchObject({
      code: 'SIGNATURE_INVALID',
      message: expect.stringMatching(/timestamp/),
    });
    const tampered = await callRequestOrder({
      ...requestOrder,
      data: requestOrder.data.replace('"quantity":1', '"quantity":2'),
    });
    expect(tampered.status).toBe(400);
    expect(tampered.body.error.code).toBe('SIGNATURE_INVALID');
  });

  it('should refund a paid order through refund_create and its callback', async () => {
    const { token, order, requestOrder, data } = await payingOrder();
    await callRequestOrder(requestOrder).expect(200);
    await settle(data.outOrderNo, 'paid').expect(200);
    await eventually(
      () => h.status(token, order.orderNo),
      (answer) => answer.status === 'paid',
    );
    await merchantRefund(h, order.orderNo, 100, `trade-refund-${order.orderNo}`).expect((response) =>
      expect([200, 201, 202]).toContain(response.status),
    );
    await eventually(
      async () => {
        await h.sweep();
        const { rows } = await h.services.database.query<{ status: string; amount: number }>(
          'SELECT status, amount FROM refunds WHERE order_no = $1',
          [order.orderNo],
        );
        return rows;
      },
      (rows) => rows.length === 1 && rows[0].status === 'succeeded',
    );
    expect((await h.status(token, order.orderNo)).refundedAmount).toBe(100);
  });

  it('should acknowledge the callback of an order Douyin closed unpaid without keeping it for review', async () => {
    const { token, order, requestOrder, data } = await payingOrder();
    await callRequestOrder(requestOrder).expect(200);
    await settle(data.outOrderNo, 'closed').expect(200);
    await eventually(
      () => Promise.resolve(logLines(written)),
      (lines) =>
        lines.some((line) => line.msg === 'provider says a bill closed unpaid' && line.billNo === data.outOrderNo),
    );
    const { rows } = await h.services.database.query(
      'SELECT 1 FROM unmatched_gateway_messages WHERE transaction_id = $1',
      [data.outOrderNo],
    );
    expect(rows).toEqual([]);
    expect((await h.status(token, order.orderNo)).status).toBe('pending');
  });

  // Last: it moves the server's clock past every order's deadline.
  it('should keep an order pending past its deadline while what was handed out may still make a Douyin order, find a payment made then, and expire it after', async () => {
    const late = await payingOrder();
    const never = await payingOrder();
    // Past the deadline, within the time a signed tt.requestOrder may still be taken: Douyin's
    // payExpireSeconds counts from that call, so an order made now could still be paid.
    h.advanceClock(16 * 60_000);
    await h.sweep();
    expect((await h.status(late.token, late.order.orderNo)).status).toBe('pending');
    expect((await h.status(never.token, never.order.orderNo)).status).toBe('pending');
    await callRequestOrder(late.requestOrder).expect(200);
    await settle(late.data.outOrderNo, 'paid', false).expect(200);
    await h.sweep();
    expect((await h.status(late.token, late.order.orderNo)).status).toBe('paid');
    expect(await paymentsOf(h.services.database, late.order.orderNo)).toEqual([
      expect.objectContaining({ bill_no: late.data.outOrderNo, source: 'query', disposition: 'applied' }),
    ]);

    // Once nothing handed out before the deadline can be paid, the order expires.
    h.advanceClock(10 * 60_000);
    await h.sweep();
    expect((await h.status(never.token, never.order.orderNo)).status).toBe('expired');
  });
});

describe('switching TT_PAYMENT_PROVIDER back to the cashier', () => {
  it('should still find a bill opened at the 通用交易系统 paid there after the switch back', async () => {
    const database = await STORAGES[0].open();
    const dataDir = mkdtempSync(join(tmpdir(), 'tt-trade-switch-'));
    const start = (env: Record<string, string>) =>
      startHarness(database.db, { env, sandbox: { dataDir }, settings: { gatewayCheckIntervalMs: 0 } });
    let h = await start({ TT_PAYMENT_PROVIDER: 'trade' });
    try {
      const minted = await h.sandbox.post('/sandbox/douyin/codes').send({}).expect(201);
      const session = await h.api
        .post('/api/session')
        .send({ platform: 'tt', code: minted.body.code, anonymousCode: minted.body.anonymousCode })
        .expect(200);
      const token = session.body.token as string;
      const order = await h.createOrder(token);
      const paid = await h.api
        .post(`/api/orders/${order.orderNo}/pay`)
        .set({ authorization: `Bearer ${token}` })
        .send({ platform: 'tt' })
        .expect(200);
      await h.sandbox.post('/sandbox/douyin/trade/request-order').send(paid.body.requestOrder).expect(200);
      const outOrderNo = (JSON.parse(paid.body.requestOrder.data) as { outOrderNo: string }).outOrderNo;
      const unpaid = await h.createOrder(token);
      const unpaidAnswer = await h.api
        .post(`/api/orders/${unpaid.orderNo}/pay`)
        .set({ authorization: `Bearer ${token}` })
        .send({ platform: 'tt' })
        .expect(200);
      await h.sandbox.post('/sandbox/douyin/trade/request-order').send(unpaidAnswer.body.requestOrder).expect(200);
      await h.close();

      h = await start({});
      expect(h.services.paymentRoutes.TT_MINI).toBeUndefined();
      await settleDouyinOrder(h, outOrderNo, 'paid', false).expect(200);
      h.advanceClock(30_000);
      await h.sweep();
      expect((await h.status(token, order.orderNo)).status).toBe('paid');
      const { rows } = await h.services.database.query<{ bill_no: string; source: string }>(
        'SELECT bill_no, source FROM payments WHERE order_no = $1',
        [order.orderNo],
      );
      expect(rows).toEqual([{ bill_no: outOrderNo, source: 'query' }]);

      // Paying again hands out the same 通用交易系统 order, signed afresh by the provider kept
      // (built on first use) to finish it.
      const again = await h.api
        .post(`/api/orders/${unpaid.orderNo}/pay`)
        .set({ authorization: `Bearer ${token}` })
        .send({ platform: 'tt' })
        .expect(200);
      expect(JSON.parse(again.body.requestOrder.data).outOrderNo).toBe(
        JSON.parse(unpaidAnswer.body.requestOrder.data).outOrderNo,
      );
      expect(again.body.requestOrder.byteAuthorization).not.toBe(unpaidAnswer.body.requestOrder.byteAuthorization);
      await h.sandbox.post('/sandbox/douyin/trade/request-order').send(again.body.requestOrder).expect(200);

      // The 通用交易系统 has no close operation: an unpaid order made there waits past its deadline
      // while Douyin may still take its payment, then expires all the same.
      h.advanceClock(16 * 60_000);
      await h.sweep();
      expect((await h.status(token, unpaid.orderNo)).status).toBe('pending');
      h.advanceClock(10 * 60_000);
      await h.sweep();
      expect((await h.status(token, unpaid.orderNo)).status).toBe('expired');
    } finally {
      await h.close();
      await database.dispose();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
