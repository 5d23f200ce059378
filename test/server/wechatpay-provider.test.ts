import { createCipheriv } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { createWechatPay } from '../../server/adapters/payments/wechatpay';
import { WechatPayClient, type WechatPayClientOptions } from '../../server/adapters/payments/wechatpay/client';
import { WechatPayProvider } from '../../server/adapters/payments/wechatpay/provider';
import { parseTradeBill, yuanToFen } from '../../server/adapters/payments/wechatpay/trade-bill';
import { AppError } from '../../server/domain/errors';
import type { OpenBillRequest, PaymentProvider, ProviderMessage } from '../../server/domain/payment-provider';
import type { WechatPaySandboxKeys } from '../../server/sandbox/wechatpay';
import {
  eachTestWechatPaySandbox,
  newOutTradeNo,
  opensslSign,
  opensslVerify,
  sandboxClient,
  waitUntil,
  type ListeningSandbox,
  type NotifyReceiver,
} from '../support/wechatpay';
import { failure } from '../support/failure';

/*
 * WechatPayProvider, the WeChat Pay APIv3 adapter of the domain's PaymentProvider contract,
 * against the WeChat Pay sandbox over real HTTP: each operation's mapping, refusals and unknown
 * outcomes (faults injected at the sandbox), notifications verified or refused, the trade bill,
 * and both ways WeChat signs (platform certificates, 微信支付公钥).
 */

const DAY_MS = 24 * 60 * 60 * 1000;

/** The provider as the domain sees it (the contract's signatures), with the close WeChat Pay has. */
type Provider = PaymentProvider & Required<Pick<PaymentProvider, 'closeBill'>>;
const asContract = (provider: WechatPayProvider): Provider => provider;
const OPENID = 'oProviderPayer000000000000001';

/** `YYYY-MM-DD` of `ms` in China time. */
const chinaDay = (ms: number) => new Date(ms + 8 * 60 * 60 * 1000).toISOString().slice(0, 10);

function messageOf(hit: { headers: http.IncomingHttpHeaders; body: string }): ProviderMessage {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(hit.headers)) headers[name] = Array.isArray(value) ? value[0] : value;
  return { rawBody: hit.body, headers };
}

describe('WechatPayProvider against the WeChat Pay sandbox', () => {
  let keys: WechatPaySandboxKeys;
  let running: ListeningSandbox;
  let receiver: NotifyReceiver;

  eachTestWechatPaySandbox((fixture) => {
    ({ keys, running, receiver } = fixture);
  });

  /** Both ways WeChat signs are configured: certificates and the 微信支付公钥. */
  const clientOf = (overrides: Partial<WechatPayClientOptions> = {}): WechatPayClient =>
    sandboxClient(running.url, keys, {
      platformPublicKey: { id: keys.platformPublicKeyId, pem: keys.platformPublicKey },
      ...overrides,
    });

  const providerOf = (overrides: Partial<WechatPayClientOptions> = {}) =>
    asContract(new WechatPayProvider({ client: clientOf(overrides), notifyUrl: receiver.url }));

  function billRequest(overrides: Partial<OpenBillRequest> = {}): OpenBillRequest {
    return {
      billNo: newOutTradeNo('PV'),
      orderNo: 'ORDER-0001',
      channel: 'WX_MINI',
      amount: 1999,
      title: 'Ceramic mug',
      expiresAt: new Date(Math.floor(Date.now() / 1000) * 1000 + 15 * 60 * 1000),
      timeoutSeconds: 900,
      openid: OPENID,
      ...overrides,
    };
  }

  const control = () => request(running.url);
  const fault = (body: Record<string, unknown>) => control().post('/sandbox/wechatpay/faults').send(body).expect(201);
  const settle = (billNo: string, body: Record<string, unknown>) =>
    control().post(`/sandbox/wechatpay/transactions/${billNo}/settle`).send(body).expect(200);
  async function sandboxTransaction(billNo: string) {
    const listed = await control().get('/sandbox/wechatpay/transactions').query({ out_trade_no: billNo }).expect(200);
    return listed.body.transactions[0] as Record<string, unknown> | undefined;
  }
  async function paidBill(provider: Provider, amount = 1999): Promise<string> {
    const request = billRequest({ amount });
    expect((await provider.openBill(request)).outcome).toBe('created');
    await settle(request.billNo, { result: 'paid', notify: false });
    return request.billNo;
  }

  describe('openBill', () => {
    it('should prepay with the bill and answer requestPayment signed RSA over appId, timeStamp, nonceStr and package', async () => {
      const request = billRequest();
      const created = await providerOf().openBill(request);
      if (created.outcome !== 'created') throw new Error(`not created: ${created.outcome}`);
      const transaction = await sandboxTransaction(request.billNo);
      expect(transaction).toMatchObject({
        amount: { total: 1999 },
        trade_state: 'NOTPAY',
        openid: OPENID,
        notify_url: receiver.url,
        time_expire: request.expiresAt.getTime(),
      });
      expect(created.bill.providerId).toBe(transaction?.prepay_id);
      const { requestPayment } = created.bill.clientParams as Extract<
        typeof created.bill.clientParams,
        { channel: 'WX_MINI' }
      >;
      expect(created.bill.clientParams.channel).toBe('WX_MINI');
      expect(requestPayment).toMatchObject({ package: `prepay_id=${transaction?.prepay_id}`, signType: 'RSA' });
      expect(
        opensslVerify(
          `${keys.appid}\n${requestPayment.timeStamp}\n${requestPayment.nonceStr}\n${requestPayment.package}\n`,
          requestPayment.paySign,
          keys.merchantPublicKey,
        ),
      ).toBe(true);
      // attach carries the order back in queries and notifications.
      const state = await providerOf().queryBill(request.billNo, 'WX_MINI');
      expect(state?.detail).toMatchObject({ attach: 'ORDER-0001' });
    });

    it('should answer refused with GATEWAY_ERROR and WeChat’s code for a verified refusal, GATEWAY_UNAVAILABLE for FREQUENCY_LIMITED', async () => {
      const otherApp = await providerOf({ appid: 'wx00000000000000ff' }).openBill(billRequest());
      expect(otherApp).toMatchObject({ outcome: 'refused', error: { code: 'GATEWAY_ERROR' } });
      if (otherApp.outcome !== 'refused') return;
      expect(AppError.is(otherApp.error)).toBe(true);
      expect(otherApp.error.details).toMatchObject({ code: 'APPID_MCHID_NOT_MATCH', status: 400 });

      await fault({ operation: 'prepay', http_status: 429 });
      const limited = await providerOf().openBill(billRequest());
      expect(limited).toMatchObject({ outcome: 'refused', error: { code: 'GATEWAY_UNAVAILABLE' } });

      const noOpenid = await providerOf().openBill(billRequest({ openid: undefined }));
      expect(noOpenid).toMatchObject({ outcome: 'refused', error: { code: 'GATEWAY_ERROR' } });
    });

    it('should answer unknown (GATEWAY_UNAVAILABLE) for a 5xx after the prepay, an unsigned answer, and no answer', async () => {
      await fault({ operation: 'prepay', http_status: 500, after: true });
      const afterWork = billRequest();
      expect(await providerOf().openBill(afterWork)).toMatchObject({
        outcome: 'unknown',
        error: { code: 'GATEWAY_UNAVAILABLE' },
      });
      // The order exists at WeChat Pay: only a query can tell what became of it.
      expect(await sandboxTransaction(afterWork.billNo)).toMatchObject({ trade_state: 'NOTPAY' });
      expect(await providerOf().queryBill(afterWork.billNo, 'WX_MINI')).toMatchObject({
        outcome: 'unknown',
        amount: 1999,
      });

      await fault({ operation: 'prepay', http_status: 400, code: 'PARAM_ERROR', signed: false });
      expect(await providerOf().openBill(billRequest())).toMatchObject({
        outcome: 'unknown',
        error: { code: 'GATEWAY_UNAVAILABLE' },
      });

      const nobody = asContract(
        new WechatPayProvider({
          client: clientOf({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 2000 }),
          notifyUrl: receiver.url,
        }),
      );
      expect(await nobody.openBill(billRequest())).toMatchObject({
        outcome: 'unknown',
        error: { code: 'GATEWAY_UNAVAILABLE' },
      });
    });

    it('should answer unknown when WeChat says the order exists already (ORDERPAID)', async () => {
      const provider = providerOf();
      const request = billRequest();
      await provider.openBill(request);
      await settle(request.billNo, { result: 'paid', notify: false });
      expect(await provider.openBill(request)).toMatchObject({ outcome: 'unknown', error: { code: 'GATEWAY_ERROR' } });
    });
  });

  describe('queryBill and closeBill', () => {
    it('should map trade_state: NOTPAY unknown, SUCCESS and REFUND paid with amount.total and transaction_id, CLOSED closed', async () => {
      const provider = providerOf();
      expect(await provider.queryBill('NOSUCHBILL0001', 'WX_MINI')).toBeNull();

      const request = billRequest({ amount: 2599 });
      await provider.openBill(request);
      expect(await provider.queryBill(request.billNo, 'WX_MINI')).toMatchObject({
        billNo: request.billNo,
        outcome: 'unknown',
      });
      await settle(request.billNo, { result: 'paid', notify: false });
      const paid = await provider.queryBill(request.billNo, 'WX_MINI');
      const transaction = await sandboxTransaction(request.billNo);
      expect(paid).toMatchObject({ outcome: 'paid', amount: 2599, tradeNo: transaction?.transaction_id });
      expect(paid?.tradeNo).toMatch(/^\d{28}$/);

      await provider.createRefund({
        refundNo: `${request.billNo}R`,
        billNo: request.billNo,
        channel: 'WX_MINI',
        amount: 100,
        billAmount: 2599,
        orderNo: request.orderNo,
      });
      expect(await provider.queryBill(request.billNo, 'WX_MINI')).toMatchObject({ outcome: 'paid', amount: 2599 });

      const closed = billRequest();
      await provider.openBill(closed);
      await settle(closed.billNo, { result: 'closed' });
      expect(await provider.queryBill(closed.billNo, 'WX_MINI')).toMatchObject({ outcome: 'closed' });
    });

    it('should throw GATEWAY_UNAVAILABLE when a query is not heard, GATEWAY_ERROR with the code when it is refused', async () => {
      const provider = providerOf();
      await fault({ operation: 'query', http_status: 503 });
      expect(await failure(provider.queryBill('ANYBILL00001', 'WX_MINI'))).toMatchObject({
        code: 'GATEWAY_UNAVAILABLE',
      });
      await fault({ operation: 'query', http_status: 403, code: 'NO_AUTH', message: '商户无权限' });
      const refused = await failure(provider.queryBill('ANYBILL00001', 'WX_MINI'));
      expect(refused).toMatchObject({ code: 'GATEWAY_ERROR', details: { code: 'NO_AUTH', status: 403 } });
    });

    it('should close an unpaid bill, answer paid for one paid meanwhile, closed for one WeChat never had', async () => {
      const provider = providerOf();
      const unpaid = billRequest();
      await provider.openBill(unpaid);
      expect(await provider.closeBill(unpaid.billNo, 'WX_MINI')).toBe('closed');
      expect(await sandboxTransaction(unpaid.billNo)).toMatchObject({ trade_state: 'CLOSED' });
      expect(await provider.closeBill(unpaid.billNo, 'WX_MINI')).toBe('closed');

      const paid = await paidBill(provider);
      expect(await provider.closeBill(paid, 'WX_MINI')).toBe('paid');
      expect(await sandboxTransaction(paid)).toMatchObject({ trade_state: 'SUCCESS' });

      expect(await provider.closeBill('NEVEROPENED001', 'WX_MINI')).toBe('closed');

      await fault({ operation: 'close', http_status: 429 });
      expect(await failure(provider.closeBill(unpaid.billNo, 'WX_MINI'))).toMatchObject({
        code: 'GATEWAY_UNAVAILABLE',
      });
    });

    it('should refuse (GATEWAY_ERROR) when WeChat will not close a bill that is still payable', async () => {
      const provider = providerOf();
      const request = billRequest();
      await provider.openBill(request);
      await fault({ operation: 'close', http_status: 403, code: 'TRADE_ERROR', message: '交易错误' });
      expect(await failure(provider.closeBill(request.billNo, 'WX_MINI'))).toMatchObject({
        code: 'GATEWAY_ERROR',
        details: { code: 'TRADE_ERROR' },
      });
      expect(await sandboxTransaction(request.billNo)).toMatchObject({ trade_state: 'NOTPAY' });
    });
  });

  describe('refunds', () => {
    const refundOf = (billNo: string, refundNo: string, amount: number, billAmount = 1999) => ({
      refundNo,
      billNo,
      channel: 'WX_MINI' as const,
      amount,
      billAmount,
      reason: '尺码不合适',
      orderNo: 'ORDER-0001',
    });

    it('should accept a refund with its refund_id, send notify_url and reason, and refuse one beyond what was paid', async () => {
      const provider = providerOf();
      const billNo = await paidBill(provider);
      const accepted = await provider.createRefund(refundOf(billNo, `${billNo}R1`, 500));
      const listed = await control().get('/sandbox/wechatpay/refunds').query({ out_trade_no: billNo }).expect(200);
      expect(listed.body.refunds).toEqual([
        expect.objectContaining({ out_refund_no: `${billNo}R1`, amount: expect.objectContaining({ refund: 500 }) }),
      ]);
      expect(accepted).toEqual({ outcome: 'accepted', providerId: listed.body.refunds[0].refund_id });

      const beyond = await provider.createRefund(refundOf(billNo, `${billNo}R2`, 1500));
      expect(beyond).toMatchObject({ outcome: 'refused', retryable: false });
      if (beyond.outcome === 'refused') expect(beyond.reason).toMatch(/INVALID_REQUEST/);
    });

    it('should call FREQUENCY_LIMITED and NOT_ENOUGH retryable refusals, a 5xx after the work or an unsigned answer unknown', async () => {
      const provider = providerOf();
      const billNo = await paidBill(provider);
      await fault({ operation: 'refund', http_status: 429 });
      expect(await provider.createRefund(refundOf(billNo, `${billNo}R1`, 100))).toMatchObject({
        outcome: 'refused',
        retryable: true,
      });
      await fault({ operation: 'refund', http_status: 403, code: 'NOT_ENOUGH', message: '余额不足' });
      expect(await provider.createRefund(refundOf(billNo, `${billNo}R1`, 100))).toMatchObject({
        outcome: 'refused',
        retryable: true,
      });
      await fault({ operation: 'refund', http_status: 403, code: 'USER_ACCOUNT_ABNORMAL', message: '用户账户异常' });
      expect(await provider.createRefund(refundOf(billNo, `${billNo}R1`, 100))).toMatchObject({
        outcome: 'refused',
        retryable: false,
      });

      await fault({ operation: 'refund', http_status: 500, after: true });
      expect(await provider.createRefund(refundOf(billNo, `${billNo}R1`, 100))).toMatchObject({ outcome: 'unknown' });
      // It was made: the same request again refunds once ("同一退款单号多次请求只退一笔").
      expect(await provider.queryRefund(`${billNo}R1`, 'WX_MINI')).toMatchObject({ found: true });
      expect(await provider.createRefund(refundOf(billNo, `${billNo}R1`, 100))).toMatchObject({ outcome: 'accepted' });

      await fault({ operation: 'refund', http_status: 400, code: 'INVALID_REQUEST', signed: false });
      expect(await provider.createRefund(refundOf(billNo, `${billNo}R2`, 100))).toMatchObject({ outcome: 'unknown' });
    });

    it('should query a refund: PROCESSING and ABNORMAL pending, SUCCESS succeeded, CLOSED failed, none found: false', async () => {
      const provider = providerOf();
      const billNo = await paidBill(provider);
      await control().post('/sandbox/wechatpay/refunds/hold').send({ count: 3 }).expect(201);
      for (const suffix of ['A', 'B', 'C']) await provider.createRefund(refundOf(billNo, `${billNo}${suffix}`, 100));
      expect(await provider.queryRefund(`${billNo}A`, 'WX_MINI')).toMatchObject({ found: true, state: 'pending' });

      const finish = (refundNo: string, result: string) =>
        control().post(`/sandbox/wechatpay/refunds/${refundNo}/settle`).send({ result, notify: false }).expect(200);
      await finish(`${billNo}A`, 'success');
      await finish(`${billNo}B`, 'abnormal');
      await finish(`${billNo}C`, 'closed');
      expect(await provider.queryRefund(`${billNo}A`, 'WX_MINI')).toMatchObject({ found: true, state: 'succeeded' });
      // 退款异常: the money left the merchant; it is sent on by hand, never offered for refunding again.
      expect(await provider.queryRefund(`${billNo}B`, 'WX_MINI')).toMatchObject({
        found: true,
        state: 'pending',
        reason: expect.stringMatching(/^ABNORMAL/),
      });
      expect(await provider.queryRefund(`${billNo}C`, 'WX_MINI')).toMatchObject({
        found: true,
        state: 'failed',
        reason: expect.stringMatching(/^CLOSED/),
      });
      expect(await provider.queryRefund('NOSUCHREFUND01', 'WX_MINI')).toEqual({ found: false });

      await fault({ operation: 'refund_query', http_status: 500 });
      expect(await failure(provider.queryRefund(`${billNo}A`, 'WX_MINI'))).toMatchObject({
        code: 'GATEWAY_UNAVAILABLE',
      });
    });
  });

  describe('readNotification', () => {
    async function delivered(count: number) {
      await waitUntil(() => receiver.hits.length >= count, 5000, `notification ${count}`);
      return messageOf(receiver.hits[count - 1]);
    }

    it('should read TRANSACTION.SUCCESS, REFUND.SUCCESS and REFUND.ABNORMAL (kept for a person, never a failure) from what the sandbox sends', async () => {
      const provider = providerOf();
      const request = billRequest({ amount: 2500 });
      await provider.openBill(request);
      await settle(request.billNo, { result: 'paid' });
      const payment = await provider.readNotification(await delivered(1));
      const transaction = await sandboxTransaction(request.billNo);
      expect(payment).toMatchObject({
        type: 'payment.succeeded',
        billNo: request.billNo,
        amount: 2500,
        tradeNo: transaction?.transaction_id,
      });

      const refund = (refundNo: string, amount: number) =>
        provider.createRefund({
          refundNo,
          billNo: request.billNo,
          channel: 'WX_MINI',
          amount,
          billAmount: 2500,
          orderNo: request.orderNo,
        });
      await refund(`${request.billNo}S`, 700);
      expect(await provider.readNotification(await delivered(2))).toMatchObject({
        type: 'refund.succeeded',
        refundNo: `${request.billNo}S`,
        amount: 700,
      });

      await control().post('/sandbox/wechatpay/refunds/hold').send({ count: 1 }).expect(201);
      await refund(`${request.billNo}X`, 300);
      await control()
        .post(`/sandbox/wechatpay/refunds/${request.billNo}X/settle`)
        .send({ result: 'abnormal' })
        .expect(200);
      expect(await provider.readNotification(await delivered(3))).toMatchObject({
        type: 'not_ours',
        kind: 'REFUND.ABNORMAL',
        reference: `${request.billNo}X`,
        amount: 300,
        reason: expect.stringMatching(/^退款异常/),
      });
    });

    it('should refuse a tampered, unsigned, stale or unknown-serial notification with WEBHOOK_SIGNATURE_INVALID', async () => {
      const provider = providerOf();
      const request = billRequest({ amount: 2500 });
      await provider.openBill(request);
      await settle(request.billNo, { result: 'paid' });
      const genuine = await delivered(1);

      const tampered = { ...genuine, rawBody: genuine.rawBody.replace('"id":"', '"id":"X') };
      const unsigned = { rawBody: genuine.rawBody, headers: { 'content-type': 'application/json' } };
      const unknownSerial = {
        ...genuine,
        headers: { ...genuine.headers, 'wechatpay-serial': '7D2A1B3C4D5E6F708192A3B4C5D6E7F801234567' },
      };
      const later = providerOf({ now: () => Date.now() + 10 * 60 * 1000 });
      for (const [reader, message, reason] of [
        [provider, tampered, 'BAD_SIGNATURE'],
        [provider, unsigned, 'MISSING_HEADERS'],
        [provider, unknownSerial, 'UNKNOWN_SERIAL'],
        [later, genuine, 'STALE_TIMESTAMP'],
      ] as const) {
        const error = await failure(reader.readNotification(message));
        expect(error).toMatchObject({ code: 'WEBHOOK_SIGNATURE_INVALID', details: { reason } });
      }
      expect((await provider.readNotification(genuine)).type).toBe('payment.succeeded');
    });

    describe('with messages signed and encrypted here', () => {
      const nonce = 'abcdefghijklmnopqrstuvwxyz012345';
      function signed(body: string): ProviderMessage {
        const certificate = keys.certificates[keys.certificates.length - 1];
        const timestamp = String(Math.floor(Date.now() / 1000));
        return {
          rawBody: body,
          headers: {
            'wechatpay-timestamp': timestamp,
            'wechatpay-nonce': nonce,
            'wechatpay-serial': certificate.serialNo,
            'wechatpay-signature': opensslSign(`${timestamp}\n${nonce}\n${body}\n`, certificate.privateKeyPem),
          },
        };
      }
      function encrypted(plaintext: string) {
        const iv = 'a1b2c3d4e5f6';
        const cipher = createCipheriv('aes-256-gcm', Buffer.from(keys.apiV3Key), Buffer.from(iv));
        cipher.setAAD(Buffer.from('transaction'));
        const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
        return {
          algorithm: 'AEAD_AES_256_GCM',
          ciphertext: sealed.toString('base64'),
          associated_data: 'transaction',
          nonce: iv,
          original_type: 'transaction',
        };
      }

      it('should call a verified event this checkout does not handle not_ours, and a signed body that is not a notification WEBHOOK_INVALID', async () => {
        const provider = providerOf();
        const body = JSON.stringify({
          id: 'EV-2026-0001',
          create_time: '2026-11-01T10:00:00+08:00',
          resource_type: 'encrypt-resource',
          event_type: 'TRANSACTION.CLOSED',
          summary: '支付关闭',
          resource: encrypted(JSON.stringify({ mchid: keys.mchid, out_trade_no: 'PV0001' })),
        });
        expect(await provider.readNotification(signed(body))).toMatchObject({
          type: 'not_ours',
          kind: 'TRANSACTION.CLOSED',
          reference: 'EV-2026-0001',
        });
        for (const text of ['not json', '{"id":"EV-2"}']) {
          expect(await failure(provider.readNotification(signed(text)))).toMatchObject({ code: 'WEBHOOK_INVALID' });
        }
      });
    });
  });

  describe('listTransactions', () => {
    it('should list a day’s payments from the trade bill in exact fen, with transaction_id and payment time', async () => {
      const provider = providerOf();
      const paidAt = Date.now() - 2 * DAY_MS;
      const day = chinaDay(paidAt);
      const bills: Record<string, number> = {};
      for (const amount of [1999, 1, 100_001, 10]) {
        const request = billRequest({ amount });
        await provider.openBill(request);
        await settle(request.billNo, { result: 'paid', notify: false, success_time: paidAt });
        bills[request.billNo] = amount;
      }
      const otherDay = billRequest({ amount: 77 });
      await provider.openBill(otherDay);
      await settle(otherDay.billNo, { result: 'paid', notify: false, success_time: paidAt - DAY_MS });
      await paidBill(provider, 55);

      const listed = await provider.listTransactions(day);
      expect(listed).toHaveLength(4);
      for (const transaction of listed) {
        const queried = await provider.queryBill(transaction.billNo, 'WX_MINI');
        expect(transaction).toEqual({
          billNo: transaction.billNo,
          tradeNo: queried?.tradeNo,
          amount: bills[transaction.billNo],
          paidAt: new Date(Math.floor(paidAt / 1000) * 1000),
          state: 'paid',
        });
      }
      expect(listed.map((transaction) => transaction.billNo).sort()).toEqual(Object.keys(bills).sort());
    });

    it('should answer [] for a day without payments and GATEWAY_UNAVAILABLE while the day’s bill is not made', async () => {
      const provider = providerOf();
      expect(await provider.listTransactions(chinaDay(Date.now() - 5 * DAY_MS))).toEqual([]);
      expect(await failure(provider.listTransactions(chinaDay(Date.now())))).toMatchObject({
        code: 'GATEWAY_UNAVAILABLE',
        details: { code: 'STATEMENT_CREATING' },
      });
      expect(await failure(provider.listTransactions('2026/11/01'))).toMatchObject({ code: 'VALIDATION_FAILED' });
    });

    it('should refuse a downloaded bill whose SHA1 is not the hash_value (the download is not signed)', async () => {
      const paidAt = Date.now() - 2 * DAY_MS;
      const honest = providerOf();
      const request = billRequest({ amount: 1999 });
      await honest.openBill(request);
      await settle(request.billNo, { result: 'paid', notify: false, success_time: paidAt });

      // A proxy in front of the sandbox that changes the bill on its way: 19.99 becomes 99.99.
      const proxy = http.createServer((incoming, outgoing) => {
        const forward = http.request(
          new URL(incoming.url ?? '/', running.url),
          { method: incoming.method, headers: incoming.headers },
          (answer) => {
            const chunks: Buffer[] = [];
            answer.on('data', (chunk: Buffer) => chunks.push(chunk));
            answer.on('end', () => {
              let body = Buffer.concat(chunks);
              if (incoming.url?.startsWith('/v3/billdownload/'))
                body = Buffer.from(body.toString().replaceAll('`19.99', '`99.99'));
              const headers = { ...answer.headers, 'content-length': String(body.length) };
              delete headers['transfer-encoding'];
              outgoing.writeHead(answer.statusCode ?? 502, headers);
              outgoing.end(body);
            });
          },
        );
        incoming.pipe(forward);
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      try {
        const proxied = asContract(
          new WechatPayProvider({
            client: clientOf({ baseUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` }),
            notifyUrl: receiver.url,
          }),
        );
        expect(await failure(proxied.listTransactions(chinaDay(paidAt)))).toMatchObject({ code: 'GATEWAY_ERROR' });
        expect(await honest.listTransactions(chinaDay(paidAt))).toEqual([
          expect.objectContaining({ billNo: request.billNo, amount: 1999 }),
        ]);
      } finally {
        proxy.closeAllConnections();
        await new Promise<void>((resolve) => proxy.close(() => resolve()));
      }
    });
  });

  describe('platform certificates and the 微信支付公钥', () => {
    it('should work with certificates alone in certificate mode, and leave outcomes unknown once answers name a key it lacks', async () => {
      const certificatesOnly = providerOf({ platformPublicKey: undefined });
      const request = billRequest();
      expect((await certificatesOnly.openBill(request)).outcome).toBe('created');
      expect(await certificatesOnly.queryBill(request.billNo, 'WX_MINI')).toMatchObject({ outcome: 'unknown' });

      await control().post('/sandbox/wechatpay/mode').send({ mode: 'public_key' }).expect(200);
      expect(await certificatesOnly.openBill(billRequest())).toMatchObject({
        outcome: 'unknown',
        error: { code: 'GATEWAY_UNAVAILABLE', details: { reason: 'UNKNOWN_SERIAL' } },
      });
      expect(await failure(certificatesOnly.queryBill(request.billNo, 'WX_MINI'))).toMatchObject({
        code: 'GATEWAY_UNAVAILABLE',
      });
    });

    it('should work with the 微信支付公钥 alone in public-key mode, notifications included, never downloading certificates', async () => {
      await control().post('/sandbox/wechatpay/mode').send({ mode: 'public_key' }).expect(200);
      const client = clientOf({ platformCertificates: false });
      const provider = asContract(new WechatPayProvider({ client, notifyUrl: receiver.url }));
      const request = billRequest({ amount: 4200 });
      expect((await provider.openBill(request)).outcome).toBe('created');
      await settle(request.billNo, { result: 'paid' });
      await waitUntil(() => receiver.hits.length === 1, 5000, 'TRANSACTION.SUCCESS');
      expect(receiver.hits[0].headers['wechatpay-serial']).toBe(keys.platformPublicKeyId);
      expect(await provider.readNotification(messageOf(receiver.hits[0]))).toMatchObject({
        type: 'payment.succeeded',
        amount: 4200,
      });
      expect(await provider.closeBill(request.billNo, 'WX_MINI')).toBe('paid');
      expect(client.platformKeys.downloads).toBe(0);
    });

    it('should be built by createWechatPay from the sandbox’s development keys, and verify in either mode', async () => {
      const built = await createWechatPay({
        wechatpay: { baseUrl: undefined, merchant: undefined },
        appid: keys.appid,
        notifyUrl: receiver.url,
        sandbox: { url: running.url },
        timeoutMs: 5000,
      });
      const { client } = built;
      const provider = asContract(built.provider);
      const request = billRequest();
      expect((await provider.openBill(request)).outcome).toBe('created');
      await control().post('/sandbox/wechatpay/mode').send({ mode: 'public_key' }).expect(200);
      expect(await provider.queryBill(request.billNo, 'WX_MINI')).toMatchObject({ outcome: 'unknown' });
      expect(provider.id).toBe('wechatpay');
      expect([...provider.channels]).toEqual(['WX_MINI']);
      // The development keys hold the 微信支付公钥, whose id each request names: answers come signed with it.
      expect(client.platformKeys.downloads).toBe(0);
      await expect(
        createWechatPay({ wechatpay: { baseUrl: undefined }, appid: keys.appid, notifyUrl: receiver.url }),
      ).rejects.toThrow(/needs the sandbox/);
    });
  });
});

describe('the trade bill parser', () => {
  it('should turn yuan into fen by its digits', () => {
    expect(['0.01', '19.99', '1000.01', '3', '0.1', '-0.05', '90071992547.40'].map(yuanToFen)).toEqual([
      1, 1999, 100_001, 300, 10, -5, 9_007_199_254_740,
    ]);
    for (const bad of ['', '1.999', '1,00', '0x10', '1e3', '.5']) expect(() => yuanToFen(bad)).toThrow(/amount/);
  });

  it('should read columns by their header names and stop at the summary', () => {
    const text = [
      '交易时间,商户订单号,微信订单号,交易状态,订单金额,商品名称',
      '`2026-11-01 10:00:00,`PV0001,`4200000000000000000000000001,`SUCCESS,`19.99,`杯子, 大号',
      '总交易单数,订单总金额',
      '`1,`19.99',
    ].join('\n');
    expect(parseTradeBill(text)).toEqual([
      {
        time: new Date('2026-11-01T02:00:00Z'),
        transactionId: '4200000000000000000000000001',
        outTradeNo: 'PV0001',
        tradeState: 'SUCCESS',
        total: 1999,
        refund: 0,
        outRefundNo: '',
      },
    ]);
    expect(() => parseTradeBill('交易时间,商户订单号\n`2026-11-01 10:00:00,`PV0001')).toThrow(/no column/);
    expect(() => parseTradeBill(text.replace('`SUCCESS,', 'SUCCESS,'))).toThrow(/fields/);
  });
});
