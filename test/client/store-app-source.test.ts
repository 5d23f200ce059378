import type { Order } from '../../src/api/types';
import type { ShopperError } from '../../src/checkout/messages';
import { CheckoutStore, createCheckoutStore } from '../../src/checkout/store';

const TOKEN = 'launch-token-0123456789abcdef';
const OTHER_TOKEN = 'launch-token-fedcba9876543210';

const appOrder: Order = {
  orderNo: 'CO000007',
  amount: 3998,
  currency: 'CNY',
  status: 'pending',
  items: [{ sku: 'cup', quantity: 2, title: '茶杯', price: 1999, amount: 3998 }],
  expiresAt: '2030-01-01T00:15:00.000Z',
};

const expiredToken: ShopperError = {
  code: 'CHECKOUT_TOKEN_EXPIRED',
  message: '支付链接已过期',
  nextStep: 'returnToApp',
};
const networkError: ShopperError = {
  code: 'NETWORK_ERROR',
  message: '网络连接失败，请检查网络后重试',
  nextStep: 'retryClaim',
};

function claimedStore(): CheckoutStore {
  const store = createCheckoutStore();
  store.getState().claimStarted(TOKEN);
  store.getState().orderClaimed(appOrder);
  return store;
}

describe('checkout store: an order a merchant app opened the page for', () => {
  it('should walk idle → claiming → ready → paying → confirming → paid', () => {
    const store = createCheckoutStore();
    const phases: string[] = [];
    store.subscribe((state) => phases.push(state.phase));
    const state = store.getState;

    expect(state().claimStarted(TOKEN)).toBe(true);
    expect(state()).toMatchObject({ source: 'app', checkoutToken: TOKEN, order: null });
    expect(state().orderClaimed(appOrder)).toBe(true);
    expect(state().paymentStarted()).toBe(true);
    expect(state().paymentSubmitted()).toBe(true);
    expect(state().paymentConfirmed()).toBe(true);

    expect(phases).toEqual(['claiming', 'ready', 'paying', 'confirming', 'paid']);
    expect(state().order).toEqual(appOrder);
  });

  it('should not need the catalogue or the cart', () => {
    const store = createCheckoutStore();
    expect(store.getState().catalogStatus).toBe('loading');
    expect(store.getState().claimStarted(TOKEN)).toBe(true);
  });

  it('should refuse the cart transitions for an app order', () => {
    const store = claimedStore();
    const state = store.getState;
    state().catalogReceived([{ sku: 'tea', title: '龙井茶', price: 1 }]);
    expect(state().checkoutStarted()).toBe(false);
    expect(state().quantityChanged('tea', 2)).toBe(false);
    expect(state().phase).toBe('ready');
  });

  it('should pay only from ready, and only once', () => {
    const store = createCheckoutStore();
    const state = store.getState;
    expect(state().paymentStarted()).toBe(false);
    state().claimStarted(TOKEN);
    expect(state().paymentStarted()).toBe(false);
    state().orderClaimed(appOrder);
    expect(state().paymentStarted()).toBe(true);
    expect(state().paymentStarted()).toBe(false);
  });

  it('should go straight to confirming for a re-opened order the server already settled', () => {
    const store = claimedStore();
    expect(store.getState().resultRequested()).toBe(true);
    expect(store.getState()).toMatchObject({ phase: 'confirming', confirmation: 'checking' });
    expect(store.getState().resultRequested()).toBe(false);
  });

  it('should fail while claiming, and retry the claim with the same token (no order yet)', () => {
    const store = createCheckoutStore();
    const state = store.getState;
    state().claimStarted(TOKEN);
    expect(state().failed(networkError)).toBe(true);
    expect(state()).toMatchObject({ phase: 'failed', order: null, error: networkError, source: 'app' });

    expect(state().claimStarted(TOKEN)).toBe(true);
    expect(state()).toMatchObject({ phase: 'claiming', error: null });
  });

  it('should ignore the same token again once its order is claimed (the page re-rendered or re-opened)', () => {
    const store = claimedStore();
    expect(store.getState().claimStarted(TOKEN)).toBe(false);
    store.getState().paymentStarted();
    store.getState().paymentSubmitted();
    store.getState().paymentConfirmed();
    expect(store.getState().claimStarted(TOKEN)).toBe(false);
    expect(store.getState().phase).toBe('paid');
  });

  it('should take a new launch token once nothing is in flight, and not while paying or confirming', () => {
    const store = claimedStore();
    const state = store.getState;
    state().paymentStarted();
    expect(state().claimStarted(OTHER_TOKEN)).toBe(false);
    state().paymentSubmitted();
    expect(state().claimStarted(OTHER_TOKEN)).toBe(false);
    state().confirmationTimedOut();
    expect(state().claimStarted(OTHER_TOKEN)).toBe(true);
    expect(state()).toMatchObject({ phase: 'claiming', checkoutToken: OTHER_TOKEN, order: null, confirmation: null });
  });

  it('should keep the order at the status the server last reported', () => {
    const store = claimedStore();
    expect(store.getState().statusReported({ orderNo: 'CO000007', status: 'expired' })).toBe(true);
    expect(store.getState().order?.status).toBe('expired');
    expect(store.getState().statusReported({ orderNo: 'SOMEONE_ELSE', status: 'paid' })).toBe(false);
    expect(store.getState().order?.status).toBe('expired');
  });

  it('should not start over into the cart from an app order: only the app can start a new one', () => {
    const store = claimedStore();
    store.getState().failed(expiredToken);
    expect(store.getState().startedOver()).toBe(false);
    expect(store.getState().phase).toBe('failed');
  });

  it('should open the cart when the page opens without a token after a finished app checkout', () => {
    const store = createCheckoutStore();
    const state = store.getState;
    state().claimStarted(TOKEN);
    expect(state().cartOpened()).toBe(false);
    state().failed(expiredToken);
    expect(state().cartOpened()).toBe(true);
    expect(state()).toMatchObject({ phase: 'idle', source: 'cart', checkoutToken: null, order: null, error: null });
    expect(state().cartOpened()).toBe(false);
  });
});
