import type { Order } from '../../src/api/types';
import type { ShopperError } from '../../src/checkout/messages';
import { cartTotalFen, CheckoutStore, createCheckoutStore, orderItemsFromCart } from '../../src/checkout/store';

const catalog = [
  { sku: 'tea', title: '龙井茶', price: 1 },
  { sku: 'cup', title: '茶杯', price: 1999 },
];

const order: Order = {
  orderNo: 'CO000001',
  amount: 2000,
  currency: 'CNY',
  status: 'pending',
  items: [
    { sku: 'tea', quantity: 1 },
    { sku: 'cup', quantity: 1 },
  ],
  expiresAt: '2030-01-01T00:15:00.000Z',
};

const paymentError: ShopperError = {
  code: 'PAYMENT_FAILED',
  message: '支付未完成，请重新支付',
  nextStep: 'retryPayment',
};

function storeWithCart(): CheckoutStore {
  const store = createCheckoutStore();
  store.getState().catalogReceived(catalog);
  return store;
}

function storeIn(phase: 'paying' | 'confirming' | 'cancelled' | 'failedBeforeOrder'): CheckoutStore {
  const store = storeWithCart();
  const state = store.getState;
  state().checkoutStarted();
  if (phase === 'failedBeforeOrder') {
    state().failed({ ...paymentError, code: 'NETWORK_ERROR', nextStep: 'retryCheckout' });
    return store;
  }
  state().orderRequested();
  state().orderCreated(order);
  if (phase === 'confirming') state().paymentSubmitted();
  if (phase === 'cancelled') state().paymentCancelled();
  return store;
}

describe('checkout store', () => {
  it('should start idle with the catalogue loading and nothing else', () => {
    const state = createCheckoutStore().getState();
    expect(state).toMatchObject({ phase: 'idle', catalogStatus: 'loading', cartLines: [], order: null, error: null });
  });

  it('should put one of each catalogue item in the cart', () => {
    const state = storeWithCart().getState();
    expect(state.catalogStatus).toBe('ready');
    expect(state.cartLines.map((line) => [line.sku, line.quantity])).toEqual([
      ['tea', 1],
      ['cup', 1],
    ]);
    expect(cartTotalFen(state.cartLines)).toBe(2000);
  });

  it('should walk the happy path idle → loggingIn → creating → paying → confirming → paid', () => {
    const store = storeWithCart();
    const phases: string[] = [];
    store.subscribe((state) => phases.push(state.phase));
    const state = store.getState;

    expect(state().checkoutStarted()).toBe(true);
    expect(state().orderRequested()).toBe(true);
    expect(state().orderCreated(order)).toBe(true);
    expect(state().paymentSubmitted()).toBe(true);
    expect(state().confirmation).toBe('checking');
    expect(state().paymentConfirmed()).toBe(true);

    expect(phases).toEqual(['loggingIn', 'creating', 'paying', 'confirming', 'paid']);
    expect(state().order).toEqual(order);
  });

  it('should ignore transitions that are invalid in the current state', () => {
    const store = storeWithCart();
    const before = store.getState();

    expect(before.orderCreated(order)).toBe(false);
    expect(before.paymentSubmitted()).toBe(false);
    expect(before.paymentConfirmed()).toBe(false);
    expect(before.paymentRetried()).toBe(false);
    expect(before.failed(paymentError)).toBe(false);
    expect(before.startedOver()).toBe(false);
    expect(store.getState()).toBe(before);
  });

  it('should never reach paid without going through confirming', () => {
    const store = storeIn('paying');
    expect(store.getState().paymentConfirmed()).toBe(false);
    expect(store.getState().phase).toBe('paying');
  });

  it('should not start a checkout twice (double tap)', () => {
    const store = storeWithCart();
    expect(store.getState().checkoutStarted()).toBe(true);
    expect(store.getState().checkoutStarted()).toBe(false);
  });

  it('should not start a checkout before the catalogue arrived or with an empty cart', () => {
    expect(createCheckoutStore().getState().checkoutStarted()).toBe(false);

    const store = storeWithCart();
    store.getState().quantityChanged('tea', 0);
    store.getState().quantityChanged('cup', 0);
    expect(store.getState().checkoutStarted()).toBe(false);
  });

  it('should change quantities only while idle and within bounds', () => {
    const store = storeWithCart();
    expect(store.getState().quantityChanged('cup', 3)).toBe(true);
    expect(store.getState().quantityChanged('cup', -1)).toBe(false);
    expect(store.getState().quantityChanged('cup', 100)).toBe(false);
    expect(store.getState().quantityChanged('unknown', 1)).toBe(false);
    expect(orderItemsFromCart(store.getState().cartLines)).toEqual([
      { sku: 'tea', quantity: 1 },
      { sku: 'cup', quantity: 3 },
    ]);

    store.getState().quantityChanged('tea', 0);
    expect(orderItemsFromCart(store.getState().cartLines)).toEqual([{ sku: 'cup', quantity: 3 }]);

    store.getState().checkoutStarted();
    expect(store.getState().quantityChanged('cup', 1)).toBe(false);
  });

  it('should let a cancelled payment be retried on the same order', () => {
    const store = storeIn('cancelled');
    expect(store.getState().phase).toBe('cancelled');
    expect(store.getState().paymentRetried()).toBe(true);
    expect(store.getState()).toMatchObject({ phase: 'paying', order });
  });

  it('should keep the order when payment fails so it can be retried or re-checked', () => {
    const store = storeIn('paying');
    store.getState().failed(paymentError);
    expect(store.getState()).toMatchObject({ phase: 'failed', order, error: paymentError });

    expect(store.getState().paymentRetried()).toBe(true);
    expect(store.getState()).toMatchObject({ phase: 'paying', error: null });
  });

  it('should retry the whole checkout only when no order exists yet', () => {
    const store = storeIn('failedBeforeOrder');
    expect(store.getState().paymentRetried()).toBe(false);
    expect(store.getState().checkoutStarted()).toBe(true);

    const withOrder = storeIn('paying');
    withOrder.getState().failed(paymentError);
    expect(withOrder.getState().checkoutStarted()).toBe(false);
  });

  it('should mark a confirmation that ran out of time as still pending, and allow a re-check', () => {
    const store = storeIn('confirming');
    expect(store.getState().recheckRequested()).toBe(false);
    expect(store.getState().confirmationTimedOut()).toBe(true);
    expect(store.getState()).toMatchObject({ phase: 'confirming', confirmation: 'stillPending' });

    expect(store.getState().recheckRequested()).toBe(true);
    expect(store.getState()).toMatchObject({ phase: 'confirming', confirmation: 'checking' });
  });

  it('should go back to the cart on start over, dropping the order but keeping the cart', () => {
    const store = storeIn('cancelled');
    expect(store.getState().startedOver()).toBe(true);
    expect(store.getState()).toMatchObject({ phase: 'idle', order: null, error: null, catalogStatus: 'ready' });
    expect(store.getState().cartLines).toHaveLength(2);
  });

  it('should record a catalogue failure without leaving idle', () => {
    const store = createCheckoutStore();
    const catalogError: ShopperError = {
      code: 'NETWORK_ERROR',
      message: '网络连接失败，请检查网络后重试',
      nextStep: 'reloadCatalog',
    };
    expect(store.getState().catalogFailed(catalogError)).toBe(true);
    expect(store.getState()).toMatchObject({ phase: 'idle', catalogStatus: 'failed', catalogError });
    expect(store.getState().catalogRequested()).toBe(true);
    expect(store.getState()).toMatchObject({ catalogStatus: 'loading', catalogError: null });
  });
});
