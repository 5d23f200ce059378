/**
 * The settings of each real upstream, as a production environment gives them: its base URL and
 * every credential it needs, made-up values of a valid shape. Spread them into an environment for
 * `loadConfig` or a harness, and override what the test is about. Frozen, so that no test changes
 * what the others read.
 */

/** The payment gateway, every secret set. */
export const REAL_GATEWAY = Object.freeze({
  GATEWAY_BASE_URL: 'https://payapi.example.com',
  GATEWAY_APP_ID: 'a',
  GATEWAY_APP_SECRET: 'b',
  GATEWAY_MASTER_SECRET: 'c',
});

/** WeChat's login API (code2Session) with the mini-program's AppID and secret. */
export const REAL_WECHAT = Object.freeze({
  WECHAT_API_BASE_URL: 'https://api.weixin.qq.com',
  WECHAT_APPID: 'wx1',
  WECHAT_SECRET: 's',
});

/** Douyin's API with the mini-program's login credentials and the legacy cashier's pay credentials. */
export const REAL_DOUYIN = Object.freeze({
  DOUYIN_API_BASE_URL: 'https://developer.toutiao.com',
  DOUYIN_APPID: 'tt1',
  DOUYIN_SECRET: 's',
  DOUYIN_PAY_APP_ID: '800000000001',
  DOUYIN_MERCHANT_ID: '1900000001',
  DOUYIN_PAY_SECRET: 'p',
});

/**
 * WeChat Pay's API with a merchant's 商户号, certificate serial and APIv3 key; the key files
 * (`WECHATPAY_PRIVATE_KEY_FILE`, and the 微信支付公钥's) are the test's to write and add.
 */
export const REAL_WECHATPAY = Object.freeze({
  WECHATPAY_BASE_URL: 'https://api.mch.weixin.qq.com',
  WECHATPAY_MCHID: '1230000109',
  WECHATPAY_SERIAL_NO: '3775B6A45ACD588826D15E583A95F5DDAAAAAAAA',
  WECHATPAY_APIV3_KEY: 'a'.repeat(32),
});
