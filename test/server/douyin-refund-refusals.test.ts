import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDouyinGuaranteed } from '../../server/adapters/payments/douyin-guaranteed';
import { DouyinTradeClient } from '../../server/adapters/payments/douyin-trade/client';
import { DouyinTradeProvider } from '../../server/adapters/payments/douyin-trade/provider';
import type { CreateRefundRequest, PaymentProvider } from '../../server/domain/payment-provider';
import { generateDouyinPayKeys } from '../../server/sandbox/douyin-pay';

/**
 * How both Douyin systems' refund requests read a readable non-zero answer: a refusal of the
 * request is final (or, when it only asks to wait, tried again later), but an answer saying Douyin
 * itself failed leaves the refund unknown, to be settled by query — it may have been made, and a
 * refund failed at once frees its amount for another.
 */

const APP_ID = 'tt0000000000000001';

describe('Douyin refund refusals', () => {
  let server: Server;
  let baseUrl: string;
  /** What refund creation answers next: `err_no` and the words. */
  let refundAnswer = { err_no: 0, words: '' };

  beforeAll(async () => {
    server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        response.setHeader('content-type', 'application/json');
        const path = request.url ?? '';
        if (path === '/oauth/client_token/') {
          response.end(JSON.stringify({ data: { access_token: 'clt.1', expires_in: 7200, error_code: 0 } }));
        } else if (path.endsWith('/order_query/')) {
          response.end(
            JSON.stringify({
              err_no: 0,
              err_msg: '',
              data: {
                order_id: 'ot1',
                out_order_no: 'B1',
                total_amount: 1000,
                pay_status: 'SUCCESS',
                item_order_list: [{ item_order_id: 'it1' }],
              },
            }),
          );
        } else if (path.endsWith('/refund_create/')) {
          const { err_no, words } = refundAnswer;
          response.end(JSON.stringify({ err_no, err_msg: words, data: err_no === 0 ? { refund_id: 'rf1' } : {} }));
        } else if (path.endsWith('/create_refund')) {
          const { err_no, words } = refundAnswer;
          response.end(JSON.stringify({ err_no, err_tips: words, refund_no: err_no === 0 ? 'rf1' : undefined }));
        } else {
          response.statusCode = 404;
          response.end('{}');
        }
      });
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  async function providers(): Promise<Array<[string, PaymentProvider]>> {
    const keys = await generateDouyinPayKeys();
    const now = () => Date.now();
    const trade = new DouyinTradeProvider({
      client: new DouyinTradeClient({ baseUrl, appId: APP_ID, secret: 'secret', timeoutMs: 2000, now }),
      appId: APP_ID,
      appPrivateKeyPem: keys.appPrivateKey,
      keyVersion: keys.keyVersion,
      platformPublicKeyPem: keys.platformPublicKey,
      notifyUrl: 'https://shop.example/api/douyin/trade/notify',
      orderPagePath: 'pages/checkout/index',
      now,
    });
    const guaranteed = createDouyinGuaranteed({
      baseUrl,
      appId: APP_ID,
      credentials: { salt: 'salt', token: 'token' },
      notifyUrl: 'https://shop.example/api/douyin/ecpay/notify',
      timeoutMs: 2000,
    });
    return [
      ['通用交易系统', trade],
      ['担保支付', guaranteed],
    ];
  }

  const request: CreateRefundRequest = {
    refundNo: '20261201R1',
    billNo: 'B1',
    channel: 'TT_MINI',
    amount: 100,
    billAmount: 1000,
    orderNo: 'O1',
  };

  it.each(['系统错误', '系统异常，请稍后重试', '内部错误', 'system error', 'Internal Server Error', '请求超时'])(
    'should leave a refund answered %j unknown, to be settled by query',
    async (words) => {
      for (const [name, provider] of await providers()) {
        refundAnswer = { err_no: 2000, words };
        expect([name, await provider.createRefund(request)]).toEqual([
          name,
          expect.objectContaining({ outcome: 'unknown' }),
        ]);
      }
    },
  );

  it.each(['退款金额超过可退金额', '订单未支付', '参数错误'])(
    'should take a refund answered %j as refused',
    async (words) => {
      for (const [name, provider] of await providers()) {
        refundAnswer = { err_no: 2011, words };
        expect([name, await provider.createRefund(request)]).toEqual([
          name,
          expect.objectContaining({ outcome: 'refused', retryable: false }),
        ]);
      }
    },
  );

  it('should still accept a refund Douyin takes', async () => {
    for (const [name, provider] of await providers()) {
      refundAnswer = { err_no: 0, words: '' };
      expect([name, await provider.createRefund(request)]).toEqual([
        name,
        expect.objectContaining({ outcome: 'accepted', providerId: 'rf1' }),
      ]);
    }
  });
});
