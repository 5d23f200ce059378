import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import request from 'supertest';
import type { WechatPaySandboxKeys } from '../../server/sandbox/wechatpay';
import {
  eachTestWechatPaySandbox,
  listenSandbox,
  newOutTradeNo,
  sharedKeys,
  startNotifyReceiver,
  waitUntil,
  WXPAY_APPID,
  WXPAY_MCHID,
  type ListeningSandbox,
  type NotifyReceiver,
} from '../support/wechatpay';

/*
 * The sandbox driven by wechatpay-axios-plugin, an independent and well-kept WeChat Pay APIv3
 * client: it signs each request with the merchant key and refuses any 2xx answer whose
 * Wechatpay-Signature does not verify with the key its Wechatpay-Serial names. Notifications are
 * checked with the plugin's own Rsa and AesGcm, not with ours.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- an untyped CommonJS package; the cast types the parts used
const { Wechatpay, Rsa, Formatter, Aes } = require('wechatpay-axios-plugin') as Plugin;

interface Plugin {
  Wechatpay: new (config: Record<string, unknown>) => PluginClient;
  Rsa: { verify(message: string, signature: string, key: unknown): boolean };
  Formatter: { response(timestamp: string, nonce: string, body: string): string };
  Aes: { AesGcm: { decrypt(ciphertext: string, key: string, iv: string, aad: string): string } };
}
type Call = {
  get(config?: Record<string, unknown>): Promise<PluginAnswer>;
  post(data: unknown, config?: Record<string, unknown>): Promise<PluginAnswer>;
};
interface PluginAnswer {
  status: number;
  data: Record<string, unknown>;
  headers: Record<string, string>;
}
// The plugin builds paths from property chains; `_name_` segments are filled from the config.
type PluginClient = { v3: Record<string, unknown> };

function chain(client: PluginClient, ...segments: string[]): Call {
  let node: Record<string, unknown> = client.v3;
  for (const segment of segments) node = node[segment] as Record<string, unknown>;
  return node as unknown as Call;
}

function plugin(
  url: string,
  keys: WechatPaySandboxKeys,
  certs: Record<string, string>,
  privateKey = keys.merchantPrivateKey,
) {
  return new Wechatpay({ baseURL: `${url}/`, mchid: keys.mchid, serial: keys.serialNo, privateKey, certs });
}

const current = (keys: WechatPaySandboxKeys) => keys.certificates[keys.certificates.length - 1];
const certificateMode = (keys: WechatPaySandboxKeys) => ({ [current(keys).serialNo]: current(keys).certificatePem });

function prepayBody(keys: WechatPaySandboxKeys, outTradeNo: string, notifyUrl: string, total = 100) {
  return {
    appid: keys.appid,
    mchid: keys.mchid,
    description: 'Coffee',
    out_trade_no: outTradeNo,
    notify_url: notifyUrl,
    amount: { total, currency: 'CNY' },
    payer: { openid: 'oTestOpenid000000000000000001' },
  };
}

async function rejection(
  promise: Promise<unknown>,
): Promise<{ status?: number; code?: string; data?: Record<string, unknown>; headers?: Record<string, string> }> {
  try {
    await promise;
  } catch (error) {
    const failure = error as {
      code?: string;
      response?: { status: number; data: Record<string, unknown>; headers: Record<string, string> };
    };
    return {
      status: failure.response?.status,
      code: failure.code,
      data: failure.response?.data,
      headers: failure.response?.headers,
    };
  }
  throw new Error('expected the call to fail');
}

describe('the WeChat Pay APIv3 sandbox, driven by wechatpay-axios-plugin', () => {
  let keys: WechatPaySandboxKeys;
  let running: ListeningSandbox;
  let receiver: NotifyReceiver;

  eachTestWechatPaySandbox((fixture) => {
    ({ keys, running, receiver } = fixture);
  });

  it('should serve the keys it signs with, as GET /sandbox/wechatpay/keys describes them', async () => {
    const answer = await request(running.url).get('/sandbox/wechatpay/keys').expect(200);
    expect(answer.body).toMatchObject({
      mchid: WXPAY_MCHID,
      appid: WXPAY_APPID,
      serialNo: keys.serialNo,
      apiV3Key: keys.apiV3Key,
      platformPublicKeyId: expect.stringMatching(/^PUB_KEY_ID_/),
      mode: 'certificate',
    });
    expect(answer.body.apiV3Key).toHaveLength(32);
    for (const name of ['merchantPrivateKey', 'merchantPublicKey', 'platformPublicKey', 'platformPrivateKey']) {
      expect(answer.body[name]).toMatch(/^-----BEGIN (PRIVATE|PUBLIC) KEY-----/);
    }
  });

  it('should make a JSAPI prepay, show it NOTPAY, and SUCCESS once settled paid, every answer verified by the plugin', async () => {
    const client = plugin(running.url, keys, certificateMode(keys));
    const outTradeNo = newOutTradeNo();
    const prepaid = await chain(client, 'pay', 'transactions', 'jsapi').post(
      prepayBody(keys, outTradeNo, receiver.url, 1999),
    );
    expect(prepaid.status).toBe(200);
    expect(prepaid.data.prepay_id).toMatch(/^wx\d{14}[0-9a-f]{20}$/);
    expect(prepaid.headers['wechatpay-serial']).toBe(current(keys).serialNo);

    const query = () =>
      chain(client, 'pay', 'transactions', 'out-trade-no', '_out_trade_no_').get({
        params: { mchid: keys.mchid },
        out_trade_no: outTradeNo,
      });
    expect((await query()).data).toMatchObject({
      out_trade_no: outTradeNo,
      trade_state: 'NOTPAY',
      amount: { total: 1999 },
    });

    const listed = await request(running.url)
      .get(`/sandbox/wechatpay/transactions?out_trade_no=${outTradeNo}`)
      .expect(200);
    expect(listed.body.transactions).toEqual([
      expect.objectContaining({
        out_trade_no: outTradeNo,
        prepay_id: prepaid.data.prepay_id,
        amount: { total: 1999 },
        trade_state: 'NOTPAY',
        created_at: expect.any(Number),
      }),
    ]);

    await request(running.url)
      .post(`/sandbox/wechatpay/transactions/${outTradeNo}/settle`)
      .send({ result: 'paid', notify: false })
      .expect(200);
    const paid = (await query()).data;
    expect(paid).toMatchObject({
      trade_state: 'SUCCESS',
      amount: { total: 1999, payer_total: 1999, currency: 'CNY' },
      payer: { openid: 'oTestOpenid000000000000000001' },
    });
    expect(paid.transaction_id).toMatch(/^\d{28}$/);
    expect(paid.success_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/);
  });

  it('should give the same prepay_id for a repeated prepay and refuse the out_trade_no with other parameters', async () => {
    const client = plugin(running.url, keys, certificateMode(keys));
    const outTradeNo = newOutTradeNo();
    const jsapi = chain(client, 'pay', 'transactions', 'jsapi');
    const first = await jsapi.post(prepayBody(keys, outTradeNo, receiver.url));
    const again = await jsapi.post(prepayBody(keys, outTradeNo, receiver.url));
    expect(again.data.prepay_id).toBe(first.data.prepay_id);
    const other = await rejection(jsapi.post(prepayBody(keys, outTradeNo, receiver.url, 200)));
    expect(other).toMatchObject({ status: 400, data: { code: 'INVALID_REQUEST' } });
  });

  it('should refuse bad prepays with 400 PARAM_ERROR or APPID_MCHID_NOT_MATCH, signed like any answer', async () => {
    const client = plugin(running.url, keys, certificateMode(keys));
    const jsapi = chain(client, 'pay', 'transactions', 'jsapi');
    const shortNo = await rejection(jsapi.post(prepayBody(keys, 'abc', receiver.url)));
    expect(shortNo).toMatchObject({ status: 400, data: { code: 'PARAM_ERROR' } });
    const zero = await rejection(jsapi.post(prepayBody(keys, newOutTradeNo(), receiver.url, 0)));
    expect(zero).toMatchObject({ status: 400, data: { code: 'PARAM_ERROR' } });
    const otherApp = await rejection(
      jsapi.post({ ...prepayBody(keys, newOutTradeNo(), receiver.url), appid: 'wx9999999999999999' }),
    );
    expect(otherApp).toMatchObject({ status: 400, data: { code: 'APPID_MCHID_NOT_MATCH' } });
    const headers = otherApp.headers as Record<string, string>;
    expect(
      Rsa.verify(
        Formatter.response(headers['wechatpay-timestamp'], headers['wechatpay-nonce'], JSON.stringify(otherApp.data)),
        headers['wechatpay-signature'],
        new X509Certificate(current(keys).certificatePem).publicKey,
      ),
    ).toBe(true);
  });

  it("should serve a day's trade bill: a signed link with its SHA1, and an unsigned file in WeChat's format", async () => {
    const client = plugin(running.url, keys, certificateMode(keys));
    const paidAt = Date.now() - 2 * 24 * 60 * 60 * 1000;
    const day = new Date(paidAt + 8 * 60 * 60 * 1000).toISOString().slice(0, 10);
    const outTradeNo = newOutTradeNo();
    await chain(client, 'pay', 'transactions', 'jsapi').post({
      ...prepayBody(keys, outTradeNo, receiver.url, 100_001),
      attach: 'order-7',
    });
    await request(running.url)
      .post(`/sandbox/wechatpay/transactions/${outTradeNo}/settle`)
      .send({ result: 'paid', notify: false, success_time: paidAt })
      .expect(200);
    const tradeBill = (bill_date: string, bill_type = 'SUCCESS') =>
      chain(client, 'bill', 'tradebill').get({ params: { bill_date, bill_type } });

    const link = await tradeBill(day);
    expect(link.data).toEqual({
      hash_type: 'SHA1',
      hash_value: expect.stringMatching(/^[0-9a-f]{40}$/),
      download_url: expect.stringMatching(new RegExp(`^${running.url}/v3/billdownload/file\\?token=\\w+$`)),
    });
    const token = new URL(String(link.data.download_url)).searchParams.get('token');
    // The plugin verifies no signature on a download (none is sent), as WeChat documents.
    const file = await chain(client, 'billdownload', 'file').get({ params: { token }, responseType: 'arraybuffer' });
    expect(file.headers['wechatpay-signature']).toBeUndefined();
    const bytes = Buffer.from(file.data as unknown as ArrayBuffer);
    expect(createHash('sha1').update(bytes).digest('hex')).toBe(link.data.hash_value);
    const lines = bytes.toString('utf8').split('\r\n');
    expect(lines[0].split(',')).toHaveLength(27);
    expect(lines[0]).toMatch(
      /^交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,/,
    );
    const paid = (
      await chain(client, 'pay', 'transactions', 'out-trade-no', '_out_trade_no_').get({
        params: { mchid: keys.mchid },
        out_trade_no: outTradeNo,
      })
    ).data;
    expect(lines[1].split(',`')).toEqual([
      expect.stringMatching(new RegExp(`^\`${day} \\d\\d:\\d\\d:\\d\\d$`)),
      keys.appid,
      keys.mchid,
      '0',
      '',
      paid.transaction_id,
      outTradeNo,
      'oTestOpenid000000000000000001',
      'JSAPI',
      'SUCCESS',
      'OTHERS',
      'CNY',
      '1000.01',
      '0.00',
      '0',
      '0',
      '0.00',
      '0.00',
      '',
      '',
      'Coffee',
      'order-7',
      '6.00006',
      '0.60%',
      '1000.01',
      '0.00',
      '',
    ]);
    expect(lines.slice(2)).toEqual([
      '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额',
      '`1,`1000.01,`0.00,`0.00,`6.00006,`1000.01,`0.00',
      '',
    ]);

    const refused = async (bill_date: string, bill_type?: string) =>
      (await rejection(tradeBill(bill_date, bill_type))).data;
    expect(await refused(new Date(Date.now() + 8 * 60 * 60 * 1000).toISOString().slice(0, 10))).toMatchObject({
      code: 'STATEMENT_CREATING',
    });
    expect(await refused(day, 'REFUND')).toMatchObject({ code: 'NO_STATEMENT_EXIST' });
    expect(await refused('2026-02-30')).toMatchObject({ code: 'PARAM_ERROR' });
    expect(await refused(day, 'EVERYTHING')).toMatchObject({ code: 'PARAM_ERROR' });
    await request(running.url)
      .post(`/sandbox/wechatpay/transactions/${outTradeNo}/settle`)
      .send({ result: 'closed', success_time: paidAt })
      .expect(400);
  });

  it('should refuse a request signed with another key, or with no Authorization, with 401 SIGN_ERROR', async () => {
    const stranger = plugin(running.url, keys, certificateMode(keys), keys.platformPrivateKey);
    const refused = await rejection(
      chain(stranger, 'pay', 'transactions', 'jsapi').post(prepayBody(keys, newOutTradeNo(), receiver.url)),
    );
    expect(refused).toMatchObject({ status: 401, data: { code: 'SIGN_ERROR' } });
    await request(running.url).get(`/v3/pay/transactions/out-trade-no/X123456?mchid=${keys.mchid}`).expect(401);
  });

  it('should close an unpaid order (204), refuse closing a paid one, and answer 404 ORDER_NOT_EXIST for an unknown one', async () => {
    const client = plugin(running.url, keys, certificateMode(keys));
    const open = newOutTradeNo();
    const paid = newOutTradeNo();
    for (const no of [open, paid])
      await chain(client, 'pay', 'transactions', 'jsapi').post(prepayBody(keys, no, receiver.url));
    await request(running.url)
      .post(`/sandbox/wechatpay/transactions/${paid}/settle`)
      .send({ result: 'paid', notify: false })
      .expect(200);
    const close = (no: string) =>
      chain(client, 'pay', 'transactions', 'out-trade-no', '$out_trade_no$', 'close').post(
        { mchid: keys.mchid },
        { out_trade_no: no },
      );

    expect((await close(open)).status).toBe(204);
    const closed = await chain(client, 'pay', 'transactions', 'out-trade-no', '_out_trade_no_').get({
      params: { mchid: keys.mchid },
      out_trade_no: open,
    });
    expect(closed.data.trade_state).toBe('CLOSED');
    expect((await rejection(close(paid))).status).toBe(400);
    const unknown = await rejection(
      chain(client, 'pay', 'transactions', 'out-trade-no', '_out_trade_no_').get({
        params: { mchid: keys.mchid },
        out_trade_no: 'NOSUCH123456',
      }),
    );
    expect(unknown).toMatchObject({ status: 404, data: { code: 'ORDER_NOT_EXIST' } });
    await request(running.url)
      .post(`/sandbox/wechatpay/transactions/${open}/settle`)
      .send({ result: 'paid' })
      .expect(409);
  });

  it('should serve /v3/certificates encrypted with the APIv3 key, decrypting to the X.509 certificate whose serial it names', async () => {
    const client = plugin(running.url, keys, certificateMode(keys));
    const answer = await chain(client, 'certificates').get();
    const entries = answer.data.data as { serial_no: string; encrypt_certificate: Record<string, string> }[];
    expect(entries).toHaveLength(1);
    const { ciphertext, nonce, associated_data: aad, algorithm } = entries[0].encrypt_certificate;
    expect(algorithm).toBe('AEAD_AES_256_GCM');
    const pem = Aes.AesGcm.decrypt(ciphertext, keys.apiV3Key, nonce, aad);
    const certificate = new X509Certificate(pem);
    expect(certificate.serialNumber.toUpperCase()).toBe(entries[0].serial_no);
    expect(entries[0].serial_no).toMatch(/^[0-9A-F]{40}$/);
    expect(certificate.checkPrivateKey(createPrivateKey(current(keys).privateKeyPem))).toBe(true);
  });

  it('should sign with the 微信支付公钥 in public-key mode: a certificate-only client refuses, a migrating one accepts', async () => {
    const switched = await request(running.url)
      .post('/sandbox/wechatpay/mode')
      .send({ mode: 'public_key' })
      .expect(200);
    expect(switched.body).toEqual({ mode: 'public_key', serial: keys.platformPublicKeyId });
    const certificateOnly = plugin(running.url, keys, certificateMode(keys));
    const refused = await rejection(
      chain(certificateOnly, 'pay', 'transactions', 'jsapi').post(prepayBody(keys, newOutTradeNo(), receiver.url)),
    );
    expect(refused.code).toBe('EV3_RES_HEADER_PLATFORM_SERIAL');

    const migrating = plugin(running.url, keys, {
      ...certificateMode(keys),
      [keys.platformPublicKeyId]: keys.platformPublicKey,
    });
    const accepted = await chain(migrating, 'pay', 'transactions', 'jsapi').post(
      prepayBody(keys, newOutTradeNo(), receiver.url),
    );
    expect(accepted.headers['wechatpay-serial']).toBe(keys.platformPublicKeyId);

    await request(running.url).post('/sandbox/wechatpay/mode').send({ mode: 'certificate' }).expect(200);
    const back = await chain(certificateOnly, 'pay', 'transactions', 'jsapi').post(
      prepayBody(keys, newOutTradeNo(), receiver.url),
    );
    expect(back.headers['wechatpay-serial']).toBe(current(keys).serialNo);
    await request(running.url).post('/sandbox/wechatpay/mode').send({ mode: 'rsa' }).expect(400);
  });

  it('should rotate the platform certificate: answers carry the new serial, /v3/certificates lists the old and the new', async () => {
    const rotated = await request(running.url).post('/sandbox/wechatpay/certificates/rotate').send({}).expect(200);
    expect(rotated.body.previousSerialNo).toBe(current(keys).serialNo);
    expect(rotated.body.serialNo).not.toBe(current(keys).serialNo);
    expect(rotated.body.served).toEqual([current(keys).serialNo, rotated.body.serialNo]);

    const stale = plugin(running.url, keys, certificateMode(keys));
    expect(
      (
        await rejection(
          chain(stale, 'pay', 'transactions', 'jsapi').post(prepayBody(keys, newOutTradeNo(), receiver.url)),
        )
      ).code,
    ).toBe('EV3_RES_HEADER_PLATFORM_SERIAL');
    const fresh = (await request(running.url).get('/sandbox/wechatpay/keys').expect(200)).body as {
      certificates: { serialNo: string; certificate: string }[];
    };
    const renewed = plugin(
      running.url,
      keys,
      Object.fromEntries(fresh.certificates.map((c) => [c.serialNo, c.certificate])),
    );
    const listed = await chain(renewed, 'certificates').get();
    expect((listed.data.data as { serial_no: string }[]).map((entry) => entry.serial_no)).toEqual(rotated.body.served);
    expect(listed.headers['wechatpay-serial']).toBe(rotated.body.serialNo);
  });

  it('should notify TRANSACTION.SUCCESS signed and encrypted, as the plugin verifies and decrypts it', async () => {
    const client = plugin(running.url, keys, certificateMode(keys));
    const outTradeNo = newOutTradeNo();
    await chain(client, 'pay', 'transactions', 'jsapi').post({
      ...prepayBody(keys, outTradeNo, receiver.url, 2500),
      attach: 'order-7',
    });
    const settled = await request(running.url)
      .post(`/sandbox/wechatpay/transactions/${outTradeNo}/settle`)
      .send({ result: 'paid' })
      .expect(200);
    expect(settled.body.notifying).toBe(true);
    await waitUntil(() => receiver.hits.length === 1, 5000, 'the notification');

    const hit = receiver.hits[0];
    const h = hit.headers as Record<string, string>;
    expect(h['wechatpay-serial']).toBe(current(keys).serialNo);
    expect(Math.abs(Number(h['wechatpay-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    expect(
      Rsa.verify(
        Formatter.response(h['wechatpay-timestamp'], h['wechatpay-nonce'], hit.body),
        h['wechatpay-signature'],
        new X509Certificate(current(keys).certificatePem).publicKey,
      ),
    ).toBe(true);
    const message = JSON.parse(hit.body);
    expect(message).toMatchObject({
      event_type: 'TRANSACTION.SUCCESS',
      resource_type: 'encrypt-resource',
      resource: { algorithm: 'AEAD_AES_256_GCM', original_type: 'transaction', associated_data: 'transaction' },
    });
    const resource = JSON.parse(
      Aes.AesGcm.decrypt(
        message.resource.ciphertext,
        keys.apiV3Key,
        message.resource.nonce,
        message.resource.associated_data,
      ),
    );
    expect(resource).toMatchObject({
      appid: keys.appid,
      mchid: keys.mchid,
      out_trade_no: outTradeNo,
      trade_state: 'SUCCESS',
      attach: 'order-7',
      amount: { total: 2500, payer_total: 2500, currency: 'CNY' },
      payer: { openid: 'oTestOpenid000000000000000001' },
    });
    expect(resource.transaction_id).toBe(settled.body.transaction.transaction_id);
  });

  it('should retry a refused notification on the documented schedule until a 2xx, signing each attempt afresh', async () => {
    const refusing = await startNotifyReceiver((hit) =>
      hit < 3 ? { status: 500, body: JSON.stringify({ code: 'FAIL', message: 'busy' }) } : { status: 200 },
    );
    try {
      const client = plugin(running.url, keys, certificateMode(keys));
      const outTradeNo = newOutTradeNo();
      await chain(client, 'pay', 'transactions', 'jsapi').post(prepayBody(keys, outTradeNo, refusing.url));
      await request(running.url)
        .post(`/sandbox/wechatpay/transactions/${outTradeNo}/settle`)
        .send({ result: 'paid' })
        .expect(200);
      await waitUntil(
        async () => {
          const deliveries = (
            await request(running.url).get(`/sandbox/wechatpay/transactions/${outTradeNo}/deliveries`)
          ).body.deliveries;
          return deliveries.length === 3;
        },
        5000,
        'three attempts',
      );
      const deliveries = (await request(running.url).get(`/sandbox/wechatpay/transactions/${outTradeNo}/deliveries`))
        .body.deliveries;
      expect(deliveries.map((d: { status: number; ok: boolean }) => [d.status, d.ok])).toEqual([
        [500, false],
        [500, false],
        [200, true],
      ]);
      // 15 s then 15 s after the attempt before, at webhookTimeScale 0.001: never earlier (the
      // sandbox's send times, in whole ms).
      const sent = deliveries.map((d: { at: number }) => d.at);
      expect(sent[1] - sent[0]).toBeGreaterThanOrEqual(14);
      expect(sent[2] - sent[1]).toBeGreaterThanOrEqual(14);
      const hits = refusing.hits;
      expect(new Set(hits.map((hit) => hit.headers['wechatpay-nonce'])).size).toBe(3);
      expect(new Set(hits.map((hit) => hit.body)).size).toBe(1);
      const listed = await request(running.url).get(`/sandbox/wechatpay/transactions?out_trade_no=${outTradeNo}`);
      expect(listed.body.transactions[0].deliveries).toBe(3);
    } finally {
      await refusing.close();
    }
  });
});

describe('refunds at the WeChat Pay APIv3 sandbox', () => {
  let keys: WechatPaySandboxKeys;
  let running: ListeningSandbox;
  let receiver: NotifyReceiver;
  let clock: number | undefined;

  beforeAll(async () => {
    keys = await sharedKeys();
  });
  beforeEach(async () => {
    clock = undefined;
    running = await listenSandbox(keys, { now: () => clock ?? Date.now() });
    receiver = await startNotifyReceiver();
  });
  afterEach(async () => {
    await running.close();
    await receiver.close();
  });

  async function paidOrder(total: number): Promise<{ client: PluginClient; outTradeNo: string }> {
    const client = plugin(running.url, keys, certificateMode(keys));
    const outTradeNo = newOutTradeNo();
    await chain(client, 'pay', 'transactions', 'jsapi').post(prepayBody(keys, outTradeNo, receiver.url, total));
    await request(running.url)
      .post(`/sandbox/wechatpay/transactions/${outTradeNo}/settle`)
      .send({ result: 'paid', notify: false })
      .expect(200);
    return { client, outTradeNo };
  }

  function refund(
    client: PluginClient,
    outTradeNo: string,
    outRefundNo: string,
    amount: number,
    total: number,
    notify = true,
  ) {
    return chain(client, 'refund', 'domestic', 'refunds').post({
      out_trade_no: outTradeNo,
      out_refund_no: outRefundNo,
      reason: 'out of stock',
      ...(notify ? { notify_url: receiver.url } : {}),
      amount: { refund: amount, total, currency: 'CNY' },
    });
  }

  it('should answer PROCESSING, then succeed and send REFUND.SUCCESS; the refund query shows SUCCESS', async () => {
    const { client, outTradeNo } = await paidOrder(1000);
    const answer = await refund(client, outTradeNo, `${outTradeNo}R1`, 300, 1000);
    expect(answer.data).toMatchObject({
      out_refund_no: `${outTradeNo}R1`,
      out_trade_no: outTradeNo,
      status: 'PROCESSING',
      amount: { refund: 300, total: 1000 },
    });
    await waitUntil(() => receiver.hits.length === 1, 5000, 'REFUND.SUCCESS');
    const message = JSON.parse(receiver.hits[0].body);
    expect(message.event_type).toBe('REFUND.SUCCESS');
    const resource = JSON.parse(
      Aes.AesGcm.decrypt(
        message.resource.ciphertext,
        keys.apiV3Key,
        message.resource.nonce,
        message.resource.associated_data,
      ),
    );
    expect(resource).toMatchObject({
      out_refund_no: `${outTradeNo}R1`,
      refund_status: 'SUCCESS',
      amount: { refund: 300, total: 1000 },
    });
    const queried = await chain(client, 'refund', 'domestic', 'refunds', '_out_refund_no_').get({
      out_refund_no: `${outTradeNo}R1`,
    });
    expect(queried.data).toMatchObject({ status: 'SUCCESS', refund_id: answer.data.refund_id });
    expect(queried.data.success_time).toMatch(/\+08:00$/);
    const again = await refund(client, outTradeNo, `${outTradeNo}R1`, 300, 1000);
    expect(again.data.refund_id).toBe(answer.data.refund_id);
  });

  it('should refuse refunds beyond what was paid, with another total, of an unpaid or unknown order', async () => {
    const { client, outTradeNo } = await paidOrder(1000);
    await refund(client, outTradeNo, `${outTradeNo}A`, 700, 1000, false);
    expect(await rejection(refund(client, outTradeNo, `${outTradeNo}B`, 301, 1000, false))).toMatchObject({
      status: 400,
      data: { code: 'INVALID_REQUEST' },
    });
    expect((await refund(client, outTradeNo, `${outTradeNo}C`, 300, 1000, false)).data.status).toBe('PROCESSING');
    expect(await rejection(refund(client, outTradeNo, `${outTradeNo}D`, 1, 1000, false))).toMatchObject({
      status: 400,
    });

    const other = await paidOrder(500);
    expect(await rejection(refund(client, other.outTradeNo, `${other.outTradeNo}X`, 100, 600, false))).toMatchObject({
      status: 400,
      data: { code: 'INVALID_REQUEST' },
    });
    const unpaid = newOutTradeNo();
    await chain(client, 'pay', 'transactions', 'jsapi').post(prepayBody(keys, unpaid, receiver.url));
    expect(await rejection(refund(client, unpaid, `${unpaid}X`, 100, 100, false))).toMatchObject({
      status: 400,
      data: { code: 'INVALID_REQUEST' },
    });
    expect(await rejection(refund(client, 'NOSUCH1234', 'NOSUCH1234R', 1, 1, false))).toMatchObject({
      status: 404,
      data: { code: 'RESOURCE_NOT_EXISTS' },
    });
  });

  it('should allow at most 50 refunds of one order', async () => {
    const { client, outTradeNo } = await paidOrder(100);
    for (let i = 1; i <= 50; i += 1) await refund(client, outTradeNo, `${outTradeNo}P${i}`, 1, 100, false);
    const refused = await rejection(refund(client, outTradeNo, `${outTradeNo}P51`, 1, 100, false));
    expect(refused).toMatchObject({ status: 400, data: { code: 'INVALID_REQUEST' } });
    expect(String(refused.data?.message)).toContain('50');
  });

  it('should refuse a refund more than a year after payment', async () => {
    const client = plugin(running.url, keys, certificateMode(keys));
    const outTradeNo = newOutTradeNo();
    await chain(client, 'pay', 'transactions', 'jsapi').post(prepayBody(keys, outTradeNo, receiver.url));
    clock = Date.now() - 366 * 24 * 60 * 60 * 1000;
    await request(running.url)
      .post(`/sandbox/wechatpay/transactions/${outTradeNo}/settle`)
      .send({ result: 'paid', notify: false })
      .expect(200);
    clock = undefined;
    const refused = await rejection(refund(client, outTradeNo, `${outTradeNo}R`, 50, 100, false));
    expect(refused).toMatchObject({ status: 400, data: { code: 'INVALID_REQUEST' } });

    const recent = await paidOrder(100);
    expect((await refund(client, recent.outTradeNo, `${recent.outTradeNo}R`, 50, 100, false)).status).toBe(200);
  });

  it('should hold refunds PROCESSING on request and settle them ABNORMAL or CLOSED with their notifications', async () => {
    const { client, outTradeNo } = await paidOrder(1000);
    await request(running.url).post('/sandbox/wechatpay/refunds/hold').send({ count: 2 }).expect(201);
    await refund(client, outTradeNo, `${outTradeNo}H1`, 400, 1000);
    await refund(client, outTradeNo, `${outTradeNo}H2`, 600, 1000);
    const listed = await request(running.url).get(`/sandbox/wechatpay/refunds?out_trade_no=${outTradeNo}`).expect(200);
    expect(listed.body.refunds.map((r: { status: string }) => r.status)).toEqual(['PROCESSING', 'PROCESSING']);

    const abnormal = await request(running.url)
      .post(`/sandbox/wechatpay/refunds/${outTradeNo}H1/settle`)
      .send({ result: 'abnormal' })
      .expect(200);
    expect(abnormal.body).toMatchObject({ refund: { status: 'ABNORMAL' }, notifying: true });
    await request(running.url)
      .post(`/sandbox/wechatpay/refunds/${outTradeNo}H2/settle`)
      .send({ result: 'closed' })
      .expect(200);
    await request(running.url)
      .post(`/sandbox/wechatpay/refunds/${outTradeNo}H2/settle`)
      .send({ result: 'success' })
      .expect(409);
    await waitUntil(() => receiver.hits.length === 2, 5000, 'two refund notifications');
    const events = receiver.hits.map((hit) => JSON.parse(hit.body).event_type).sort();
    expect(events).toEqual(['REFUND.ABNORMAL', 'REFUND.CLOSED']);
    // The closed refund gave its 600 back; the abnormal one still holds 400.
    expect((await refund(client, outTradeNo, `${outTradeNo}H3`, 600, 1000, false)).status).toBe(200);
  });
});
