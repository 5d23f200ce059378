import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppError } from '../../server/domain/errors';
import { DouyinTradeClient } from '../../server/adapters/payments/douyin-trade/client';
import { DouyinTradeProvider } from '../../server/adapters/payments/douyin-trade/provider';
import { signCallback } from '../../server/adapters/payments/douyin-trade/signing';
import { generateDouyinPayKeys, type DouyinPaySandboxKeys } from '../../server/sandbox/douyin-pay';

/**
 * The 通用交易系统 adapter against a small Douyin double that records what it is asked: the client
 * token fetched once and reused until shortly before it expires, then renewed; a refusal naming
 * the token drops it; callbacks read into the domain's events.
 */

const APP_ID = 'tt0000000000000001';

interface Recorded {
  path: string;
  token?: string;
  body: Record<string, unknown>;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    request.on('end', () => resolve(text));
  });
}

describe('DouyinTradeProvider', () => {
  let keys: DouyinPaySandboxKeys;
  let server: Server;
  let baseUrl: string;
  const recorded: Recorded[] = [];
  let tokenCount = 0;
  let refuseTokenOnce = false;
  let refusal: { err_no: number; err_msg: string } | undefined;
  let now = Date.UTC(2026, 0, 1);

  beforeAll(async () => {
    keys = await generateDouyinPayKeys();
    server = createServer((request, response) => {
      void readBody(request).then((text) => {
        const body = JSON.parse(text) as Record<string, unknown>;
        const token = request.headers['access-token'] as string | undefined;
        recorded.push({ path: request.url ?? '', token, body });
        response.setHeader('content-type', 'application/json');
        if (request.url === '/oauth/client_token/') {
          tokenCount += 1;
          response.end(
            JSON.stringify({ data: { access_token: `clt.${tokenCount}`, expires_in: 7200, error_code: 0 } }),
          );
          return;
        }
        if (refusal) {
          response.end(JSON.stringify(refusal));
          return;
        }
        if (refuseTokenOnce) {
          refuseTokenOnce = false;
          response.end(JSON.stringify({ err_no: 28001003, err_msg: 'access-token 无效或已过期' }));
          return;
        }
        response.end(
          JSON.stringify({
            err_no: 0,
            err_msg: '',
            data: { order_id: 'ot1', out_order_no: body.out_order_no, total_amount: 100, pay_status: 'SUCCESS' },
          }),
        );
      });
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  function provider(): DouyinTradeProvider {
    const clock = () => now;
    return new DouyinTradeProvider({
      client: new DouyinTradeClient({ baseUrl, appId: APP_ID, secret: 'secret', timeoutMs: 2000, now: clock }),
      appId: APP_ID,
      appPrivateKeyPem: keys.appPrivateKey,
      keyVersion: keys.keyVersion,
      platformPublicKeyPem: keys.platformPublicKey,
      notifyUrl: 'https://shop.example/api/douyin/trade/notify',
      orderPagePath: 'pages/checkout/index',
      now: clock,
    });
  }

  it('should fetch a client token once, reuse it until shortly before it expires, and drop one Douyin refuses', async () => {
    recorded.length = 0;
    const douyin = provider();
    await expect(douyin.queryBill('B1')).resolves.toMatchObject({
      outcome: 'paid',
      amount: 100,
      tradeNo: 'ot1',
    });
    await douyin.queryBill('B2');
    expect(recorded.map((call) => [call.path, call.token])).toEqual([
      ['/oauth/client_token/', undefined],
      ['/api/trade_basic/v1/developer/order_query/', 'clt.1'],
      ['/api/trade_basic/v1/developer/order_query/', 'clt.1'],
    ]);
    expect(recorded[0].body).toEqual({ client_key: APP_ID, client_secret: 'secret', grant_type: 'client_credential' });

    // 7200 s minus the 5-minute margin: renewed before Douyin would refuse it.
    now += 7200_000 - 4 * 60_000;
    recorded.length = 0;
    await douyin.queryBill('B3');
    expect(recorded.map((call) => call.token)).toEqual([undefined, 'clt.2']);

    refuseTokenOnce = true;
    await expect(douyin.queryBill('B4')).rejects.toMatchObject({ code: 'GATEWAY_UNAVAILABLE' });
    recorded.length = 0;
    await douyin.queryBill('B5');
    expect(recorded.map((call) => call.token)).toEqual([undefined, 'clt.3']);
  });

  it('should answer null only when Douyin says the order or refund is missing, never for a missing setting', async () => {
    const douyin = provider();
    try {
      refusal = { err_no: 28001004, err_msg: '订单不存在' };
      await expect(douyin.queryBill('B6')).resolves.toBeNull();
      await expect(douyin.queryRefund('R6')).resolves.toEqual({ found: false });
      refusal = { err_no: 28001004, err_msg: 'app_id不存在' };
      await expect(douyin.queryBill('B6')).rejects.toMatchObject({ code: 'GATEWAY_ERROR' });
      await expect(douyin.queryRefund('R6')).rejects.toMatchObject({ code: 'GATEWAY_ERROR' });
    } finally {
      refusal = undefined;
    }
  });

  function signed(type: string, msg: Record<string, unknown>) {
    const rawBody = JSON.stringify({ version: '2.0', type, msg: JSON.stringify(msg) });
    const headers = Object.fromEntries(
      Object.entries(signCallback(rawBody, keys.platformPrivateKey, now / 1000)).map(([name, value]) => [
        name.toLowerCase(),
        value,
      ]),
    );
    return { rawBody, headers };
  }

  it('should read verified callbacks into payments, refunds, and what it never acts on', async () => {
    const douyin = provider();
    await expect(
      douyin.readNotification(
        signed('payment', {
          app_id: APP_ID,
          status: 'SUCCESS',
          out_order_no: 'B1',
          order_id: 'ot1',
          total_amount: 100,
        }),
      ),
    ).resolves.toMatchObject({ type: 'payment.succeeded', billNo: 'B1', amount: 100, tradeNo: 'ot1' });
    await expect(
      douyin.readNotification(
        signed('refund', { app_id: APP_ID, status: 'SUCCESS', out_refund_no: 'R1', refund_total_amount: 40 }),
      ),
    ).resolves.toMatchObject({ type: 'refund.succeeded', refundNo: 'R1', amount: 40 });
    await expect(
      douyin.readNotification(
        signed('refund', { app_id: APP_ID, status: 'FAIL', out_refund_no: 'R2', refund_total_amount: 40 }),
      ),
    ).resolves.toMatchObject({ type: 'refund.failed', refundNo: 'R2' });
    await expect(
      douyin.readNotification(
        signed('payment', { app_id: APP_ID, status: 'CANCEL', out_order_no: 'B2', total_amount: 100 }),
      ),
    ).resolves.toMatchObject({ type: 'payment.closed', billNo: 'B2' });
    await expect(
      douyin.readNotification(
        signed('payment', { app_id: 'ttother', status: 'SUCCESS', out_order_no: 'B3', total_amount: 1 }),
      ),
    ).resolves.toMatchObject({ type: 'not_ours', reason: expect.stringContaining('ttother') });
    const malformed = signed('payment', { app_id: APP_ID, status: 'SUCCESS' });
    await expect(douyin.readNotification(malformed)).rejects.toMatchObject({ code: 'WEBHOOK_INVALID' });
  });

  it('should refuse a callback signed with another key, stale, from the future, or tampered with', async () => {
    const douyin = provider();
    const genuine = signed('payment', { app_id: APP_ID, status: 'SUCCESS', out_order_no: 'B1', total_amount: 100 });
    const otherKey = JSON.stringify({ version: '2.0', type: 'payment', msg: '{}' });
    const forged = {
      rawBody: otherKey,
      headers: Object.fromEntries(
        Object.entries(signCallback(otherKey, keys.appPrivateKey, now / 1000)).map(([n, v]) => [n.toLowerCase(), v]),
      ),
    };
    const cases = [
      forged,
      { ...genuine, headers: { ...genuine.headers, 'byte-timestamp': String(now / 1000 - 301) } },
      { ...genuine, headers: { ...genuine.headers, 'byte-timestamp': String(now / 1000 + 301) } },
      { ...genuine, rawBody: genuine.rawBody.replace('100', '101') },
      { ...genuine, headers: { 'byte-timestamp': genuine.headers['byte-timestamp'] } },
    ];
    for (const message of cases) {
      const refusal = await douyin.readNotification(message).catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(AppError);
      expect(refusal).toMatchObject({ code: 'WEBHOOK_SIGNATURE_INVALID' });
    }
    await expect(douyin.readNotification(genuine)).resolves.toMatchObject({ type: 'payment.succeeded' });
  });

  it('should refuse a callback bringing a signing header twice, even when one of the values is genuine', async () => {
    const douyin = provider();
    const genuine = signed('payment', { app_id: APP_ID, status: 'SUCCESS', out_order_no: 'B1', total_amount: 100 });
    const signature = genuine.headers['byte-signature'] as string;
    const cases = [
      { 'byte-signature': [signature, signature] },
      { 'byte-signature': [signature, 'Zm9yZ2Vk'] },
      { 'byte-timestamp': [genuine.headers['byte-timestamp'] as string, '1'] },
      { 'byte-nonce-str': [genuine.headers['byte-nonce-str'] as string, 'other'] },
      // Node's base64 decoder stops at the first '=': a genuine signature with more after it is no signature.
      { 'byte-signature': `${signature}, Zm9yZ2Vk` },
    ];
    for (const headers of cases) {
      const refusal = await douyin
        .readNotification({ ...genuine, headers: { ...genuine.headers, ...headers } })
        .catch((error: unknown) => error);
      expect(refusal).toMatchObject({ code: 'WEBHOOK_SIGNATURE_INVALID' });
    }
    await expect(
      douyin.readNotification({ ...genuine, headers: { ...genuine.headers, 'byte-signature': [signature] } }),
    ).resolves.toMatchObject({ type: 'payment.succeeded' });
  });
});
