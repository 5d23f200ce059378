import { createApiClient, HttpRequest, HttpResponse } from '../../src/api/client';
import { CheckoutError, isCheckoutError, normaliseRequestFailure } from '../../src/api/errors';
import { taroDouble, resetTaroDouble } from './doubles/taro';
import { taroTransport } from '../../src/api/taro-transport';

const BASE_URL = 'http://checkout.test/';

function clientAnswering(answer: (request: HttpRequest) => Promise<HttpResponse>) {
  const requests: HttpRequest[] = [];
  const api = createApiClient({
    baseUrl: BASE_URL,
    transport: (request) => {
      requests.push(request);
      return answer(request);
    },
  });
  return { api, requests };
}

async function rejectionOf(promise: Promise<unknown>): Promise<CheckoutError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (reason: unknown) => reason,
  );
  if (isCheckoutError(error)) return error;
  throw new Error(`expected a CheckoutError, got ${String(error)}`);
}

describe('createApiClient', () => {
  it('should send the documented requests with bearer token and idempotency key', async () => {
    const order = {
      orderNo: 'CO1',
      amount: 2,
      currency: 'CNY',
      status: 'pending',
      items: [{ sku: 'tea', quantity: 2 }],
      expiresAt: '2030-01-01T00:15:00.000Z',
    };
    const { api, requests } = clientAnswering(async () => ({ statusCode: 201, data: { order } }));

    await expect(api.createOrder('tok', [{ sku: 'tea', quantity: 2 }], 'key-1')).resolves.toEqual(order);
    expect(requests[0]).toMatchObject({
      url: 'http://checkout.test/api/orders',
      method: 'POST',
      header: { Authorization: 'Bearer tok', 'Idempotency-Key': 'key-1', 'Content-Type': 'application/json' },
      data: { items: [{ sku: 'tea', quantity: 2 }] },
    });
  });

  it('should pass the weapp payment parameters through unchanged', async () => {
    const requestPayment = {
      timeStamp: '1700000000',
      nonceStr: 'n0nce',
      package: 'prepay_id=wx123',
      signType: 'RSA',
      paySign: 'c2lnbg==',
    };
    const { api, requests } = clientAnswering(async () => ({
      statusCode: 200,
      data: { platform: 'weapp', requestPayment },
    }));

    await expect(api.requestPayment('tok', 'CO 1', 'weapp')).resolves.toEqual({ platform: 'weapp', requestPayment });
    expect(requests[0]).toMatchObject({
      url: 'http://checkout.test/api/orders/CO%201/pay',
      data: { platform: 'weapp' },
    });
  });

  it("should pass Douyin's signed orderInfo through unchanged", async () => {
    const orderInfo = {
      app_id: '800000000001',
      out_order_no: 'CO1',
      total_amount: 2000,
      alipay_url: 'app_id=2019&biz_content=%7B%7D&sign=a%2Bb',
      notify_url: '',
      sign: '0f1e3358a9898d7c4c6c23740251808a',
      risk_info: '{"ip":"127.0.0.1"}',
    };
    const { api, requests } = clientAnswering(async () => ({
      statusCode: 200,
      data: { platform: 'tt', service: 1, orderInfo },
    }));

    await expect(api.requestPayment('tok', 'CO1', 'tt')).resolves.toEqual({ platform: 'tt', service: 1, orderInfo });
    expect(requests[0]).toMatchObject({ url: 'http://checkout.test/api/orders/CO1/pay', data: { platform: 'tt' } });
  });

  it.each([
    ['without service', { platform: 'tt', orderInfo: { out_order_no: 'CO1', sign: 's' } }],
    ['without sign', { platform: 'tt', service: 1, orderInfo: { out_order_no: 'CO1' } }],
    ['without out_order_no', { platform: 'tt', service: 1, orderInfo: { sign: 's' } }],
    ['with a nested field', { platform: 'tt', service: 1, orderInfo: { out_order_no: 'CO1', sign: 's', extra: {} } }],
    ['for an unknown platform', { platform: 'alipay', service: 1, orderInfo: { out_order_no: 'CO1', sign: 's' } }],
  ])('should report a tt pay answer %s as BAD_RESPONSE', async (_case, data) => {
    const { api } = clientAnswering(async () => ({ statusCode: 200, data }));
    await expect(rejectionOf(api.requestPayment('tok', 'CO1', 'tt'))).resolves.toMatchObject({ code: 'BAD_RESPONSE' });
  });

  it('should accept a JSON body the platform left as text', async () => {
    const { api } = clientAnswering(async () => ({
      statusCode: 200,
      data: JSON.stringify({ orderNo: 'CO1', status: 'paid', code: 0 }),
    }));
    await expect(api.getOrderStatus('tok', 'CO1')).resolves.toEqual({ orderNo: 'CO1', status: 'paid', code: 0 });
  });

  describe('error normalisation', () => {
    it('should keep the server error code, message and status', async () => {
      const { api } = clientAnswering(async () => ({
        statusCode: 401,
        data: { error: { code: 'SESSION_INVALID', message: 'token expired' } },
      }));
      const error = await rejectionOf(api.getOrderStatus('tok', 'CO1'));
      expect(error).toMatchObject({ code: 'SESSION_INVALID', message: 'token expired', status: 401 });
    });

    it.each([
      ['request:fail timeout', 'NETWORK_TIMEOUT'],
      ['request:fail net::ERR_CONNECTION_REFUSED', 'NETWORK_ERROR'],
      ['request:fail ssl hand shake error', 'NETWORK_ERROR'],
    ])('should turn {errMsg: "%s"} into %s', async (errMsg, code) => {
      const { api } = clientAnswering(() => Promise.reject({ errMsg }));
      const error = await rejectionOf(api.getCatalog());
      expect(error).toMatchObject({ code, message: errMsg });
      expect(error.status).toBeUndefined();
    });

    it('should turn a thrown Error into NETWORK_ERROR', async () => {
      const { api } = clientAnswering(() => Promise.reject(new TypeError('fetch failed')));
      await expect(rejectionOf(api.getCatalog())).resolves.toMatchObject({
        code: 'NETWORK_ERROR',
        message: 'fetch failed',
      });
    });

    it('should report a 2xx answer that is not JSON as BAD_RESPONSE', async () => {
      const { api } = clientAnswering(async () => ({ statusCode: 200, data: '<html>captive portal</html>' }));
      await expect(rejectionOf(api.getCatalog())).resolves.toMatchObject({ code: 'BAD_RESPONSE', status: 200 });
    });

    it('should report a 2xx JSON answer of the wrong shape as BAD_RESPONSE', async () => {
      const { api } = clientAnswering(async () => ({
        statusCode: 200,
        data: { items: [{ sku: 'tea', price: '1.00' }] },
      }));
      await expect(rejectionOf(api.getCatalog())).resolves.toMatchObject({ code: 'BAD_RESPONSE' });
    });

    it('should report an unknown status code as BAD_RESPONSE rather than guess', async () => {
      const { api } = clientAnswering(async () => ({
        statusCode: 200,
        data: { orderNo: 'CO1', status: 'paid', code: 7 },
      }));
      await expect(rejectionOf(api.getOrderStatus('tok', 'CO1'))).resolves.toMatchObject({ code: 'BAD_RESPONSE' });
    });

    it.each([
      [502, '<html>Bad Gateway</html>', 'SERVER_UNAVAILABLE'],
      [503, '', 'SERVER_UNAVAILABLE'],
      [429, '', 'RATE_LIMITED'],
      [404, 'Not Found', 'BAD_RESPONSE'],
    ])('should derive a code from HTTP %i when the body has no error', async (statusCode, data, code) => {
      const { api } = clientAnswering(async () => ({ statusCode, data }));
      await expect(rejectionOf(api.getCatalog())).resolves.toMatchObject({ code, status: statusCode });
    });

    it('should prefer the server code on 503 upstream failures', async () => {
      const { api } = clientAnswering(async () => ({
        statusCode: 503,
        data: { error: { code: 'WECHAT_BUSY', message: 'jscode2session -1' } },
      }));
      await expect(rejectionOf(api.createSession({ platform: 'weapp', code: 'c' }))).resolves.toMatchObject({
        code: 'WECHAT_BUSY',
        status: 503,
      });
    });
  });
});

describe('normaliseRequestFailure', () => {
  it('should leave a CheckoutError as it is', () => {
    const error = new CheckoutError('X', 'y');
    expect(normaliseRequestFailure(error)).toBe(error);
  });
});

describe('taroTransport', () => {
  afterEach(resetTaroDouble);

  it('should call Taro.request with a JSON body and return status and data', async () => {
    let received: Record<string, unknown> | undefined;
    taroDouble.request = async (options) => {
      received = options;
      return { statusCode: 201, data: { ok: true }, header: {} };
    };
    await expect(
      taroTransport({ url: 'http://x/api/orders', method: 'POST', header: { A: 'b' }, data: { items: [] } }),
    ).resolves.toEqual({ statusCode: 201, data: { ok: true } });
    expect(received).toMatchObject({
      url: 'http://x/api/orders',
      method: 'POST',
      header: { A: 'b' },
      data: '{"items":[]}',
    });
  });
});
