import type { Order } from '../../src/api/types';
import { CLAIMED_CHECKOUTS_STORAGE_KEY, createClaimedCheckouts } from '../../src/checkout/claimed-checkouts';
import { MemoryStorage } from './doubles/memory-storage';
import { VirtualClock } from './doubles/virtual-clock';

const order = (orderNo: string): Order => ({
  orderNo,
  amount: 3998,
  currency: 'CNY',
  status: 'pending',
  items: [{ sku: 'cup', quantity: 2, title: '茶杯', price: 1999, amount: 3998 }],
  expiresAt: '2030-01-01T00:15:00.000Z',
});

function setUp() {
  const storage = new MemoryStorage();
  const clock = new VirtualClock();
  return { storage, clock, claims: createClaimedCheckouts({ storage, now: clock.now }) };
}

describe('createClaimedCheckouts', () => {
  it('should recall the order claimed with a token, and nothing for other tokens', () => {
    const { claims } = setUp();
    claims.remember('token-a', order('CO1'));
    expect(claims.recall('token-a')).toEqual(order('CO1'));
    expect(claims.recall('token-b')).toBeUndefined();
  });

  it('should survive a new instance over the same storage (the page opened again)', () => {
    const { storage, clock, claims } = setUp();
    claims.remember('token-a', order('CO1'));
    expect(createClaimedCheckouts({ storage, now: clock.now }).recall('token-a')?.orderNo).toBe('CO1');
  });

  it('should forget claims older than a day', () => {
    const { clock, claims } = setUp();
    claims.remember('token-a', order('CO1'));
    clock.advance(24 * 60 * 60 * 1000 + 1);
    expect(claims.recall('token-a')).toBeUndefined();
  });

  it('should keep only the most recent 20 claims', () => {
    const { storage, claims } = setUp();
    for (let n = 1; n <= 25; n += 1) claims.remember(`token-${n}`, order(`CO${n}`));
    expect(claims.recall('token-5')).toBeUndefined();
    expect(claims.recall('token-6')?.orderNo).toBe('CO6');
    expect(claims.recall('token-25')?.orderNo).toBe('CO25');
    expect(storage.getItem(CLAIMED_CHECKOUTS_STORAGE_KEY)).toHaveLength(20);
  });

  it('should ignore storage that holds something else', () => {
    const { storage, claims } = setUp();
    storage.setItem(CLAIMED_CHECKOUTS_STORAGE_KEY, [{ checkoutToken: 'token-a', order: 'CO1' }, 42]);
    expect(claims.recall('token-a')).toBeUndefined();
    claims.remember('token-b', order('CO2'));
    expect(claims.recall('token-b')?.orderNo).toBe('CO2');
  });
});
