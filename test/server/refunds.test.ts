import { createHmac } from 'node:crypto';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Database } from '../../server/adapters/storage/database';
import { DEVELOPMENT_SECRETS } from '../../server/config';
import { buildRefundWebhook } from '../../server/sandbox/gateway/webhook-message';
import { CheckoutHarness, eventually, startHarness } from '../support/checkout-harness';
import { gatewayEnv } from '../support/counting-proxy';
import { describePostgres, STORAGES, TestDatabase } from '../support/databases';

const API_KEY = 'merchant-key-for-refund-tests-0123';
const SECRET = 'notify-secret-for-refund-tests';
const merchantAuth = { authorization: `Bearer ${API_KEY}` };
const credentials = { appId: DEVELOPMENT_SECRETS.gatewayAppId, masterSecret: DEVELOPMENT_SECRETS.gatewayMasterSecret };

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** The merchant's notification endpoint: records every delivery and answers 200. */
async function notificationReceiver(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/notify`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

let keys = 0;
const newKey = () => `refund-key-${process.pid}-${(keys += 1)}`;

function refundRequest(h: CheckoutHarness, orderNo: string, body: unknown, key: string | null = newKey()) {
  const request = h.api.post(`/api/merchant/orders/${orderNo}/refunds`).set(merchantAuth);
  if (key !== null) request.set('idempotency-key', key);
  return request.send(body as object);
}

async function merchantOrder(h: CheckoutHarness, orderNo: string) {
  return (await h.api.get(`/api/merchant/orders/${orderNo}`).set(merchantAuth).expect(200)).body.order;
}

/** A weapp order paid through its WX_MINI bill, the webhook recorded. */
async function paidWeappOrder(h: CheckoutHarness) {
  const { token } = await h.login();
  const order = await h.createOrder(token);
  await h.pay(token, order.orderNo).expect(200);
  const [bill] = await h.billsOf(order.orderNo);
  await h.settle(bill.bill_no, 'paid').expect(200);
  await eventually(
    () => h.status(token, order.orderNo),
    (answer) => answer.status === 'paid',
  );
  return { token, order, bill };
}

/** A Douyin shopper's order after tapping Pay: a WeChat H5 (`BC_WX_WAP`) and an Alipay (`ALI_APP`) bill open. */
async function ttOrderWithBothLegsOpen(h: CheckoutHarness) {
  const minted = await h.sandbox.post('/sandbox/douyin/codes').send({}).expect(201);
  const session = await h.api.post('/api/session').send({ platform: 'tt', code: minted.body.code }).expect(200);
  const token: string = session.body.token;
  const order = await h.createOrder(token);
  await h.api
    .post(`/api/orders/${order.orderNo}/pay`)
    .set('authorization', `Bearer ${token}`)
    .send({ platform: 'tt' })
    .expect(200);
  return { token, order };
}

/** A Douyin order paid through its Alipay leg (ALI_APP): a channel whose refunds send webhooks. */
async function paidAlipayOrder(h: CheckoutHarness) {
  const { token, order } = await ttOrderWithBothLegsOpen(h);
  const [bill] = (await h.billsOf(order.orderNo)).filter((candidate) => candidate.channel === 'ALI_APP');
  await h.settle(bill.bill_no, 'paid').expect(200);
  await eventually(
    () => h.status(token, order.orderNo),
    (answer) => answer.status === 'paid',
  );
  return { token, order, bill };
}

async function sandboxRefundsOf(h: CheckoutHarness, billNo: string) {
  const response = await h.sandbox.get('/sandbox/refunds').query({ bill_no: billNo }).expect(200);
  return response.body.refunds as Array<{ refund_no: string; refund_fee: number; status: string }>;
}

async function refundDeliveries(h: CheckoutHarness, refundNo: string) {
  return (await h.sandbox.get(`/sandbox/refunds/${refundNo}/deliveries`).expect(200)).body.deliveries as unknown[];
}

/** Sweeps until the refund is final (a WeChat refund's outcome comes from the status query). */
async function settledRefund(h: CheckoutHarness, orderNo: string, refundNo: string) {
  return eventually(
    async () => {
      await h.sweep();
      const order = await merchantOrder(h, orderNo);
      return order.refunds.find((refund: { refundNo: string }) => refund.refundNo === refundNo);
    },
    (refund) => refund?.status !== 'pending',
  );
}

describe.each(STORAGES)('merchant refunds on $name', (storage) => {
  let database: TestDatabase;
  let h: CheckoutHarness;
  let receiver: Awaited<ReturnType<typeof notificationReceiver>>;

  beforeAll(async () => {
    database = await storage.open();
    receiver = await notificationReceiver();
    h = await startHarness(database.db, {
      env: {
        MERCHANT_API_KEY: API_KEY,
        MERCHANT_NOTIFY_URL: receiver.url,
        MERCHANT_NOTIFY_SECRET: SECRET,
        GATEWAY_TIMEOUT_MS: '500',
      },
      // Refunds whose request got no answer are asked about at the next sweep in these tests.
      refunds: { checkIntervalMs: 0, unknownOutcomeGraceMs: 1500 },
      merchantNotifier: { pollIntervalMs: 20 },
    });
  });

  afterEach(async () => {
    await h.sandbox.delete('/sandbox/gateway/faults').expect(200);
  });

  afterAll(async () => {
    await h?.close();
    await receiver?.close();
    await database?.dispose();
  });

  describe('POST /api/merchant/orders/:orderNo/refunds', () => {
    it('should refund part of a WeChat payment, learn its success from the status query, and show it', async () => {
      const { token, order, bill } = await paidWeappOrder(h);
      const response = await refundRequest(h, order.orderNo, { amount: 1000, reason: '少发一件' }).expect(201);
      const refund = response.body.refund;
      expect(refund).toMatchObject({
        orderNo: order.orderNo,
        amount: 1000,
        status: 'pending',
        reason: '少发一件',
        kind: 'merchant',
      });
      expect(refund.refundNo).toMatch(/^\d{8}[A-Za-z0-9]{3,24}$/);
      expect(Date.parse(refund.createdAt)).not.toBeNaN();
      // WeChat refunds send no webhook (seed 001 §4.4.5).
      const [atGateway] = await sandboxRefundsOf(h, bill.bill_no);
      expect(atGateway).toMatchObject({ refund_no: refund.refundNo, refund_fee: 1000 });
      expect(await refundDeliveries(h, refund.refundNo)).toEqual([]);

      const settled = await settledRefund(h, order.orderNo, refund.refundNo);
      expect(settled).toMatchObject({ status: 'succeeded', amount: 1000 });
      expect(Date.parse(settled.finishedAt)).not.toBeNaN();
      const view = await merchantOrder(h, order.orderNo);
      expect(view).toMatchObject({ status: 'paid', code: 0, refundedAmount: 1000 });
      expect(
        await eventually(
          () => h.status(token, order.orderNo),
          (answer) => answer.refundedAmount === 1000,
        ),
      ).toMatchObject({
        status: 'paid',
        code: 0,
        refundedAmount: 1000,
      });
    });

    it('should take full, partial and repeated refunds up to what was paid, and no more', async () => {
      const { order } = await paidWeappOrder(h);
      await refundRequest(h, order.orderNo, { amount: order.amount - 100 }).expect(201);
      const over = await refundRequest(h, order.orderNo, { amount: 101 }).expect(422);
      expect(over.body.error.code).toBe('REFUND_EXCEEDS_PAID');
      await refundRequest(h, order.orderNo, { amount: 100 }).expect(201);
      const nothingLeft = await refundRequest(h, order.orderNo, { amount: 1 }).expect(422);
      expect(nothingLeft.body.error.code).toBe('REFUND_EXCEEDS_PAID');
      for (const refund of (await merchantOrder(h, order.orderNo)).refunds)
        await settledRefund(h, order.orderNo, refund.refundNo);
      expect((await merchantOrder(h, order.orderNo)).refundedAmount).toBe(order.amount);
    });

    it('should answer the same refund for the same Idempotency-Key, and refuse the key for another refund', async () => {
      const { order, bill } = await paidWeappOrder(h);
      const key = newKey();
      const first = await refundRequest(h, order.orderNo, { amount: 500 }, key).expect(201);
      const again = await refundRequest(h, order.orderNo, { amount: 500 }, key).expect(200);
      expect(again.body.refund.refundNo).toBe(first.body.refund.refundNo);
      const concurrent = await Promise.all(
        Array.from({ length: 5 }, () => refundRequest(h, order.orderNo, { amount: 500 }, key)),
      );
      expect(new Set(concurrent.map((answer) => answer.body.refund.refundNo))).toEqual(
        new Set([first.body.refund.refundNo]),
      );
      const reused = await refundRequest(h, order.orderNo, { amount: 600 }, key).expect(422);
      expect(reused.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
      expect(await sandboxRefundsOf(h, bill.bill_no)).toHaveLength(1);
    });

    it('should accept exactly one of two concurrent refunds that together exceed what is left', async () => {
      const { order, bill } = await paidWeappOrder(h);
      const answers = await Promise.all([
        refundRequest(h, order.orderNo, { amount: order.amount - 1000 }),
        refundRequest(h, order.orderNo, { amount: order.amount - 1000 }),
      ]);
      expect(answers.map((answer) => answer.status).sort()).toEqual([201, 422]);
      expect(answers.find((answer) => answer.status === 422)!.body.error.code).toBe('REFUND_EXCEEDS_PAID');
      expect(await sandboxRefundsOf(h, bill.bill_no)).toHaveLength(1);
    });

    it('should answer 409 ORDER_NOT_PAID for an unpaid order and 404 for an unknown one', async () => {
      const { token } = await h.login();
      const order = await h.createOrder(token);
      expect((await refundRequest(h, order.orderNo, { amount: 1 }).expect(409)).body.error.code).toBe('ORDER_NOT_PAID');
      expect((await refundRequest(h, 'NOSUCHORDER00001', { amount: 1 }).expect(404)).body.error.code).toBe(
        'ORDER_NOT_FOUND',
      );
    });

    it.each([
      ['an amount of zero', { amount: 0 }],
      ['a negative amount', { amount: -5 }],
      ['a fraction of a fen', { amount: 1.5 }],
      ['an amount as a string', { amount: '100' }],
      ['no amount', {}],
      ['an amount beyond a safe integer', { amount: 2 ** 53 }],
      ['a reason that is not text', { amount: 1, reason: 7 }],
      ['a reason of 81 characters', { amount: 1, reason: '退'.repeat(81) }],
      ['a reason with NUL', { amount: 1, reason: 'a\u0000b' }],
      ['a reason with an unpaired surrogate', { amount: 1, reason: 'x\udfffy' }],
      ['not an object', [1]],
    ])('should answer 400 VALIDATION_FAILED for %s', async (_what, body) => {
      const { order } = await paidWeappOrder(h);
      const response = await refundRequest(h, order.orderNo, body).expect(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
    });

    it('should answer 400 IDEMPOTENCY_KEY_REQUIRED without an Idempotency-Key, and refuse a malformed one', async () => {
      const { order } = await paidWeappOrder(h);
      const missing = await refundRequest(h, order.orderNo, { amount: 1 }, null).expect(400);
      expect(missing.body.error.code).toBe('IDEMPOTENCY_KEY_REQUIRED');
      const malformed = await refundRequest(h, order.orderNo, { amount: 1 }, 'has spaces in it').expect(400);
      expect(malformed.body.error.code).toBe('VALIDATION_FAILED');
    });

    it('should leave a refund the gateway refuses failed with its reason, and free the amount', async () => {
      const { order } = await paidWeappOrder(h);
      await h.sandbox
        .post('/sandbox/gateway/faults')
        .send({ result_code: 7, operation: 'refund', count: 1 })
        .expect(201);
      const refused = await refundRequest(h, order.orderNo, { amount: order.amount }).expect(201);
      expect(refused.body.refund).toMatchObject({ status: 'failed' });
      expect(refused.body.refund.failureReason).toMatch(/CHANNEL_ERROR|refused/);
      const retried = await refundRequest(h, order.orderNo, { amount: order.amount }).expect(201);
      expect(retried.body.refund.status).toBe('pending');
    });

    it('should leave a refund the channel fails after accepting it failed, and free the amount', async () => {
      const { order } = await paidWeappOrder(h);
      await h.sandbox.post('/sandbox/refunds/hold').send({ count: 1 }).expect(201);
      const { refund } = (await refundRequest(h, order.orderNo, { amount: order.amount }).expect(201)).body;
      await h.sweep();
      expect((await merchantOrder(h, order.orderNo)).refunds[0].status).toBe('pending');
      await h.sandbox
        .post(`/sandbox/refunds/${refund.refundNo}/settle`)
        .send({ result: 'failed', refund_status: 'CHANGE' })
        .expect(200);
      const settled = await settledRefund(h, order.orderNo, refund.refundNo);
      expect(settled).toMatchObject({ status: 'failed' });
      expect(settled.failureReason).toMatch(/CHANGE/);
      expect((await merchantOrder(h, order.orderNo)).refundedAmount).toBe(0);
      await refundRequest(h, order.orderNo, { amount: order.amount }).expect(201);
    });

    it('should settle by query, never by sending again, a refund whose request timed out', async () => {
      const { order, bill } = await paidWeappOrder(h);
      // The gateway makes the refund, then answers after our 500 ms timeout.
      await h.sandbox
        .post('/sandbox/gateway/faults')
        .send({ delay_ms: 1500, operation: 'refund', count: 1 })
        .expect(201);
      const key = newKey();
      const { refund } = (await refundRequest(h, order.orderNo, { amount: 700 }, key).expect(201)).body;
      expect(refund.status).toBe('pending');
      const settled = await settledRefund(h, order.orderNo, refund.refundNo);
      expect(settled.status).toBe('succeeded');
      await refundRequest(h, order.orderNo, { amount: 700 }, key).expect(200);
      expect(await sandboxRefundsOf(h, bill.bill_no)).toHaveLength(1);
    });

    it('should leave a refund the gateway answers RUNTIME_ERROR pending until a query settles it, never failed at once', async () => {
      const { order, bill } = await paidWeappOrder(h);
      // The gateway's own failure says nothing of how far the refund got: failing it at once would
      // free the amount for a second refund while the first may still be paid out.
      await h.sandbox
        .post('/sandbox/gateway/faults')
        .send({ result_code: 14, operation: 'refund', count: 1 })
        .expect(201);
      const { refund } = (await refundRequest(h, order.orderNo, { amount: order.amount }).expect(201)).body;
      expect(refund.status).toBe('pending');
      expect((await refundRequest(h, order.orderNo, { amount: 1 }).expect(422)).body.error.code).toBe(
        'REFUND_EXCEEDS_PAID',
      );
      await new Promise((resolve) => setTimeout(resolve, 1600));
      const settled = await settledRefund(h, order.orderNo, refund.refundNo);
      expect(settled).toMatchObject({ status: 'failed' });
      expect(settled.failureReason).toMatch(/never arrived/);
      expect(await sandboxRefundsOf(h, bill.bill_no)).toHaveLength(0);
    });

    it('should fail, not resend, a timed-out refund the gateway never received', async () => {
      const { order, bill } = await paidWeappOrder(h);
      // Refused after the timeout: the request reached nothing that made a refund.
      await h.sandbox
        .post('/sandbox/gateway/faults')
        .send({ delay_ms: 1000, result_code: 14, operation: 'refund', count: 1 })
        .expect(201);
      const { refund } = (await refundRequest(h, order.orderNo, { amount: 300 }).expect(201)).body;
      expect(refund.status).toBe('pending');
      await h.sweep();
      expect((await merchantOrder(h, order.orderNo)).refunds[0].status).toBe('pending');
      await new Promise((resolve) => setTimeout(resolve, 1600));
      const settled = await settledRefund(h, order.orderNo, refund.refundNo);
      expect(settled).toMatchObject({ status: 'failed' });
      expect(settled.failureReason).toMatch(/never arrived/);
      expect(await sandboxRefundsOf(h, bill.bill_no)).toHaveLength(0);
    });

    it('should record an Alipay refund from its REFUND webhook, even one that comes before the request is answered', async () => {
      const { order, bill } = await paidAlipayOrder(h);
      // The gateway makes the refund and sends its webhook at once, but answers our request late.
      await h.sandbox
        .post('/sandbox/gateway/faults')
        .send({ delay_ms: 300, operation: 'refund', count: 1 })
        .expect(201);
      const { refund } = (await refundRequest(h, order.orderNo, { amount: order.amount }).expect(201)).body;
      expect(refund.status).toBe('succeeded');
      expect((await sandboxRefundsOf(h, bill.bill_no)).map((atGateway) => atGateway.refund_no)).toEqual([
        refund.refundNo,
      ]);
      expect(await refundDeliveries(h, refund.refundNo)).toEqual([expect.objectContaining({ ok: true })]);
      expect(await merchantOrder(h, order.orderNo)).toMatchObject({ refundedAmount: order.amount });
    });

    it('should tell the merchant of each final refund once, signed like every notification', async () => {
      const { order } = await paidAlipayOrder(h);
      const { refund } = (await refundRequest(h, order.orderNo, { amount: 200 }).expect(201)).body;
      const notices = () =>
        receiver.received
          .map((delivery) => ({ ...delivery, json: JSON.parse(delivery.body) }))
          .filter(
            (delivery) => delivery.json.event === 'refund.final' && delivery.json.refund.refundNo === refund.refundNo,
          );
      await eventually(
        async () => notices().length,
        (count) => count >= 1,
      );
      await h.sweep();
      await new Promise((resolve) => setTimeout(resolve, 100));
      const [notice, ...more] = notices();
      expect(more).toEqual([]);
      expect(notice.json.refund).toMatchObject({ refundNo: refund.refundNo, status: 'succeeded', amount: 200 });
      expect(notice.json.order).toMatchObject({ orderNo: order.orderNo, refundedAmount: 200 });
      const timestamp = String(notice.headers['x-checkout-timestamp']);
      expect(notice.headers['x-checkout-signature']).toBe(
        createHmac('sha256', SECRET).update(`${timestamp}.${notice.body}`).digest('hex'),
      );
    });
  });

  describe('REFUND webhooks', () => {
    const send = (body: unknown) =>
      h.api.post('/api/gateway/webhook').set('content-type', 'application/json').send(JSON.stringify(body));

    it('should acknowledge and keep for review a REFUND message for a refund it never made, or with another fee', async () => {
      const { order, bill } = await paidWeappOrder(h);
      await h.sandbox.post('/sandbox/refunds/hold').send({ count: 1 }).expect(201);
      const { refund } = (await refundRequest(h, order.orderNo, { amount: 400 }).expect(201)).body;
      const message = (refundNo: string, fee: number) =>
        buildRefundWebhook({
          ...credentials,
          refundNo,
          billNo: bill.bill_no,
          channel: 'WX_MINI',
          refundFee: fee,
          totalFee: order.amount,
        });
      await send(message('20260101Runknown000001', 400)).expect(200, 'success');
      await send(message(refund.refundNo, 401)).expect(200, 'success');
      const kept = await h.services.database.query<{ transaction_id: string; amount: number }>(
        "SELECT transaction_id, amount FROM unmatched_gateway_messages WHERE transaction_type = 'REFUND' ORDER BY id",
      );
      expect(kept.rows).toEqual(
        expect.arrayContaining([
          { transaction_id: '20260101Runknown000001', amount: 400 },
          { transaction_id: refund.refundNo, amount: 401 },
        ]),
      );
      expect((await merchantOrder(h, order.orderNo)).refunds[0]).toMatchObject({ status: 'pending' });
      await send(message(refund.refundNo, 400)).expect(200, 'success');
      expect((await merchantOrder(h, order.orderNo)).refunds[0]).toMatchObject({ status: 'succeeded' });
    });

    it('should refuse a forged REFUND message', async () => {
      const { order, bill } = await paidWeappOrder(h);
      const { refund } = (await refundRequest(h, order.orderNo, { amount: 400 }).expect(201)).body;
      const forged = buildRefundWebhook({
        appId: credentials.appId,
        masterSecret: 'not-the-master-secret',
        refundNo: refund.refundNo,
        billNo: bill.bill_no,
        channel: 'WX_MINI',
        refundFee: 400,
        totalFee: order.amount,
      });
      expect((await send(forged)).status).toBe(401);
    });
  });

  describe('GET /api/merchant/payments', () => {
    it('should list payments that need a person, with their orders', async () => {
      const { token } = await h.login();
      const order = await h.createOrder(token);
      await h.pay(token, order.orderNo).expect(200);
      const [bill] = await h.billsOf(order.orderNo);
      const { buildPaymentWebhook } = await import('../../server/sandbox/gateway/webhook-message');
      const underpaid = buildPaymentWebhook({
        ...credentials,
        billNo: bill.bill_no,
        channel: 'WX_MINI',
        totalFee: 1,
        outcome: 'paid',
      });
      await h.api
        .post('/api/gateway/webhook')
        .set('content-type', 'application/json')
        .send(JSON.stringify(underpaid))
        .expect(200);
      const response = await h.api
        .get('/api/merchant/payments')
        .query({ disposition: 'amount_mismatch' })
        .set(merchantAuth)
        .expect(200);
      const listed = response.body.payments.find((payment: { billNo: string }) => payment.billNo === bill.bill_no);
      expect(listed).toMatchObject({
        billNo: bill.bill_no,
        orderNo: order.orderNo,
        amount: 1,
        disposition: 'amount_mismatch',
        source: 'webhook',
        order: { orderNo: order.orderNo, amount: order.amount, status: 'pending', code: 9 },
      });
    });

    it.each([
      ['no disposition', {}],
      ['an unknown disposition', { disposition: 'applied' }],
      ['a limit out of range', { disposition: 'refund_due', limit: '0' }],
      ['a negative offset', { disposition: 'refund_due', offset: '-1' }],
    ])('should answer 400 for %s', async (_what, query) => {
      const response = await h.api.get('/api/merchant/payments').query(query).set(merchantAuth).expect(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
    });

    it('should need the merchant key', async () => {
      await h.api.get('/api/merchant/payments').query({ disposition: 'refund_due' }).expect(401);
    });
  });
});

describe.each(STORAGES)('second payments on $name', (storage) => {
  it.each([
    ['returned by itself (the default)', {}, 'refunded'],
    ['left to the merchant with AUTO_REFUND_DUPLICATES=false', { AUTO_REFUND_DUPLICATES: 'false' }, 'refund_due'],
  ])('should be %s', async (_what, env, expected) => {
    const database = await storage.open();
    const h = await startHarness(database.db, { env: { MERCHANT_API_KEY: API_KEY, ...env } });
    try {
      const { token, order } = await ttOrderWithBothLegsOpen(h);
      const bills = await h.billsOf(order.orderNo);
      const wechat = bills.find((bill) => bill.channel === 'BC_WX_WAP')!;
      const alipay = bills.find((bill) => bill.channel === 'ALI_APP')!;
      await h.settle(wechat.bill_no, 'paid').expect(200);
      await eventually(
        () => h.status(token, order.orderNo),
        (answer) => answer.status === 'paid',
      );
      // The second leg's money: an Alipay refund sends a REFUND webhook, so no sweep is needed.
      await h.settle(alipay.bill_no, 'paid').expect(200);
      const listed = await eventually(
        async () =>
          (await h.api.get('/api/merchant/payments').query({ disposition: expected }).set(merchantAuth).expect(200))
            .body.payments as Array<{ billNo: string; refund?: { status: string; amount: number; kind: string } }>,
        (payments) => payments.some((payment) => payment.billNo === alipay.bill_no),
      );
      const payment = listed.find((candidate) => candidate.billNo === alipay.bill_no)!;
      const atGateway = (await h.sandbox.get('/sandbox/refunds').query({ bill_no: alipay.bill_no }).expect(200)).body
        .refunds;
      if (expected === 'refunded') {
        expect(payment.refund).toMatchObject({ status: 'succeeded', amount: order.amount, kind: 'duplicate' });
        expect(atGateway).toHaveLength(1);
      } else {
        expect(payment.refund).toBeUndefined();
        await h.sweep();
        expect(
          (await h.sandbox.get('/sandbox/refunds').query({ bill_no: alipay.bill_no }).expect(200)).body.refunds,
        ).toEqual([]);
      }
      const view = await merchantOrder(h, order.orderNo);
      expect(view).toMatchObject({ status: 'paid', refundedAmount: 0 });
    } finally {
      await h.close();
      await database.dispose();
    }
  });
});

describe.each(STORAGES)('second payments whose webhooks are lost, on $name', (storage) => {
  it('should find both legs of a Douyin order paid with no webhook at all, and return the second', async () => {
    const database = await storage.open();
    const h = await startHarness(database.db, { env: { MERCHANT_API_KEY: API_KEY } });
    try {
      const { order } = await ttOrderWithBothLegsOpen(h);
      const bills = await h.billsOf(order.orderNo);
      for (const bill of bills) await h.settle(bill.bill_no, 'paid', false).expect(200);

      const payments = async () =>
        (
          await h.services.database.query<{ disposition: string; source: string }>(
            'SELECT disposition, source FROM payments WHERE order_no = $1 ORDER BY id',
            [order.orderNo],
          )
        ).rows;
      // One sweep past the grace asks about both open bills of the pending order.
      h.advanceClock(60_000);
      await h.sweep();
      expect(await payments()).toEqual([
        { disposition: 'applied', source: 'query' },
        { disposition: expect.stringMatching(/^(refund_due|refunded)$/), source: 'query' },
      ]);
      // The automatic refund is on a WeChat or Alipay leg: the gateway's REFUND webhook (WeChat
      // legs; delivered on its own time) or a later sweep's query settles it, either way.
      const settled = await eventually(
        async () => {
          h.advanceClock(120_000);
          await h.sweep();
          return (await payments()).map((payment) => payment.disposition);
        },
        (dispositions) => dispositions[1] === 'refunded',
        20_000,
      );
      expect(settled).toEqual(['applied', 'refunded']);
      const atGateway = await Promise.all(
        bills.map(
          async (bill) =>
            (await h.sandbox.get('/sandbox/refunds').query({ bill_no: bill.bill_no }).expect(200)).body.refunds,
        ),
      );
      expect(atGateway.flat()).toHaveLength(1);
    } finally {
      await h.close();
      await database.dispose();
    }
  });

  it('should find a second payment made on the other leg after the order was paid, with its webhook lost', async () => {
    const database = await storage.open();
    const h = await startHarness(database.db, { env: { MERCHANT_API_KEY: API_KEY } });
    try {
      const { token, order } = await ttOrderWithBothLegsOpen(h);
      const bills = await h.billsOf(order.orderNo);
      const wechat = bills.find((bill) => bill.channel === 'BC_WX_WAP')!;
      const alipay = bills.find((bill) => bill.channel === 'ALI_APP')!;
      await h.settle(wechat.bill_no, 'paid').expect(200);
      await eventually(
        () => h.status(token, order.orderNo),
        (answer) => answer.status === 'paid',
      );
      await h.settle(alipay.bill_no, 'paid', false).expect(200);
      h.advanceClock(120_000);
      await h.sweep();
      const rows = await h.services.database.query<{ bill_no: string; disposition: string }>(
        'SELECT bill_no, disposition FROM payments WHERE order_no = $1 ORDER BY id',
        [order.orderNo],
      );
      expect(rows.rows).toEqual([
        { bill_no: wechat.bill_no, disposition: 'applied' },
        { bill_no: alipay.bill_no, disposition: expect.stringMatching(/^(refund_due|refunded)$/) },
      ]);
    } finally {
      await h.close();
      await database.dispose();
    }
  });

  it('should close the other leg of a paid order at the deadline and stop asking about it', async () => {
    const database = await storage.open();
    const h = await startHarness(database.db, { env: { MERCHANT_API_KEY: API_KEY } });
    try {
      const { token, order } = await ttOrderWithBothLegsOpen(h);
      const wechat = (await h.billsOf(order.orderNo)).find((bill) => bill.channel === 'BC_WX_WAP')!;
      await h.settle(wechat.bill_no, 'paid').expect(200);
      await eventually(
        () => h.status(token, order.orderNo),
        (answer) => answer.status === 'paid',
      );
      h.advanceClock(20 * 60 * 1000);
      const first = await h.sweep();
      expect(first.checked).toBe(1);
      const open = await h.services.database.query<{ status: string }>(
        "SELECT status FROM bills WHERE order_no = $1 AND channel = 'ALI_APP'",
        [order.orderNo],
      );
      expect(open.rows).toEqual([{ status: 'closed' }]);
      h.advanceClock(20 * 60 * 1000);
      expect((await h.sweep()).checked).toBe(0);
      expect(await h.status(token, order.orderNo)).toMatchObject({ status: 'paid', code: 0 });
    } finally {
      await h.close();
      await database.dispose();
    }
  });
});

describePostgres('refunds on PostgreSQL, two server instances', () => {
  let database: TestDatabase;
  let first: CheckoutHarness;
  let second: CheckoutHarness;

  beforeAll(async () => {
    const { STORAGES: all } = await import('../support/databases');
    database = await all.find((candidate) => candidate.name === 'postgres')!.open();
    const env = { MERCHANT_API_KEY: API_KEY };
    first = await startHarness(database.db, { env });
    // The second instance talks to the first one's sandbox: one gateway for both.
    second = await startHarness(await database.openAnother(), {
      env: { ...env, ...gatewayEnv(first.services.sandboxUrl!) },
    });
  });

  afterAll(async () => {
    await first?.close();
    await second?.close();
    await database?.dispose();
  });

  it('should accept exactly one of two concurrent over-refunds sent to different instances', async () => {
    const { order, bill } = await paidWeappOrder(first);
    const answers = await Promise.all([
      refundRequest(first, order.orderNo, { amount: order.amount }),
      refundRequest(second, order.orderNo, { amount: order.amount }),
    ]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([201, 422]);
    expect(await sandboxRefundsOf(first, bill.bill_no)).toHaveLength(1);
  });

  it('should answer every retry racing its first attempt with the same refund, on either instance', async () => {
    const { order, bill } = await paidWeappOrder(first);
    const key = newKey();
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        refundRequest(i % 2 === 0 ? first : second, order.orderNo, { amount: order.amount }, key),
      ),
    );
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(answers.map((answer) => answer.body.refund.refundNo)).size).toBe(1);
    const other = await Promise.all(
      Array.from({ length: 4 }, () => refundRequest(second, order.orderNo, { amount: 1 }, key)),
    );
    expect(other.map((answer) => answer.body.error.code)).toEqual(Array(4).fill('IDEMPOTENCY_KEY_REUSED'));
    expect(await sandboxRefundsOf(first, bill.bill_no)).toHaveLength(1);
  });

  it('should record one refund from 20 concurrent copies of its REFUND webhook', async () => {
    const { order, bill } = await paidWeappOrder(first);
    await first.sandbox.post('/sandbox/refunds/hold').send({ count: 1 }).expect(201);
    const { refund } = (await refundRequest(first, order.orderNo, { amount: 900 }).expect(201)).body;
    const message = JSON.stringify(
      buildRefundWebhook({
        ...credentials,
        refundNo: refund.refundNo,
        billNo: bill.bill_no,
        channel: 'WX_MINI',
        refundFee: 900,
        totalFee: order.amount,
      }),
    );
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? first : second).api
          .post('/api/gateway/webhook')
          .set('content-type', 'application/json')
          .send(message),
      ),
    );
    expect(answers.map((answer) => answer.text)).toEqual(Array(20).fill('success'));
    const db: Database = database.db;
    const orders = await db.query<{ refunded_amount: number }>(
      'SELECT refunded_amount FROM orders WHERE order_no = $1',
      [order.orderNo],
    );
    expect(orders.rows[0].refunded_amount).toBe(900);
    const view = await merchantOrder(second, order.orderNo);
    expect(view.refunds).toEqual([expect.objectContaining({ refundNo: refund.refundNo, status: 'succeeded' })]);
  });

  it('should finish a refund whose instance crashed after the gateway accepted it, exactly once', async () => {
    const { order, bill } = await paidWeappOrder(first);
    // An instance that dies right after the gateway accepted the refund: nothing after that is stored.
    const dying = await database.openAnother();
    const crashing: Database = {
      ...dying,
      query: async (sql, params, options) => {
        if (/SET accepted_at/.test(sql)) throw new Error('process killed');
        return dying.query(sql, params, options);
      },
    };
    const doomed = await startHarness(crashing, {
      env: { MERCHANT_API_KEY: API_KEY, ...gatewayEnv(first.services.sandboxUrl!) },
      refunds: { checkIntervalMs: 0 },
    });
    const key = newKey();
    try {
      await refundRequest(doomed, order.orderNo, { amount: 800 }, key).expect(500);
    } finally {
      await doomed.close();
    }
    const stored = await database.db.query<{ refund_no: string; submitted_at: Date | null; accepted_at: Date | null }>(
      'SELECT refund_no, submitted_at, accepted_at FROM refunds WHERE order_no = $1',
      [order.orderNo],
    );
    expect(stored.rows).toEqual([expect.objectContaining({ accepted_at: null })]);
    expect(stored.rows[0].submitted_at).not.toBeNull();
    // Another instance takes over once the refund is due, and asks instead of sending again.
    await database.db.query('UPDATE refunds SET next_check_at = now() WHERE order_no = $1', [order.orderNo]);
    await second.sweep();
    const view = await merchantOrder(second, order.orderNo);
    expect(view.refunds).toEqual([expect.objectContaining({ status: 'succeeded', amount: 800 })]);
    // The merchant's retry with the same key answers the same refund.
    const retried = await refundRequest(second, order.orderNo, { amount: 800 }, key).expect(200);
    expect(retried.body.refund.refundNo).toBe(stored.rows[0].refund_no);
    expect(await sandboxRefundsOf(first, bill.bill_no)).toHaveLength(1);
  });
});
