import { createSign } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { observedProvider } from '../../server/adapters/observability/upstreams';
import { WechatPayClient } from '../../server/adapters/payments/wechatpay/client';
import { WechatPayProvider } from '../../server/adapters/payments/wechatpay/provider';
import { encryptResource } from '../../server/sandbox/wechatpay/protocol';
import type { PaymentProvider, ProviderMessage } from '../../server/domain/payment-provider';
import type { WechatPaySandboxKeys } from '../../server/sandbox/wechatpay';
import {
  listenSandbox,
  newOutTradeNo,
  sharedKeys,
  startNotifyReceiver,
  type ListeningSandbox,
  type NotifyReceiver,
} from '../support/wechatpay';
import { failure } from '../support/failure';

/*
 * How WeChat Pay's answers are classified and trusted, against the sandbox over real HTTP: the
 * outcome every operation is counted under (one rule for all of them), answers and notifications
 * that bring a signing header twice, and SYSTEM_ERROR, which leaves a refund's outcome unknown.
 */

/**
 * An HTTP relay in front of the sandbox that adds `extra(name)` as a second value of each
 * `Wechatpay-*` header named in `repeat` of every answer, as a tampering middlebox could.
 */
async function startRelay(
  target: string,
  repeat: readonly string[],
  extra: (name: string, value: string) => string,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const upstream = http.request(
        new URL(incoming.url ?? '/', target),
        { method: incoming.method, headers: { ...incoming.headers, host: new URL(target).host } },
        (answer) => {
          const body: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => body.push(chunk));
          answer.on('end', () => {
            const headers: Record<string, string | string[]> = {};
            for (const [name, value] of Object.entries(answer.headers)) {
              if (value === undefined || name === 'transfer-encoding' || name === 'connection') continue;
              headers[name] = repeat.includes(name) && typeof value === 'string' ? [value, extra(name, value)] : value;
            }
            outgoing.writeHead(answer.statusCode ?? 502, headers);
            outgoing.end(Buffer.concat(body));
          });
        },
      );
      upstream.on('error', () => outgoing.destroy());
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('WeChat Pay answers: how each is counted and trusted', () => {
  let keys: WechatPaySandboxKeys;
  let running: ListeningSandbox;
  let receiver: NotifyReceiver;

  beforeAll(async () => {
    keys = await sharedKeys();
  });
  beforeEach(async () => {
    running = await listenSandbox(keys);
    receiver = await startNotifyReceiver();
  });
  afterEach(async () => {
    await running.close();
    await receiver.close();
  });

  function providerAt(baseUrl: string): WechatPayProvider {
    const client = new WechatPayClient({
      baseUrl,
      mchid: keys.mchid,
      appid: keys.appid,
      merchantSerialNo: keys.serialNo,
      merchantPrivateKey: keys.merchantPrivateKey,
      apiV3Key: keys.apiV3Key,
      platformPublicKey: { id: keys.platformPublicKeyId, pem: keys.platformPublicKey },
      timeoutMs: 5000,
    });
    return new WechatPayProvider({ client, notifyUrl: receiver.url });
  }

  const control = () => request(running.url);
  const fault = (body: Record<string, unknown>) => control().post('/sandbox/wechatpay/faults').send(body).expect(201);

  const billRequest = (billNo = newOutTradeNo('OC')) => ({
    billNo,
    orderNo: 'ORDER-0001',
    channel: 'WX_MINI' as const,
    amount: 1999,
    title: 'Ceramic mug',
    expiresAt: new Date(Math.floor(Date.now() / 1000) * 1000 + 15 * 60 * 1000),
    timeoutSeconds: 900,
    openid: 'oOutcomesPayer00000000000001',
  });

  async function paidBill(provider: PaymentProvider): Promise<string> {
    const bill = billRequest();
    expect((await provider.openBill(bill)).outcome).toBe('created');
    await control()
      .post(`/sandbox/wechatpay/transactions/${bill.billNo}/settle`)
      .send({ result: 'paid', notify: false })
      .expect(200);
    return bill.billNo;
  }

  describe('upstream outcomes', () => {
    it('should count every operation alike: a 5xx and FREQUENCY_LIMITED unavailable, a verified refusal refused', async () => {
      const observed: string[] = [];
      const provider = observedProvider(providerAt(running.url), (_upstream, operation, outcome) =>
        observed.push(`${operation} ${outcome}`),
      );
      const billNo = await paidBill(provider);
      const refund = (refundNo: string) =>
        provider.createRefund({
          refundNo,
          billNo,
          channel: 'WX_MINI',
          amount: 100,
          billAmount: 1999,
          orderNo: 'ORDER-0001',
        });
      const day = new Date(Date.now() - 2 * 24 * 60 * 60 * 1000 + 8 * 60 * 60 * 1000).toISOString().slice(0, 10);
      const calls: Array<[string, string, () => Promise<unknown>]> = [
        ['prepay', 'create_bill', () => provider.openBill(billRequest())],
        ['query', 'query_bill', () => provider.queryBill(billNo, 'WX_MINI')],
        ['refund', 'create_refund', () => refund(`${billNo}R${observed.length}`)],
        ['refund_query', 'query_refund', () => provider.queryRefund(`${billNo}R0`, 'WX_MINI')],
        ['tradebill', 'list_transactions', () => provider.listTransactions(day)],
        ['close', 'close_bill', () => provider.closeBill!(billNo, 'WX_MINI')],
      ];
      const kinds = [
        { fault: { http_status: 500 }, outcome: 'unavailable' },
        { fault: { http_status: 503, signed: false }, outcome: 'unavailable' },
        { fault: { http_status: 429, code: 'FREQUENCY_LIMITED' }, outcome: 'unavailable' },
        { fault: { http_status: 400, code: 'PARAM_ERROR' }, outcome: 'refused' },
      ];
      const expected: string[] = [];
      observed.length = 0;
      for (const kind of kinds) {
        for (const [operation, counted, call] of calls) {
          // A refused close is followed by a query, which decides: it is no outcome of the close.
          if (operation === 'close' && kind.outcome === 'refused') continue;
          await fault({ operation, ...kind.fault });
          await call().catch(() => undefined);
          expected.push(`${counted} ${kind.outcome}`);
        }
      }
      expect(observed).toEqual(expected);
    });
  });

  describe('signing headers that come twice', () => {
    it('should take an answer bringing a second Wechatpay-* signing header for no answer: the outcome stays unknown', async () => {
      for (const name of ['wechatpay-signature', 'wechatpay-serial', 'wechatpay-nonce', 'wechatpay-timestamp']) {
        // A second, forged signature after the genuine one: Node would join them with ", ".
        const relay = await startRelay(running.url, [name], (header, value) =>
          header === 'wechatpay-signature'
            ? createSign('RSA-SHA256').update('forged\n').sign(keys.platformPrivateKey, 'base64')
            : value,
        );
        try {
          const provider: PaymentProvider = providerAt(relay.url);
          const opened = await provider.openBill(billRequest());
          expect(opened).toMatchObject({ outcome: 'unknown', error: { code: 'GATEWAY_UNAVAILABLE' } });
          const error = await failure(provider.queryBill(newOutTradeNo('OC'), 'WX_MINI'));
          expect(error).toMatchObject({ code: 'GATEWAY_UNAVAILABLE', details: { reason: 'REPEATED_HEADERS' } });
        } finally {
          await relay.close();
        }
      }
    });

    it('should refuse a notification with a signing header twice (as a list, or in two cases) or two signatures in one', async () => {
      const provider = providerAt(running.url);
      const body = JSON.stringify({
        id: 'EV-OUTCOMES-1',
        create_time: '2026-11-01T10:00:00+08:00',
        resource_type: 'encrypt-resource',
        event_type: 'TRANSACTION.CLOSED',
        summary: '支付关闭',
        resource: {
          original_type: 'transaction',
          ...encryptResource(
            JSON.stringify({ mchid: keys.mchid, out_trade_no: 'OC0001' }),
            keys.apiV3Key,
            'transaction',
          ),
        },
      });
      const timestamp = String(Math.floor(Date.now() / 1000));
      const nonce = 'abcdefghijklmnopqrstuvwxyz012345';
      const sign = (text: string) => createSign('RSA-SHA256').update(text).sign(keys.platformPrivateKey, 'base64');
      const signature = sign(`${timestamp}\n${nonce}\n${body}\n`);
      const headers = {
        'wechatpay-timestamp': timestamp,
        'wechatpay-nonce': nonce,
        'wechatpay-signature': signature,
        'wechatpay-serial': keys.platformPublicKeyId,
      };
      const genuine: ProviderMessage = { rawBody: body, headers };
      expect(await provider.readNotification(genuine)).toMatchObject({ type: 'not_ours' });

      const forged = sign('forged\n');
      const refusals: Array<[ProviderMessage, string]> = [
        [{ rawBody: body, headers: { ...headers, 'wechatpay-signature': [signature, forged] } }, 'REPEATED_HEADERS'],
        [{ rawBody: body, headers: { ...headers, 'wechatpay-signature': [forged, signature] } }, 'REPEATED_HEADERS'],
        [{ rawBody: body, headers: { ...headers, 'wechatpay-nonce': [nonce, nonce] } }, 'REPEATED_HEADERS'],
        [{ rawBody: body, headers: { ...headers, 'Wechatpay-Serial': keys.platformPublicKeyId } }, 'REPEATED_HEADERS'],
        [{ rawBody: body, headers: { ...headers, 'wechatpay-signature': `${signature}, ${forged}` } }, 'BAD_SIGNATURE'],
        [{ rawBody: body, headers: { ...headers, 'wechatpay-signature': `${signature}${forged}` } }, 'BAD_SIGNATURE'],
      ];
      for (const [message, reason] of refusals) {
        expect(await failure(provider.readNotification(message))).toMatchObject({
          code: 'WEBHOOK_SIGNATURE_INVALID',
          details: { reason },
        });
      }
    });
  });

  describe('SYSTEM_ERROR on a refund', () => {
    it('should leave the outcome unknown whatever status carries it, so the same request is sent again', async () => {
      const provider = providerAt(running.url);
      const billNo = await paidBill(provider);
      const refund = {
        refundNo: `${billNo}R1`,
        billNo,
        channel: 'WX_MINI' as const,
        amount: 100,
        billAmount: 1999,
        orderNo: 'ORDER-0001',
      };
      for (const status of [400, 403, 500]) {
        await fault({ operation: 'refund', http_status: status, code: 'SYSTEM_ERROR', message: '系统超时' });
        expect(await provider.createRefund(refund)).toMatchObject({
          outcome: 'unknown',
          error: { code: 'GATEWAY_UNAVAILABLE' },
        });
      }
      expect(await provider.createRefund(refund)).toMatchObject({ outcome: 'accepted' });
      expect(provider.idempotentRefunds).toBe(true);
    });
  });
});
