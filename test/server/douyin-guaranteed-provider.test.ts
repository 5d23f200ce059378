import http from 'node:http';
import request from 'supertest';
import {
  CALLBACK_MAX_SKEW_S,
  createDouyinGuaranteed,
  ecpayCallbackSignature,
  ecpayRequestSign,
} from '../../server/adapters/payments/douyin-guaranteed';
import { AppError } from '../../server/domain/errors';
import type { OpenBillRequest, PaymentProvider, ProviderMessage } from '../../server/domain/payment-provider';
import { DEFAULT_DOUYIN_APP_ID } from '../../server/sandbox';
import type { DouyinPaySandboxKeys } from '../../server/sandbox/douyin-pay';
import {
  listenSandbox,
  startNotifyReceiver,
  waitUntil,
  type ListeningSandbox,
  type NotifyReceiver,
} from '../support/wechatpay';

/*
 * Douyin 担保支付 (DouyinGuaranteedProvider): the public vectors of both signatures
 * (payments-beyond.md, "Douyin mini-program payment" → 担保支付), then the provider against the
 * sandbox's emulated 担保支付 over real HTTP: pre-order, the shopper paying with order_token,
 * signed callbacks (and their retries), queries and refunds; callbacks forged, tampered or stale
 * are refused.
 */

const VECTOR_SALT = 'oDxWDBr4U7FAAQ8hnGDm29i4A6pbTMDKme4WLLvA';
const VECTOR_TOKEN = 'douyin_mini_token';
const VECTOR_ORDER = {
  out_order_no: '202406100423024876',
  total_amount: 1,
  subject: '闫嵩达 - test - subject - 01',
  body: '闫嵩达 - test - body - 01',
  valid_time: 600,
  notify_url: 'https://yansongda.cn/douyin/notify',
};
const VECTOR_MSG =
  '{"appid":"tt226e54d3bd581bf801","cp_orderno":"202408041111312119","cp_extra":"","way":"2","channel_no":"","channel_gateway_no":"","payment_order_no":"","out_channel_order_no":"","total_amount":1,"status":"SUCCESS","seller_uid":"73744242495132490630","extra":"","item_id":"","paid_at":1722769986,"message":"","order_id":"7398108028895054107"}';

/** Only the salt and token matter to 担保支付; the RSA halves belong to 通用交易系统. */
const KEYS: DouyinPaySandboxKeys = {
  salt: 'sandbox-test-salt-0123456789abcdefghijklmn',
  token: 'sandbox-test-token',
  appPublicKey: '',
  appPrivateKey: '',
  platformPublicKey: '',
  platformPrivateKey: '',
  keyVersion: '1',
};

let serial = 0;
const newBillNo = () => `TT${Date.now()}${String(++serial).padStart(4, '0')}`;

function billRequest(overrides: Partial<OpenBillRequest> = {}): OpenBillRequest {
  return {
    billNo: newBillNo(),
    orderNo: 'ORDER0001',
    channel: 'TT_MINI',
    amount: 1280,
    title: '咖啡豆 250g × 2',
    expiresAt: new Date(Date.now() + 900_000),
    timeoutSeconds: 900,
    ...overrides,
  };
}

function messageOf(hit: { headers: http.IncomingHttpHeaders; body: string }): ProviderMessage {
  return { rawBody: hit.body, headers: { 'content-type': 'application/json' } };
}

async function failure(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    if (AppError.is(error)) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

describe('担保支付 signatures: the public vectors', () => {
  it('should sign the two documented pre-orders as published (app_id left out)', () => {
    expect(ecpayRequestSign(VECTOR_ORDER, VECTOR_SALT)).toBe('771c1952ffb5e0744fc0ad1337aafa6a');
    expect(ecpayRequestSign({ app_id: 'tt0000000000000000', ...VECTOR_ORDER }, VECTOR_SALT)).toBe(
      '771c1952ffb5e0744fc0ad1337aafa6a',
    );
    expect(
      ecpayRequestSign(
        {
          ...VECTOR_ORDER,
          out_order_no: '202406101307142575',
          expand_order_info: { original_delivery_fee: 15, actual_delivery_fee: 10 },
        },
        VECTOR_SALT,
      ),
    ).toBe('259702d0e950991b0bd494c9357f3ca4');
  });

  it('should leave out empty and "null" values, and strip the quotes around one', () => {
    const signed = ecpayRequestSign(VECTOR_ORDER, VECTOR_SALT);
    expect(
      ecpayRequestSign({ ...VECTOR_ORDER, cp_extra: '', thirdparty_id: 'x', disable_msg: null }, VECTOR_SALT),
    ).toBe(signed);
    expect(ecpayRequestSign({ ...VECTOR_ORDER, cp_extra: 'null' }, VECTOR_SALT)).toBe(signed);
    expect(ecpayRequestSign({ ...VECTOR_ORDER, subject: ` "${VECTOR_ORDER.subject}" ` }, VECTOR_SALT)).toBe(signed);
    expect(ecpayRequestSign({ ...VECTOR_ORDER, total_amount: 2 }, VECTOR_SALT)).not.toBe(signed);
  });

  it("should reproduce the documented callback's msg_signature", () => {
    expect(ecpayCallbackSignature({ timestamp: '1722769986', nonce: '5280', msg: VECTOR_MSG }, VECTOR_TOKEN)).toBe(
      '840bdf067c1d6056becfe88735c8ebb7e1ab809c',
    );
  });

  it('should verify the documented callback, and refuse it tampered, with another token or too old', async () => {
    const body = {
      timestamp: '1722769986',
      nonce: '5280',
      msg: VECTOR_MSG,
      type: 'payment',
      msg_signature: '840bdf067c1d6056becfe88735c8ebb7e1ab809c',
    };
    const at = (seconds: number) =>
      createDouyinGuaranteed({
        baseUrl: 'http://127.0.0.1:9',
        appId: 'tt226e54d3bd581bf801',
        credentials: { salt: VECTOR_SALT, token: VECTOR_TOKEN },
        notifyUrl: 'https://example.com/api/douyin/ecpay/notify',
        timeoutMs: 1000,
        now: () => seconds * 1000,
      });
    const message = (value: unknown): ProviderMessage => ({ rawBody: JSON.stringify(value), headers: {} });
    await expect(at(1722769986 + 60).readNotification(message(body))).resolves.toMatchObject({
      type: 'payment.succeeded',
      billNo: '202408041111312119',
      amount: 1,
      tradeNo: '7398108028895054107',
    });
    const tampered = await failure(
      at(1722769986).readNotification(
        message({ ...body, msg: VECTOR_MSG.replace('"total_amount":1', '"total_amount":100') }),
      ),
    );
    expect(tampered).toMatchObject({ code: 'WEBHOOK_SIGNATURE_INVALID', details: { reason: 'BAD_SIGNATURE' } });
    // `type` is not signed: relabelled, the signed msg (a payment) decides, and the callback is refused.
    for (const type of ['settle', 'refund', undefined]) {
      const relabelled = await failure(at(1722769986).readNotification(message({ ...body, type })));
      expect(relabelled).toMatchObject({ code: 'WEBHOOK_INVALID', details: { reason: 'TYPE_MISMATCH' } });
    }
    const stale = await failure(at(1722769986 + CALLBACK_MAX_SKEW_S + 1).readNotification(message(body)));
    expect(stale).toMatchObject({ code: 'WEBHOOK_SIGNATURE_INVALID', details: { reason: 'STALE_TIMESTAMP' } });
    const unsigned = await failure(at(1722769986).readNotification(message({ ...body, msg_signature: undefined })));
    expect(unsigned).toMatchObject({ code: 'WEBHOOK_SIGNATURE_INVALID', details: { reason: 'MISSING_FIELDS' } });
    const otherToken = createDouyinGuaranteed({
      baseUrl: 'http://127.0.0.1:9',
      appId: 'tt226e54d3bd581bf801',
      credentials: { salt: VECTOR_SALT, token: 'another-token' },
      notifyUrl: 'https://example.com/api/douyin/ecpay/notify',
      timeoutMs: 1000,
      now: () => 1722769986 * 1000,
    });
    expect(await failure(otherToken.readNotification(message(body)))).toMatchObject({
      code: 'WEBHOOK_SIGNATURE_INVALID',
    });
    expect(await failure(at(1722769986).readNotification({ rawBody: 'not json', headers: {} }))).toMatchObject({
      code: 'WEBHOOK_INVALID',
    });
  });
});

describe('DouyinGuaranteedProvider against the 担保支付 sandbox', () => {
  let running: ListeningSandbox;
  let receiver: NotifyReceiver;
  let answers: Array<{ status: number; body?: string }>;
  /** How far the sandbox's clock is ahead, ms. */
  let sandboxAhead: number;
  const acknowledged = { status: 200, body: JSON.stringify({ err_no: 0, err_tips: 'success' }) };

  beforeEach(async () => {
    answers = [];
    sandboxAhead = 0;
    running = await listenSandbox(undefined, { douyinPay: { keys: KEYS }, now: () => Date.now() + sandboxAhead });
    receiver = await startNotifyReceiver(() => answers.shift() ?? acknowledged);
  });
  afterEach(async () => {
    await running.close();
    await receiver.close();
  });

  function provider(
    overrides: { salt?: string; token?: string; now?: () => number; baseUrl?: string } = {},
  ): PaymentProvider {
    return createDouyinGuaranteed({
      baseUrl: overrides.baseUrl ?? running.url,
      appId: DEFAULT_DOUYIN_APP_ID,
      credentials: { salt: overrides.salt ?? KEYS.salt, token: overrides.token ?? KEYS.token },
      notifyUrl: receiver.url,
      timeoutMs: 2000,
      now: overrides.now,
    });
  }

  async function openedBill(subject: PaymentProvider, bill = billRequest()) {
    const creation = await subject.openBill(bill);
    if (creation.outcome !== 'created' || creation.bill.clientParams.channel !== 'TT_MINI') {
      throw new Error(`not created: ${JSON.stringify(creation)}`);
    }
    const { douyin } = creation.bill.clientParams;
    if (douyin.call !== 'pay') throw new Error('not a tt.pay answer');
    return { bill, orderInfo: douyin.orderInfo, providerId: creation.bill.providerId };
  }

  const payAsShopper = (orderInfo: { order_id: string; order_token: string }, action?: 'pay' | 'cancel') =>
    request(running.url)
      .post('/sandbox/douyin/guaranteed/pay')
      .send({ ...orderInfo, ...(action ? { action } : {}) });

  it('should pre-order, let the shopper pay with the order_token, and be told by a signed callback', async () => {
    const subject = provider();
    const { bill, orderInfo, providerId } = await openedBill(subject);
    expect(orderInfo).toEqual({ order_id: expect.stringMatching(/^\d{19}$/), order_token: expect.any(String) });
    expect(providerId).toBe(orderInfo.order_id);
    await expect(subject.queryBill(bill.billNo, 'TT_MINI')).resolves.toMatchObject({
      outcome: 'unknown',
      amount: 1280,
    });

    const mismatched = await payAsShopper({ ...orderInfo, order_token: `${orderInfo.order_token}x` }).expect(403);
    expect(mismatched.body.error.code).toBe('ORDER_TOKEN_MISMATCH');
    await payAsShopper({ order_id: '7000000000000000000', order_token: orderInfo.order_token }).expect(404);
    expect((await payAsShopper(orderInfo, 'cancel').expect(200)).body).toMatchObject({ code: 4 });
    expect((await payAsShopper(orderInfo).expect(200)).body).toMatchObject({ code: 0, order: { status: 'paid' } });
    await payAsShopper(orderInfo).expect(409);

    await waitUntil(() => receiver.hits.length === 1, 5000, 'the payment callback');
    const callback = JSON.parse(receiver.hits[0].body) as Record<string, string>;
    expect(callback).toMatchObject({ type: 'payment', timestamp: expect.stringMatching(/^\d+$/) });
    await expect(subject.readNotification(messageOf(receiver.hits[0]))).resolves.toMatchObject({
      type: 'payment.succeeded',
      billNo: bill.billNo,
      amount: 1280,
      tradeNo: orderInfo.order_id,
      detail: { cp_extra: 'ORDER0001', appid: DEFAULT_DOUYIN_APP_ID },
    });
    await expect(subject.queryBill(bill.billNo, 'TT_MINI')).resolves.toMatchObject({
      outcome: 'paid',
      amount: 1280,
      tradeNo: orderInfo.order_id,
    });
  });

  it('should refuse a callback tampered on its way, signed with another token, or replayed late', async () => {
    const subject = provider();
    const { orderInfo } = await openedBill(subject);
    await payAsShopper(orderInfo).expect(200);
    await waitUntil(() => receiver.hits.length === 1, 5000, 'the payment callback');
    const body = JSON.parse(receiver.hits[0].body) as Record<string, string>;
    const tamperedMsg = body.msg.replace('"total_amount":1280', '"total_amount":1');
    expect(tamperedMsg).not.toBe(body.msg);
    const tampered = await failure(
      subject.readNotification({ rawBody: JSON.stringify({ ...body, msg: tamperedMsg }), headers: {} }),
    );
    expect(tampered).toMatchObject({ code: 'WEBHOOK_SIGNATURE_INVALID', details: { reason: 'BAD_SIGNATURE' } });
    const otherNonce = await failure(
      subject.readNotification({ rawBody: JSON.stringify({ ...body, nonce: `${body.nonce}1` }), headers: {} }),
    );
    expect(otherNonce).toMatchObject({ code: 'WEBHOOK_SIGNATURE_INVALID' });
    expect(
      await failure(provider({ token: 'not-the-token' }).readNotification(messageOf(receiver.hits[0]))),
    ).toMatchObject({
      code: 'WEBHOOK_SIGNATURE_INVALID',
      details: { reason: 'BAD_SIGNATURE' },
    });
    const late = provider({ now: () => Date.now() + (CALLBACK_MAX_SKEW_S + 5) * 1000 });
    expect(await failure(late.readNotification(messageOf(receiver.hits[0])))).toMatchObject({
      code: 'WEBHOOK_SIGNATURE_INVALID',
      details: { reason: 'STALE_TIMESTAMP' },
    });
  });

  it('should send the callback again, signed afresh, until it is answered {"err_no":0}', async () => {
    answers = [{ status: 500 }, { status: 200, body: JSON.stringify({ err_no: 1, err_tips: 'busy' }) }];
    const subject = provider();
    const { orderInfo } = await openedBill(subject);
    await payAsShopper(orderInfo).expect(200);
    await waitUntil(() => receiver.hits.length === 3, 10_000, 'three attempts');
    const bodies = receiver.hits.map((hit) => JSON.parse(hit.body) as Record<string, string>);
    expect(new Set(bodies.map((body) => body.nonce)).size).toBe(3);
    expect(new Set(bodies.map((body) => body.msg)).size).toBe(1);
    for (const hit of receiver.hits) {
      await expect(subject.readNotification(messageOf(hit))).resolves.toMatchObject({ type: 'payment.succeeded' });
    }
  });

  it('should refund part then the rest, tell each by callback and query, and refuse more than was paid', async () => {
    const subject = provider();
    const { bill, orderInfo } = await openedBill(subject);
    const early = await subject.createRefund({
      refundNo: `${bill.billNo}R0`,
      billNo: bill.billNo,
      channel: 'TT_MINI',
      amount: 100,
      billAmount: 1280,
      orderNo: bill.orderNo,
    });
    expect(early).toMatchObject({ outcome: 'refused', retryable: false });
    await payAsShopper(orderInfo).expect(200);
    await waitUntil(() => receiver.hits.length === 1, 5000, 'the payment callback');

    const refund = (refundNo: string, amount: number) =>
      subject.createRefund({
        refundNo,
        billNo: bill.billNo,
        channel: 'TT_MINI',
        amount,
        billAmount: 1280,
        reason: '退货',
        orderNo: bill.orderNo,
      });
    expect(await refund(`${bill.billNo}R1`, 280)).toMatchObject({
      outcome: 'accepted',
      providerId: expect.any(String),
    });
    await waitUntil(() => receiver.hits.length === 2, 5000, 'the refund callback');
    await expect(subject.readNotification(messageOf(receiver.hits[1]))).resolves.toMatchObject({
      type: 'refund.succeeded',
      refundNo: `${bill.billNo}R1`,
      amount: 280,
    });
    await expect(subject.queryRefund(`${bill.billNo}R1`, 'TT_MINI')).resolves.toMatchObject({
      found: true,
      state: 'succeeded',
    });
    expect(await refund(`${bill.billNo}R2`, 1001)).toMatchObject({ outcome: 'refused' });
    expect(await refund(`${bill.billNo}R2`, 1000)).toMatchObject({ outcome: 'accepted' });
    // The same refund asked again with the same parameters is the same refund, not a second one.
    expect(await refund(`${bill.billNo}R2`, 1000)).toMatchObject({ outcome: 'accepted' });
    await expect(subject.queryRefund('NOSUCHREFUND', 'TT_MINI')).resolves.toEqual({ found: false });
  });

  it('should answer null for an order Douyin never had, and an unreadable or unsigned call as unknown or refused', async () => {
    const subject = provider();
    await expect(subject.queryBill('NOSUCHBILL0001', 'TT_MINI')).resolves.toBeNull();
    const wrongSalt = await provider({ salt: 'not-the-salt' }).openBill(billRequest());
    expect(wrongSalt).toMatchObject({ outcome: 'refused', error: { code: 'GATEWAY_ERROR' } });
    const unreachable = await provider({ baseUrl: 'http://127.0.0.1:9' }).openBill(billRequest());
    expect(unreachable).toMatchObject({ outcome: 'unknown', error: { code: 'GATEWAY_UNAVAILABLE' } });
    expect(await failure(provider({ baseUrl: 'http://127.0.0.1:9' }).queryBill('X1', 'TT_MINI'))).toMatchObject({
      code: 'GATEWAY_UNAVAILABLE',
    });
    expect(await subject.openBill(billRequest({ channel: 'WX_MINI' }))).toMatchObject({ outcome: 'refused' });
  });

  it('should answer a repeated pre-order with the same order, and refuse one number for two orders', async () => {
    const subject = provider();
    const bill = billRequest();
    const first = await openedBill(subject, bill);
    const again = await openedBill(subject, bill);
    expect(again.orderInfo).toEqual(first.orderInfo);
    expect(await subject.openBill({ ...bill, amount: 1 })).toMatchObject({ outcome: 'refused' });
  });

  it('should close an unpaid order at its valid_time, as the settle control can', async () => {
    const subject = provider();
    const { bill } = await openedBill(subject, billRequest({ timeoutSeconds: 60 }));
    await expect(subject.queryBill(bill.billNo, 'TT_MINI')).resolves.toMatchObject({ outcome: 'unknown' });
    sandboxAhead = 60_000;
    await expect(subject.queryBill(bill.billNo, 'TT_MINI')).resolves.toMatchObject({ outcome: 'closed' });
    const other = await openedBill(subject);
    const settled = await request(running.url)
      .post(`/sandbox/douyin/orders/${other.bill.billNo}/settle`)
      .send({ result: 'closed' })
      .expect(200);
    expect(settled.body.order).toMatchObject({ system: 'guaranteed', status: 'closed', totalAmount: 1280 });
    await expect(subject.queryBill(other.bill.billNo, 'TT_MINI')).resolves.toMatchObject({ outcome: 'closed' });
    const listed = await request(running.url).get('/sandbox/douyin/orders').expect(200);
    expect(listed.body.orders).toHaveLength(2);
  });
});
