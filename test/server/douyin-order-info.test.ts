import { signOrderInfo } from '../../server/adapters/douyin/order-info';

/** The public test vector from platform-facts.md (taken from an independently written SDK). */
const VECTOR = {
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
const VECTOR_SECRET = 'a';
const VECTOR_SIGN = '0f1e3358a9898d7c4c6c23740251808a';

function shuffled<T>(items: T[], seed: number): T[] {
  const copy = [...items];
  let state = seed;
  for (let i = copy.length - 1; i > 0; i -= 1) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const j = state % (i + 1);
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

describe('signOrderInfo', () => {
  it('should reproduce the public test vector', () => {
    expect(signOrderInfo(VECTOR, VECTOR_SECRET)).toBe(VECTOR_SIGN);
  });

  it('should not depend on the order of the fields', () => {
    for (let seed = 1; seed <= 25; seed += 1) {
      const reordered = Object.fromEntries(shuffled(Object.entries(VECTOR), seed));
      expect(signOrderInfo(reordered, VECTOR_SECRET)).toBe(VECTOR_SIGN);
    }
  });

  it('should leave out sign, risk_info and empty values', () => {
    const { risk_info: _risk, notify_url: _empty, ...core } = VECTOR;
    expect(signOrderInfo(core, VECTOR_SECRET)).toBe(VECTOR_SIGN);
    expect(signOrderInfo({ ...VECTOR, sign: 'anything', risk_info: '{"ip":"1.2.3.4"}' }, VECTOR_SECRET)).toBe(VECTOR_SIGN);
    expect(signOrderInfo({ ...VECTOR, extra_empty: '', missing: undefined }, VECTOR_SECRET)).toBe(VECTOR_SIGN);
  });

  it('should change when any signed field or the secret changes', () => {
    const signedKeys = Object.keys(VECTOR).filter((key) => key !== 'risk_info' && key !== 'notify_url');
    for (const key of signedKeys) {
      const value = VECTOR[key as keyof typeof VECTOR];
      const changed = { ...VECTOR, [key]: typeof value === 'number' ? value + 1 : `${value}x` };
      expect(signOrderInfo(changed, VECTOR_SECRET)).not.toBe(VECTOR_SIGN);
    }
    expect(signOrderInfo({ ...VECTOR, notify_url: 'https://example.com/notify' }, VECTOR_SECRET)).not.toBe(VECTOR_SIGN);
    expect(signOrderInfo(VECTOR, 'b')).not.toBe(VECTOR_SIGN);
  });

  it('should sign values raw, not URL-encoded', () => {
    const encoded = { ...VECTOR, alipay_url: encodeURIComponent(VECTOR.alipay_url) };
    expect(signOrderInfo(encoded, VECTOR_SECRET)).not.toBe(VECTOR_SIGN);
  });
});
