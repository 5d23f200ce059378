import { createPublicKey } from 'node:crypto';
import { verifyAlipayOrderString, type Sandbox } from '../../server/sandbox';
import {
  api,
  APP_SECRET,
  MASTER_SECRET,
  makeSandbox,
  md5,
  newBillNo,
  openBill,
  PAY_KEY,
  signed,
  TEST_SECRET,
  WECHAT_APPID,
} from './helpers';

describe('POST /2/rest/bill', () => {
  let sandbox: Sandbox;
  beforeEach(() => {
    sandbox = makeSandbox();
  });
  afterEach(() => sandbox.close());

  const wxMini = (extra: Record<string, unknown> = {}) => ({
    channel: 'WX_MINI',
    total_fee: 1,
    bill_no: newBillNo(),
    title: 'Latte',
    openid: 'oAbCdEfGhIjKlMnOpQrStUvWxYz1',
    ...extra,
  });
  const post = (body: unknown) =>
    api(sandbox)
      .post('/2/rest/bill')
      .send(body as object);

  describe('app_sign', () => {
    it('should accept md5(app_id + timestamp + app_secret), in any letter case', async () => {
      const body = signed(wxMini());
      const res = await post({ ...body, app_sign: body.app_sign.toUpperCase() });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ result_code: 0, result_msg: 'OK', err_detail: '' });
    });

    it('should answer 1 APP_INVALID for an unknown app_id', async () => {
      const ts = Date.now();
      const res = await post({
        ...wxMini(),
        app_id: 'other-app',
        timestamp: ts,
        app_sign: md5(`other-app${ts}${APP_SECRET}`),
      });
      expect(res.body).toMatchObject({ result_code: 1, result_msg: 'APP_INVALID' });
      expect(res.body.err_detail).toContain('other-app');
    });

    it('should answer 1 APP_INVALID for a wrong signature', async () => {
      const res = await post({ ...signed(wxMini()), app_sign: md5('tampered') });
      expect(res.body).toMatchObject({ result_code: 1, result_msg: 'APP_INVALID' });
      expect(res.body.err_detail).toContain('app_secret');
    });

    it('should refuse the test_secret and the master_secret on the live path', async () => {
      for (const secret of [TEST_SECRET, MASTER_SECRET]) {
        const res = await post(signed(wxMini(), secret));
        expect(res.body.result_code).toBe(1);
      }
    });

    it('should require the test_secret on /2/rest/sandbox/bill', async () => {
      const refused = await api(sandbox).post('/2/rest/sandbox/bill').send(signed(wxMini(), APP_SECRET));
      expect(refused.body).toMatchObject({ result_code: 1, result_msg: 'APP_INVALID' });
      expect(refused.body.err_detail).toContain('test_secret');
      const accepted = await api(sandbox).post('/2/rest/sandbox/bill').send(signed(wxMini(), TEST_SECRET));
      expect(accepted.body.result_code).toBe(0);
    });

    it('should answer 4 MISS_PARAM when app_sign or timestamp is missing', async () => {
      const { app_sign: _sign, ...withoutSign } = signed(wxMini());
      expect((await post(withoutSign)).body).toMatchObject({ result_code: 4, result_msg: 'MISS_PARAM' });
      const { timestamp: _ts, ...withoutTimestamp } = signed(wxMini());
      const res = await post(withoutTimestamp);
      expect(res.body).toMatchObject({ result_code: 4 });
      expect(res.body.err_detail).toContain('timestamp');
    });
  });

  describe('request body', () => {
    it('should answer 5 PARAM_INVALID with a useful detail for malformed JSON, never a 500', async () => {
      const res = await api(sandbox).post('/2/rest/bill').set('Content-Type', 'application/json').send('{"app_id": ');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ result_code: 5, result_msg: 'PARAM_INVALID' });
      expect(res.body.err_detail).toMatch(/not valid JSON/);
    });

    it('should answer 5 for a JSON body that is not an object and 4 for an empty body', async () => {
      const array = await api(sandbox).post('/2/rest/bill').set('Content-Type', 'application/json').send('[1,2]');
      expect(array.body.result_code).toBe(5);
      const empty = await api(sandbox).post('/2/rest/bill');
      expect(empty.body.result_code).toBe(4);
    });
  });

  describe('parameters', () => {
    it('should answer 4 MISS_PARAM naming the missing field', async () => {
      for (const field of ['channel', 'total_fee', 'bill_no', 'title']) {
        const body: Record<string, unknown> = wxMini();
        delete body[field];
        const res = await post(signed(body));
        expect(res.body).toMatchObject({ result_code: 4, result_msg: 'MISS_PARAM' });
        expect(res.body.err_detail).toContain(field);
      }
    });

    it('should require openid for WX_MINI, BC_WX_MINI and WX_JSAPI', async () => {
      for (const channel of ['WX_MINI', 'BC_WX_MINI', 'WX_JSAPI']) {
        const res = await post(signed(wxMini({ channel, openid: undefined })));
        expect(res.body).toMatchObject({ result_code: 4 });
        expect(res.body.err_detail).toContain('openid');
      }
    });

    it('should answer 3 CHANNEL_INVALID for an unknown channel', async () => {
      const res = await post(signed(wxMini({ channel: 'WX_TELEPATHY' })));
      expect(res.body).toMatchObject({ result_code: 3, result_msg: 'CHANNEL_INVALID' });
    });

    it('should answer 2 PAY_FACTOR_NOT_SET for a documented channel the sandbox app has not set up', async () => {
      const res = await post(signed(wxMini({ channel: 'UN_APP' })));
      expect(res.body).toMatchObject({ result_code: 2, result_msg: 'PAY_FACTOR_NOT_SET' });
    });

    it.each([
      ['bill_no too short', { bill_no: 'A123456' }],
      ['bill_no too long', { bill_no: 'A'.repeat(33) }],
      ['bill_no with a dash', { bill_no: 'ORDER-0001' }],
      ['total_fee zero', { total_fee: 0 }],
      ['total_fee fractional', { total_fee: 1.5 }],
      ['total_fee as a string', { total_fee: '100' }],
      ['title over 32 bytes', { title: '一二三四五六七八九十十' }],
      ['bill_timeout zero', { bill_timeout: 0 }],
      ['bill_timeout fractional', { bill_timeout: 360.5 }],
      ['notify_url not http(s)', { notify_url: 'ftp://example.com/hook' }],
      ['notify_url relative', { notify_url: '/api/gateway/webhook' }],
      ['optional not a map', { optional: 'x=1' }],
    ])('should answer 5 PARAM_INVALID for %s', async (_name, extra) => {
      const res = await post(signed(wxMini(extra)));
      expect(res.body).toMatchObject({ result_code: 5, result_msg: 'PARAM_INVALID' });
      expect(res.body.err_detail).not.toBe('');
    });

    it('should accept titles up to 32 bytes of UTF-8 (32 ASCII letters, 10 Chinese characters)', async () => {
      const exactly32 = await post(signed(wxMini({ title: 'x'.repeat(32) })));
      expect(exactly32.body.result_code).toBe(0);
      const tenChinese = await post(signed(wxMini({ title: '一二三四五六七八九十' })));
      expect(tenChinese.body.result_code).toBe(0);
    });

    it('should refuse a duplicate bill_no with 5 PARAM_INVALID naming it, even across modes', async () => {
      const billNo = newBillNo();
      expect((await post(signed(wxMini({ bill_no: billNo })))).body.result_code).toBe(0);
      const again = await post(signed(wxMini({ bill_no: billNo, total_fee: 2 })));
      expect(again.body).toMatchObject({ result_code: 5, result_msg: 'PARAM_INVALID' });
      expect(again.body.err_detail).toContain(`duplicate bill_no ${billNo}`);
      const inTestMode = await api(sandbox)
        .post('/2/rest/sandbox/bill')
        .send(signed(wxMini({ bill_no: billNo }), TEST_SECRET));
      expect(inTestMode.body.result_code).toBe(5);
    });

    it('should let a bill_no refused for a bad parameter be used once fixed', async () => {
      const billNo = newBillNo();
      expect((await post(signed(wxMini({ bill_no: billNo, total_fee: 0 })))).body.result_code).toBe(5);
      expect((await post(signed(wxMini({ bill_no: billNo })))).body.result_code).toBe(0);
    });
  });

  describe('injected channel faults', () => {
    it('should answer 7 CHANNEL_ERROR once, and never accept that bill_no again', async () => {
      const fault = await api(sandbox).post('/sandbox/gateway/faults').send({ result_code: 7, operation: 'bill' });
      expect(fault.status).toBe(201);
      const billNo = newBillNo();
      const failed = await post(signed(wxMini({ bill_no: billNo })));
      expect(failed.body).toMatchObject({ result_code: 7, result_msg: 'CHANNEL_ERROR' });
      const retried = await post(signed(wxMini({ bill_no: billNo })));
      expect(retried.body.result_code).toBe(5);
      expect(retried.body.err_detail).toContain('duplicate bill_no');
      const fresh = await post(signed(wxMini()));
      expect(fresh.body.result_code).toBe(0);
    });

    it('should answer 14 RUNTIME_ERROR when injected', async () => {
      await api(sandbox).post('/sandbox/gateway/faults').send({ result_code: 14, count: 2 });
      expect((await post(signed(wxMini()))).body).toMatchObject({ result_code: 14, result_msg: 'RUNTIME_ERROR' });
      expect((await post(signed(wxMini()))).body.result_code).toBe(14);
      expect((await post(signed(wxMini()))).body.result_code).toBe(0);
    });

    it('should refuse a fault that is not 7 or 14 with 400', async () => {
      const res = await api(sandbox).post('/sandbox/gateway/faults').send({ result_code: 1 });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('BAD_REQUEST');
    });
  });

  describe('WX_MINI and WX_JSAPI answers', () => {
    it.each(['WX_MINI', 'BC_WX_MINI', 'WX_JSAPI'])(
      'should answer %s with wx.requestPayment fields whose pay_sign verifies independently',
      async (channel) => {
        const before = Math.floor(Date.now() / 1000);
        const { answer } = await openBill(sandbox, { channel });
        const after = Math.floor(Date.now() / 1000);
        expect(answer).toMatchObject({ result_code: 0, app_id: WECHAT_APPID, sign_type: 'MD5' });
        expect(answer.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        expect(answer.package).toMatch(/^prepay_id=wx\w+$/);
        expect(typeof answer.nonce_str).toBe('string');
        expect((answer.nonce_str as string).length).toBeGreaterThan(0);
        expect((answer.nonce_str as string).length).toBeLessThanOrEqual(32);
        // Seconds, as wx.requestPayment requires.
        expect(answer.timestamp).toMatch(/^\d{10}$/);
        expect(Number(answer.timestamp)).toBeGreaterThanOrEqual(before);
        expect(Number(answer.timestamp)).toBeLessThanOrEqual(after);
        const expected = md5(
          `appId=${WECHAT_APPID}&nonceStr=${answer.nonce_str}&package=${answer.package}` +
            `&signType=MD5&timeStamp=${answer.timestamp}&key=${PAY_KEY}`,
        ).toUpperCase();
        expect(answer.pay_sign).toBe(expected);
      },
    );

    it('should give every bill its own prepay id, id and nonce', async () => {
      const a = (await openBill(sandbox)).answer;
      const b = (await openBill(sandbox)).answer;
      expect(a.package).not.toBe(b.package);
      expect(a.id).not.toBe(b.id);
      expect(a.nonce_str).not.toBe(b.nonce_str);
    });

    it('should sign with the default merchant key when none is configured', async () => {
      await sandbox.close();
      sandbox = makeSandbox({ wechat: { appId: WECHAT_APPID, secret: 'x' } });
      const { answer } = await openBill(sandbox);
      const expected = md5(
        `appId=${WECHAT_APPID}&nonceStr=${answer.nonce_str}&package=${answer.package}` +
          `&signType=MD5&timeStamp=${answer.timestamp}&key=sandbox-wechat-pay-key-0000000000`,
      ).toUpperCase();
      expect(answer.pay_sign).toBe(expected);
    });
  });

  describe('BC_WX_WAP answers', () => {
    it('should answer a WeChat H5 url served by the sandbox, unique per bill', async () => {
      const first = await api(sandbox)
        .post('/2/rest/bill')
        .set('Host', 'sandbox.local:3100')
        .send(signed({ channel: 'BC_WX_WAP', total_fee: 5, bill_no: 'WAP00000001', title: 'Tea' }));
      expect(first.body).toMatchObject({
        result_code: 0,
        url: 'http://sandbox.local:3100/sandbox/wechat/h5pay?bill_no=WAP00000001',
      });
      expect(first.body.pay_sign).toBeUndefined();
      const second = await openBill(sandbox, { channel: 'BC_WX_WAP', openid: undefined });
      expect(second.answer.url).toContain(`bill_no=${second.billNo}`);
    });
  });

  describe('ALI_APP answers', () => {
    it('should answer an RSA2-signed Alipay App order string for the bill', async () => {
      const { billNo, answer } = await openBill(sandbox, {
        channel: 'ALI_APP',
        openid: undefined,
        total_fee: 1234,
        title: '测试订单',
        bill_timeout: 600,
      });
      expect(answer.result_code).toBe(0);
      const orderString = answer.order_string as string;
      expect(orderString).toMatch(/^app_id=\d+&biz_content=.+&sign=.+$/);
      const { public_key: publicKey } = (await api(sandbox).get('/sandbox/alipay/public-key')).body;
      expect(() => createPublicKey(publicKey)).not.toThrow();
      const { valid, params } = verifyAlipayOrderString(orderString, publicKey);
      expect(valid).toBe(true);
      expect(params).toMatchObject({ method: 'alipay.trade.app.pay', sign_type: 'RSA2', charset: 'utf-8' });
      expect(JSON.parse(params.biz_content)).toMatchObject({
        out_trade_no: billNo,
        total_amount: '12.34',
        subject: '测试订单',
        product_code: 'QUICK_MSECURITY_PAY',
        timeout_express: '10m',
      });
      const tampered = orderString.replace('12.34', '00.01');
      expect(verifyAlipayOrderString(tampered, publicKey).valid).toBe(false);
    });
  });

  it('should accept the extra fields the official SDK merges into the body', async () => {
    const res = await post(
      signed({
        ...wxMini(),
        app_secret: APP_SECRET,
        master_secret: MASTER_SECRET,
        test_secret: TEST_SECRET,
        analysis: { ip: '127.0.0.1' },
      }),
    );
    expect(res.body.result_code).toBe(0);
  });
});
