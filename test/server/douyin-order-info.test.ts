import {
  douyinCashierUid,
  signOrderInfo,
  SignedDouyinCashier,
} from '../../server/adapters/payments/douyin-cashier/order-info';
import type { DouyinOrderInfoRequest } from '../../server/domain/ports';
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

describe('SignedDouyinCashier.orderInfo', () => {
  const cashier = new SignedDouyinCashier({ payAppId: '800000000001', merchantId: '1900000001', paySecret: 's' });
  // Milliseconds on both ends, as orders store them.
  const createdAt = new Date('2030-03-01T08:00:00.640Z');
  const expiresAt = new Date(createdAt.getTime() + 15 * 60_000);
  const request = (overrides: Partial<DouyinOrderInfoRequest> = {}): DouyinOrderInfoRequest => ({
    orderNo: 'CO20300301000001',
    openid: '_000QadFMhmWRKwyhyKr3Yj4f7Yd5zwc1t4h',
    amount: 100,
    subject: 'subject',
    body: 'body',
    createdAt,
    expiresAt,
    now: createdAt,
    notifyUrl: 'https://shop.example/api/gateway/webhook',
    ...overrides,
  });
  const seconds = (at: Date) => Math.floor(at.getTime() / 1000);

  it("should put trade_time at the order's creation and trade_time + valid_time on its deadline, at any time it is asked", () => {
    for (let elapsedMs = 0; elapsedMs < 15 * 60_000 - 1000; elapsedMs += 7_919) {
      const now = new Date(createdAt.getTime() + elapsedMs);
      const info = cashier.orderInfo(request({ now }));
      expect(info.trade_time).toBe(String(seconds(createdAt)));
      expect(Number(info.trade_time) + Number(info.valid_time)).toBe(seconds(expiresAt));
      expect(Number(info.trade_time) + Number(info.valid_time)).toBeGreaterThan(seconds(now));
      expect(info.timestamp).toBe(String(seconds(now)));
      expect(info.sign).toBe(signOrderInfo({ ...info, sign: '' }, 's'));
    }
  });

  it('should refuse with ORDER_EXPIRED, rather than sign a past deadline, once the deadline second has come', () => {
    for (const now of [new Date(expiresAt.getTime() - 500), expiresAt, new Date(expiresAt.getTime() + 60_000)]) {
      expect(() => cashier.orderInfo(request({ now }))).toThrow(expect.objectContaining({ code: 'ORDER_EXPIRED' }));
    }
    const lastSecond = new Date(seconds(expiresAt) * 1000 - 1);
    expect(Number(cashier.orderInfo(request({ now: lastSecond })).valid_time)).toBeGreaterThan(0);
  });

  it('should send as uid a hash of at most 32 characters, one per openid, without the openid', () => {
    const openids = [
      '_000QadFMhmWRKwyhyKr3Yj4f7Yd5zwc1t4h',
      `_000${'x'.repeat(60)}`,
      'shopper-zyxw',
      '_000QadFMhmWRKwyhyKr3Yj4f7Yd5zwc1t4i',
    ];
    const uids = openids.map((openid) => cashier.orderInfo(request({ openid })).uid);
    for (const [index, uid] of uids.entries()) {
      expect(uid).toMatch(/^[0-9a-f]{1,32}$/);
      expect(uid).toBe(douyinCashierUid(openids[index]));
      expect(String(uid)).not.toContain(openids[index].slice(4, 12));
    }
    expect(new Set(uids).size).toBe(openids.length);
    expect(cashier.orderInfo(request({ openid: openids[0], now: new Date(createdAt.getTime() + 60_000) })).uid).toBe(
      uids[0],
    );
  });

  it('should give no two of many shoppers one uid', () => {
    const seen = new Set<string>();
    for (let n = 0; n < 50_000; n += 1) seen.add(douyinCashierUid(`_000${n.toString(36).padStart(32, '0')}`));
    expect(seen.size).toBe(50_000);
  });
});
