import type { Order } from '../../src/api/types';
import type { ShopperError } from '../../src/checkout/messages';
import { returnToAppView } from '../../src/checkout/return-to-app';
import type { CheckoutData } from '../../src/checkout/store';

const order: Order = {
  orderNo: 'CO000007',
  amount: 3998,
  currency: 'CNY',
  status: 'paid',
  items: [{ sku: 'cup', quantity: 2 }],
  expiresAt: '2030-01-01T00:15:00.000Z',
};

type ViewState = Pick<CheckoutData, 'phase' | 'source' | 'order' | 'error' | 'confirmation'>;

const appState = (overrides: Partial<ViewState>): ViewState => ({
  phase: 'paid',
  source: 'app',
  order,
  error: null,
  confirmation: null,
  ...overrides,
});

const error = (code: string, nextStep: ShopperError['nextStep']): ShopperError => ({ code, message: code, nextStep });

describe('returnToAppView', () => {
  it('should offer the way back after paying, with the orderNo and the status the server reported', () => {
    expect(returnToAppView(appState({}))).toEqual({
      appParameter: '{"orderNo":"CO000007","status":"paid"}',
      label: '返回APP',
      instruction: '支付已完成，请返回APP查看订单',
      refusedInstruction: '请手动返回APP查看订单',
      primary: true,
    });
  });

  it("should carry the server's status, whatever it is, never a client verdict", () => {
    const view = returnToAppView(
      appState({
        phase: 'failed',
        order: { ...order, status: 'expired' },
        error: error('ORDER_EXPIRED', 'returnToApp'),
      }),
    );
    expect(view).toMatchObject({
      appParameter: '{"orderNo":"CO000007","status":"expired"}',
      label: '返回APP重新发起支付',
      instruction: '请返回APP重新发起支付',
      refusedInstruction: '请手动返回APP重新发起支付',
      primary: true,
    });
  });

  it('should name the error when no order was claimed', () => {
    const view = returnToAppView(
      appState({ phase: 'failed', order: null, error: error('CHECKOUT_TOKEN_USED', 'returnToApp') }),
    );
    expect(view?.appParameter).toBe('{"error":"CHECKOUT_TOKEN_USED"}');
  });

  it('should offer it beside the retry after a cancel, a retryable failure, or a result still pending', () => {
    const pending = { ...order, status: 'pending' as const };
    for (const state of [
      appState({ phase: 'cancelled', order: pending }),
      appState({ phase: 'failed', order: pending, error: error('PAYMENT_FAILED', 'retryPayment') }),
      appState({ phase: 'confirming', confirmation: 'stillPending', order: pending }),
    ]) {
      expect(returnToAppView(state)).toMatchObject({
        appParameter: '{"orderNo":"CO000007","status":"pending"}',
        label: '返回APP',
        primary: false,
      });
    }
  });

  it.each(['claiming', 'ready', 'paying'] as const)('should offer nothing while %s', (phase) => {
    expect(returnToAppView(appState({ phase }))).toBeNull();
  });

  it('should offer nothing while still confirming', () => {
    expect(returnToAppView(appState({ phase: 'confirming', confirmation: 'checking' }))).toBeNull();
  });

  it('should offer nothing for a cart checkout', () => {
    expect(returnToAppView(appState({ source: 'cart' }))).toBeNull();
  });
});
