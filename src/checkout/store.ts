import { createStore, StoreApi } from 'zustand/vanilla';
import { CatalogItem, Order, OrderItemInput, OrderStatus } from '../api/types';
import { ShopperError } from './messages';

/**
 * Two ways in, one way to pay:
 *
 * cart (source 'cart'):
 *   idle ──checkoutStarted──▶ loggingIn ──orderRequested──▶ creating ──orderCreated──▶ paying
 * an order a merchant's app opened the mini-program for (source 'app', `?checkout=<token>`):
 *   idle ──claimStarted(token)──▶ claiming ──orderClaimed──▶ ready ──paymentStarted──▶ paying
 *   ready ──resultRequested──▶ confirming            (a re-opened order the server already settled)
 *   settled ──claimStarted(another token)──▶ claiming (the app launched the page for a new checkout)
 *   settled (source 'app') ──cartOpened──▶ idle      (the page opened without a token)
 * then, for both:
 *   paying ──paymentSubmitted──▶ confirming ──paymentConfirmed──▶ paid
 *   paying ──paymentCancelled──▶ cancelled ──paymentRetried──▶ paying
 *   claiming | ready | loggingIn | creating | paying | confirming ──failed──▶ failed
 *   failed ──checkoutStarted / claimStarted (no order yet) · paymentRetried / recheckRequested (order exists)──▶ …
 *   failed | cancelled ──startedOver (cart only)──▶ idle
 *
 * "settled" = nothing in flight: ready, paid, cancelled, failed, or confirming that stopped polling.
 * `statusReported` keeps `order.status` at the server's latest word, in any phase.
 */
export type CheckoutPhase =
  'idle' | 'claiming' | 'ready' | 'loggingIn' | 'creating' | 'paying' | 'confirming' | 'paid' | 'cancelled' | 'failed';

/** Where the order comes from: the shopper's cart, or a merchant's app that launched the mini-program. */
export type CheckoutSource = 'cart' | 'app';

export type CatalogStatus = 'loading' | 'ready' | 'failed';

/** While confirming: still polling, or polling gave up with the order still pending. */
export type ConfirmationStatus = 'checking' | 'stillPending';

export interface CartLine extends CatalogItem {
  quantity: number;
}

export interface CheckoutData {
  phase: CheckoutPhase;
  source: CheckoutSource;
  /** The app's launch token (source 'app'). One-time: spent by the first claim. */
  checkoutToken: string | null;
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
  claimStarted(checkoutToken: string): boolean;
  orderClaimed(order: Order): boolean;
  paymentStarted(): boolean;
  resultRequested(): boolean;
  cartOpened(): boolean;
  statusReported(report: { orderNo: string; status: OrderStatus }): boolean;
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
  source: 'cart',
  checkoutToken: null,
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
    const failedBeforeOrder = () => get().phase === 'failed' && get().order === null;
    /** Nothing in flight: a new launch may replace what the page shows. */
    const settled = () =>
      inPhase('ready', 'paid', 'cancelled', 'failed') ||
      (inPhase('confirming') && get().confirmation === 'stillPending');
    const canStartCheckout = () => {
      const { phase, source, catalogStatus, cartLines } = get();
      const cartReady = catalogStatus === 'ready' && cartTotalFen(cartLines) > 0;
      return source === 'cart' && cartReady && (phase === 'idle' || failedBeforeOrder());
    };
    const canStartClaim = (checkoutToken: string) => {
      const { phase, checkoutToken: current } = get();
      // A retry of the same launch, or any launch before an order exists.
      if (phase === 'idle' || failedBeforeOrder()) return true;
      // The same token again (the page re-rendered, or was re-opened with the same path) changes nothing.
      return checkoutToken !== current && settled();
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

      claimStarted: (checkoutToken) =>
        transition(canStartClaim(checkoutToken), {
          phase: 'claiming',
          source: 'app',
          checkoutToken,
          order: null,
          confirmation: null,
          error: null,
        }),

      orderClaimed: (order) => transition(inPhase('claiming'), { phase: 'ready', order }),

      paymentStarted: () => transition(inPhase('ready') && get().order !== null, { phase: 'paying' }),

      resultRequested: () =>
        transition(inPhase('ready') && get().order !== null, { phase: 'confirming', confirmation: 'checking' }),

      cartOpened: () =>
        transition(get().source === 'app' && settled(), {
          phase: 'idle',
          source: 'cart',
          checkoutToken: null,
          order: null,
          confirmation: null,
          error: null,
        }),

      statusReported: ({ orderNo, status }) => {
        const { order } = get();
        return transition(order !== null && order.orderNo === orderNo, { order: order && { ...order, status } });
      },

      paymentSubmitted: () => transition(inPhase('paying'), { phase: 'confirming', confirmation: 'checking' }),

      paymentCancelled: () => transition(inPhase('paying'), { phase: 'cancelled' }),

      paymentRetried: () => transition(inPhase('cancelled') || failedWithOrder(), { phase: 'paying', error: null }),

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
        transition(inPhase('claiming', 'ready', 'loggingIn', 'creating', 'paying', 'confirming'), {
          phase: 'failed',
          confirmation: null,
          error,
        }),

      startedOver: () =>
        transition(get().source === 'cart' && inPhase('failed', 'cancelled'), {
          phase: 'idle',
          order: null,
          confirmation: null,
          error: null,
        }),
    };
  });
}
