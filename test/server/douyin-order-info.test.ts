import { signOrderInfo } from '../../server/adapters/payments/douyin-cashier/order-info';
import { PUBLIC_VECTOR, PUBLIC_VECTOR_SECRET, PUBLIC_VECTOR_SIGN } from '../support/douyin-test-vector';

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
    expect(signOrderInfo(PUBLIC_VECTOR, PUBLIC_VECTOR_SECRET)).toBe(PUBLIC_VECTOR_SIGN);
  });

  it('should not depend on the order of the fields', () => {
    for (let seed = 1; seed <= 25; seed += 1) {
      const reordered = Object.fromEntries(shuffled(Object.entries(PUBLIC_VECTOR), seed));
      expect(signOrderInfo(reordered, PUBLIC_VECTOR_SECRET)).toBe(PUBLIC_VECTOR_SIGN);
    }
  });

  it('should leave out sign, risk_info and empty values', () => {
    const { risk_info: _risk, notify_url: _empty, ...core } = PUBLIC_VECTOR;
    expect(signOrderInfo(core, PUBLIC_VECTOR_SECRET)).toBe(PUBLIC_VECTOR_SIGN);
    expect(
      signOrderInfo({ ...PUBLIC_VECTOR, sign: 'anything', risk_info: '{"ip":"1.2.3.4"}' }, PUBLIC_VECTOR_SECRET),
    ).toBe(PUBLIC_VECTOR_SIGN);
    expect(signOrderInfo({ ...PUBLIC_VECTOR, extra_empty: '', missing: undefined }, PUBLIC_VECTOR_SECRET)).toBe(
      PUBLIC_VECTOR_SIGN,
    );
  });

  it('should change when any signed field or the secret changes', () => {
    const signedKeys = Object.keys(PUBLIC_VECTOR).filter((key) => key !== 'risk_info' && key !== 'notify_url');
    for (const key of signedKeys) {
      const value = PUBLIC_VECTOR[key as keyof typeof PUBLIC_VECTOR];
      const changed = { ...PUBLIC_VECTOR, [key]: typeof value === 'number' ? value + 1 : `${value}x` };
      expect(signOrderInfo(changed, PUBLIC_VECTOR_SECRET)).not.toBe(PUBLIC_VECTOR_SIGN);
    }
    expect(
      signOrderInfo({ ...PUBLIC_VECTOR, notify_url: 'https://example.com/notify' }, PUBLIC_VECTOR_SECRET),
    ).not.toBe(PUBLIC_VECTOR_SIGN);
    expect(signOrderInfo(PUBLIC_VECTOR, 'b')).not.toBe(PUBLIC_VECTOR_SIGN);
  });

  it('should sign values raw, not URL-encoded', () => {
    const encoded = { ...PUBLIC_VECTOR, alipay_url: encodeURIComponent(PUBLIC_VECTOR.alipay_url) };
    expect(signOrderInfo(encoded, PUBLIC_VECTOR_SECRET)).not.toBe(PUBLIC_VECTOR_SIGN);
  });
});
