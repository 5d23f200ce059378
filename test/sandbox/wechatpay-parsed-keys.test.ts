import crypto, { X509Certificate, type KeyObject } from 'node:crypto';
import { authorizationHeader } from '../../server/adapters/payments/wechatpay/signing';
import { SandboxKeyRing, type WechatPaySandboxKeys } from '../../server/sandbox/wechatpay/keys';
import { requestSignatureProblem, signatureHeaders } from '../../server/sandbox/wechatpay/protocol';
import { privateKeyOf, publicKeyOf } from '../../server/sandbox/shared/parsed-keys';
import { alipayOrderString, verifyAlipayOrderString } from '../../server/sandbox/shared/signing';
import { sharedKeys, WXPAY_APPID, WXPAY_MCHID } from '../support/wechatpay';

/*
 * The sandbox signs every answer and notification and verifies every request with the same few
 * keys: each PEM is parsed once, not once a message, and a key that changes (a rotated
 * certificate, the other signing mode) is the one used from the next message on.
 */

const verifies = (headers: Record<string, string>, body: string, key: KeyObject | string) =>
  crypto
    .createVerify('RSA-SHA256')
    .update(`${headers['Wechatpay-Timestamp']}\n${headers['Wechatpay-Nonce']}\n${body}\n`)
    .verify(key, headers['Wechatpay-Signature'], 'base64');

describe('the WeChat Pay sandbox’s parsed keys', () => {
  let keys: WechatPaySandboxKeys;

  beforeAll(async () => {
    keys = structuredClone(await sharedKeys());
  });
  afterEach(() => jest.restoreAllMocks());

  it('should parse each key once however many answers it signs and requests it verifies', () => {
    const merchantKey = crypto.createPrivateKey(keys.merchantPrivateKey);
    const certificate = new X509Certificate(keys.certificates[keys.certificates.length - 1].certificatePem);
    const parsedPrivate = jest.spyOn(crypto, 'createPrivateKey');
    const parsedPublic = jest.spyOn(crypto, 'createPublicKey');
    const now = Date.now();
    for (let message = 0; message < 40; message += 1) {
      const body = JSON.stringify({ message });
      const headers = signatureHeaders(keys, body, now);
      expect(verifies(headers, body, certificate.publicKey)).toBe(true);
      const pathWithQuery = `/v3/pay/transactions/out-trade-no/WX${message}?mchid=${keys.mchid}`;
      const authorization = authorizationHeader(
        { mchid: keys.mchid, serialNo: keys.serialNo, privateKey: merchantKey },
        { method: 'GET', pathWithQuery, body: '' },
        { timestamp: Math.floor(now / 1000), nonce: `nonce${message}` },
      );
      expect(requestSignatureProblem(keys, { method: 'GET', pathWithQuery, body: '', authorization }, now)).toBe(
        undefined,
      );
      expect(
        requestSignatureProblem(
          keys,
          { method: 'GET', pathWithQuery: `${pathWithQuery}x`, body: '', authorization },
          now,
        ),
      ).toBe('signature does not verify with the merchant key');
    }
    expect(parsedPrivate.mock.calls.length).toBeLessThanOrEqual(1);
    expect(parsedPublic.mock.calls.length).toBeLessThanOrEqual(1);
  });

  it('should sign with a rotated certificate, and with the other mode’s key, from the very next answer', async () => {
    const ring = new SandboxKeyRing({ mchid: WXPAY_MCHID, appid: WXPAY_APPID }, undefined, keys);
    const body = '{"prepay_id":"wx1"}';
    const before = await ring.get();
    const first = before.certificates[before.certificates.length - 1];
    const firstKey = new X509Certificate(first.certificatePem).publicKey;
    const signedBefore = signatureHeaders(before, body, Date.now());
    expect(signedBefore['Wechatpay-Serial']).toBe(first.serialNo);
    expect(verifies(signedBefore, body, firstKey)).toBe(true);

    const rotated = await ring.rotateCertificate();
    const fresh = rotated.certificates[rotated.certificates.length - 1];
    const signedAfter = signatureHeaders(rotated, body, Date.now());
    expect(signedAfter['Wechatpay-Serial']).toBe(fresh.serialNo);
    expect(verifies(signedAfter, body, new X509Certificate(fresh.certificatePem).publicKey)).toBe(true);
    expect(verifies(signedAfter, body, firstKey)).toBe(false);

    const publicKeyMode = await ring.setMode('public_key');
    const signedByPublicKey = signatureHeaders(publicKeyMode, body, Date.now());
    expect(signedByPublicKey['Wechatpay-Serial']).toBe(keys.platformPublicKeyId);
    expect(verifies(signedByPublicKey, body, keys.platformPublicKey)).toBe(true);

    const back = await ring.setMode('certificate');
    const signedBack = signatureHeaders(back, body, Date.now());
    expect(signedBack['Wechatpay-Serial']).toBe(fresh.serialNo);
    expect(verifies(signedBack, body, new X509Certificate(fresh.certificatePem).publicKey)).toBe(true);
    // A request naming the 微信支付公钥 is answered with it, whatever the mode.
    const asked = signatureHeaders(back, body, Date.now(), keys.platformPublicKeyId);
    expect(verifies(asked, body, keys.platformPublicKey)).toBe(true);
  });

  it('should give the same parsed key for the same PEM and another for another, Alipay’s order strings included', () => {
    expect(privateKeyOf(keys.merchantPrivateKey)).toBe(privateKeyOf(keys.merchantPrivateKey));
    expect(privateKeyOf(keys.platformPrivateKey)).not.toBe(privateKeyOf(keys.merchantPrivateKey));
    expect(publicKeyOf(keys.merchantPublicKey)).toBe(publicKeyOf(keys.merchantPublicKey));
    expect(publicKeyOf(keys.merchantPublicKey).export({ type: 'spki', format: 'pem' })).toBe(keys.merchantPublicKey);

    const parsed = jest.spyOn(crypto, 'createPrivateKey');
    const params = {
      app_id: '2021000000000000',
      method: 'alipay.trade.app.pay',
      biz_content: '{"total_amount":"1.00"}',
    };
    const orders = Array.from({ length: 10 }, () => alipayOrderString(params, keys.merchantPrivateKey));
    for (const order of orders) expect(verifyAlipayOrderString(order, keys.merchantPublicKey).valid).toBe(true);
    expect(verifyAlipayOrderString(orders[0], keys.platformPublicKey).valid).toBe(false);
    expect(parsed).not.toHaveBeenCalled();
  });
});
