import { createPublicKey, createVerify } from 'node:crypto';
import type { CheckoutHarness } from '../support/checkout-harness';
import { E2E_STORAGE, startWeappCheckout, WeappCheckout } from '../support/weapp-checkout';
import type { WxPaymentParams } from '../support/wx-double';

/**
 * The compiled `dist/weapp` bundle, unchanged, paying at WeChat Pay APIv3
 * (WEAPP_PAYMENT_PROVIDER=wechatpay) against a real server and the real WeChat Pay sandbox. The
 * `wx` double's `requestPayment` behaves as WeChat's ("小程序调起支付"): it refuses fields whose
 * RSA `paySign` does not verify with the merchant's public key over `appId\ntimeStamp\nnonceStr\npackage\n`,
 * then "pays" by settling the prepay's transaction, which sends TRANSACTION.SUCCESS to the server.
 */
describe(`WeChat checkout paid at WeChat Pay end to end (compiled bundle, ${E2E_STORAGE.name})`, () => {
  let checkout: WeappCheckout;
  let h: CheckoutHarness;
  let keys: { appid: string; merchantPublicKey: string };

  beforeAll(async () => {
    checkout = await startWeappCheckout({ env: { WEAPP_PAYMENT_PROVIDER: 'wechatpay' } });
    h = checkout.h;
    keys = (await h.sandbox.get('/sandbox/wechatpay/keys').expect(200)).body;
  }, 180_000);

  afterAll(async () => {
    await checkout?.close();
  });

  /** The transaction whose prepay_id the fields carry, after checking paySign as WeChat does. */
  async function transactionFor(params: WxPaymentParams): Promise<string> {
    const signed = `${keys.appid}\n${params.timeStamp}\n${params.nonceStr}\n${params.package}\n`;
    const verifies =
      params.signType === 'RSA' &&
      createVerify('RSA-SHA256')
        .update(signed)
        .verify(createPublicKey(keys.merchantPublicKey), params.paySign, 'base64');
    if (!verifies) throw { errMsg: 'requestPayment:fail 支付验证签名失败' };
    const { rows } = await h.services.database.query<{ bill_no: string }>(
      "SELECT bill_no FROM bills WHERE provider = 'wechatpay' AND gateway_id = $1",
      [params.package.replace(/^prepay_id=/, '')],
    );
    if (rows.length !== 1) throw { errMsg: 'requestPayment:fail prepay_id unknown' };
    return rows[0].bill_no;
  }

  it('should take a shopper from the cart to an order paid at WeChat Pay', async () => {
    const signed: WxPaymentParams[] = [];
    const wx = checkout.wxFor(async (params) => {
      const outTradeNo = await transactionFor(params);
      signed.push(params);
      await h.sandbox.post(`/sandbox/wechatpay/transactions/${outTradeNo}/settle`).send({ result: 'paid' }).expect(200);
      return { errMsg: 'requestPayment:ok' };
    });
    await checkout.expectCheckoutPaid(wx);
    expect(signed).toEqual([expect.objectContaining({ signType: 'RSA' })]);
  });
});
