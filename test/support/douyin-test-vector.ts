/**
 * Douyin's public `orderInfo` signing test vector (platform-facts.md, from an independently
 * written SDK): this map signs to `PUBLIC_VECTOR_SIGN` with the secret `PUBLIC_VECTOR_SECRET`.
 */
export const PUBLIC_VECTOR = {
  app_id: '800000000001',
  merchant_id: '1900000001',
  timestamp: '1570694312',
  sign_type: 'MD5',
  out_order_no: '201900000000000001',
  total_amount: 1,
  product_code: 'pay',
  payment_type: 'direct',
  trade_type: 'H5',
  version: '2.0',
  currency: 'CNY',
  subject: '测试订单',
  body: '测试订单',
  uid: '0000000000000001',
  trade_time: '1570585744',
  valid_time: '300',
  notify_url: '',
  risk_info: '{"ip":"120.230.0.0"}',
  wx_type: 'MWEB',
  wx_url: 'https://wx.tenpay.com/xxx',
  alipay_url: 'app_id=2019000000000006&biz_content=xxxx',
};
export const PUBLIC_VECTOR_SECRET = 'a';
export const PUBLIC_VECTOR_SIGN = '0f1e3358a9898d7c4c6c23740251808a';
