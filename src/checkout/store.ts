import { createStore, StoreApi } from 'zustand/vanilla';
import { CatalogItem, Order, OrderItemInput } from '../api/types';
import { ShopperError } from './messages';

/**
 * idle ──checkoutStarted──▶ loggingIn ──orderRequested──▶ creating ──orderCreated──▶ paying
 * paying ──paymentSubmitted──▶ confirming ──paymentConfirmed──▶ paid
 * paying ──paymentCancelled──▶ cancelled ──paymentRetried──▶ paying
 * loggingIn | creating | paying | confirming ──failed──▶ failed
 * failed ──checkoutStarted (no order yet) / paymentRetried / recheckRequested (order exists)──▶ …
 * failed | cancelled ──startedOver──▶ idle
 */
export type CheckoutPhase =
  | 'idle'
  | 'loggingIn'
  | 'creating'
  | 'paying'
  | 'confirming'
  | 'paid'
  | 'cancelled'
  | 'failed';

export type CatalogStatus = 'loading' | 'ready' | 'failed';

/** While confirming: still polling, or polling gave up with the order still pending. */
export type ConfirmationStatus = 'checking' | 'stillPending';

export interface CartLine extends CatalogItem {
  quantity: number;
}

export interface CheckoutData {
  phase: CheckoutPhase;
  catalogStatus: CatalogStatus;
  catalogError: ShopperError | null;
  cartLines: CartLine[];
  order: Order | null;
  /** Set only in `confirming`. */
  confirmation: ConfirmationStatus | null;
  /** Set only in `failed`. */
  error: ShopperError | null;
}

/** Each transition returns whether it applied; a transition that is invalid in the current state changes nothing. */
export interface CheckoutTransitions {
  catalogRequested(): boolean;
  catalogReceived(items: CatalogItem[]): boolean;
  catalogFailed(error: ShopperError): boolean;
  quantityChanged(sku: string, quantity: number): boolean;
  checkoutStarted(): boolean;
  orderRequested(): boolean;
  orderCreated(order: Order): boolean;
  paymentSubmitted(): boolean;
  paymentCancelled(): boolean;
  paymentRetried(): boolean;
  confirmationTimedOut(): boolean;
  recheckRequested(): boolean;
  paymentConfirmed(): boolean;
  failed(error: ShopperError): boolean;
  startedOver(): boolean;
}

export type CheckoutState = CheckoutData & CheckoutTransitions;
export type CheckoutStore = StoreApi<CheckoutState>;

export const MAX_QUANTITY_PER_LINE = 99;

const initialData: CheckoutData = {
  phase: 'idle',
  catalogStatus: 'loading',
  catalogError: null,
  cartLines: [],
  order: null,
  confirmation: null,
  error: null,
};

export function cartTotalFen(lines: readonly CartLine[]): number {
  return lines.reduce((total, line) => total + line.price * line.quantity, 0);
}

export function orderItemsFromCart(lines: readonly CartLine[]): OrderItemInput[] {
  return lines.filter((line) => line.quantity > 0).map(({ sku, quantity }) => ({ sku, quantity }));
}

export function createCheckoutStore(): CheckoutStore {
  return createStore<CheckoutState>()((set, get) => {
    function transition(allowed: boolean, next: Partial<CheckoutData>): boolean {
      if (allowed) set(next);
      return allowed;
    }
    const inPhase = (...phases: CheckoutPhase[]) => phases.includes(get().phase);
    const failedWithOrder = () => get().phase === 'failed' && get().order !== null;
    const canStartCheckout = () => {
      const { phase, order, catalogStatus, cartLines } = get();
      const cartReady = catalogStatus === 'ready' && cartTotalFen(cartLines) > 0;
      return cartReady && (phase === 'idle' || (phase === 'failed' && order === null));
    };

    return {
      ...initialData,

      catalogRequested: () => transition(inPhase('idle'), { catalogStatus: 'loading', catalogError: null }),

      catalogReceived: (items) =>
        transition(inPhase('idle'), {
          catalogStatus: 'ready',
          catalogError: null,
          cartLines: items.map((item) => ({ ...item, quantity: 1 })),
        }),

      catalogFailed: (error) => transition(inPhase('idle'), { catalogStatus: 'failed', catalogError: error }),

      quantityChanged: (sku, quantity) => {
        const { cartLines, catalogStatus } = get();
        const valid =
          Number.isInteger(quantity) &&
          quantity >= 0 &&
          quantity <= MAX_QUANTITY_PER_LINE &&
          cartLines.some((line) => line.sku === sku);
        return transition(inPhase('idle') && catalogStatus === 'ready' && valid, {
          cartLines: cartLines.map((line) => (line.sku === sku ? { ...line, quantity } : line)),
        });
      },

      checkoutStarted: () => transition(canStartCheckout(), { phase: 'loggingIn', error: null }),

      orderRequested: () => transition(inPhase('loggingIn'), { phase: 'creating' }),

      orderCreated: (order) => transition(inPhase('creating'), { phase: 'paying', order }),

      paymentSubmitted: () => transition(inPhase('paying'), { phase: 'confirming', confirmation: 'checking' }),

      paymentCancelled: () => transition(inPhase('paying'), { phase: 'cancelled' }),

      paymentRetried: () =>
        transition(inPhase('cancelled') || failedWithOrder(), { phase: 'paying', error: null }),

      confirmationTimedOut: () =>
        transition(inPhase('confirming') && get().confirmation === 'checking', { confirmation: 'stillPending' }),

      recheckRequested: () =>
        transition((inPhase('confirming') && get().confirmation === 'stillPending') || failedWithOrder(), {
          phase: 'confirming',
          confirmation: 'checking',
          error: null,
        }),

      paymentConfirmed: () => transition(inPhase('confirming'), { phase: 'paid', confirmation: null }),

      failed: (error) =>
        transition(inPhase('loggingIn', 'creating', 'paying', 'confirming'), {
          phase: 'failed',
          confirmation: null,
          error,
        }),

      startedOver: () =>
        transition(inPhase('failed', 'cancelled'), {
          phase: 'idle',
          order: null,
          confirmation: null,
          error: null,
        }),
    };
  });
}
