import { CheckoutApi } from '../api/client';
import { isCheckoutError, isTransientError, ServerErrorCode } from '../api/errors';
import { Order, OrderStatusCode, OrderStatusReport } from '../api/types';
import { PaymentOutcome, PlatformPayAdapter } from '../platform/contract';
import { SessionManager } from '../session/session';
import { NextStep, OrderOutcomeCode, shopperErrorFrom, toShopperError } from './messages';
import { CheckoutStore, orderItemsFromCart } from './store';

export interface ConfirmationPolicy {
  /** @default 500 */
  initialDelayMs: number;
  /** @default 4000 */
  maxDelayMs: number;
  /** Polling stops with the order still pending after this long. @default 30000 */
  timeLimitMs: number;
}

export const DEFAULT_CONFIRMATION_POLICY: ConfirmationPolicy = {
  initialDelayMs: 500,
  maxDelayMs: 4000,
  timeLimitMs: 30_000,
};

export interface CheckoutFlowOptions {
  store: CheckoutStore;
  api: CheckoutApi;
  session: SessionManager;
  payment: PlatformPayAdapter;
  confirmation?: Partial<ConfirmationPolicy>;
  /** @default setTimeout-based */
  sleep?: (ms: number) => Promise<void>;
  /** @default Date.now */
  now?: () => number;
  /** @default random base-36 key */
  newIdempotencyKey?: () => string;
}

/** Shopper actions. Each resolves once the store has settled; none rejects. */
export interface CheckoutFlow {
  loadCatalog(): Promise<void>;
  /** Log in (cached) → create the order → pay → confirm with the server. */
  checkout(): Promise<void>;
  /** Pay the same order again (after a cancel or a payment failure). */
  retryPayment(): Promise<void>;
  /** Ask the server again whether the order is paid. */
  refreshResult(): Promise<void>;
  /** Drop the order and go back to the cart. */
  startOver(): void;
  runNextStep(step: NextStep): Promise<void>;
  /** The page's `onShow`: tells a payment sheet that is still open that the shopper is back on the page. */
  pageShown(): void;
}

type StatusVerdict = 'paid' | 'pending' | { finalCode: string };

export function createCheckoutFlow({
  store,
  api,
  session,
  payment,
  confirmation,
  sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  now = Date.now,
  newIdempotencyKey = randomIdempotencyKey,
}: CheckoutFlowOptions): CheckoutFlow {
  const policy: ConfirmationPolicy = { ...DEFAULT_CONFIRMATION_POLICY, ...confirmation };
  /**
   * One key per checkout attempt, kept when the shopper retries after a failure before an
   * order arrived: the lost answer may have created the order, and the same key returns it.
   * Dropped once the attempt is over (new order wanted, or paid).
   */
  let idempotencyKey: string | undefined;
  const pageShownListeners = new Set<() => void>();
  const transitions = () => store.getState();

  function onPageShown(listener: () => void): () => void {
    // A wrapper per subscription: the same listener subscribed twice is unsubscribed once each.
    const subscription = () => listener();
    pageShownListeners.add(subscription);
    return () => pageShownListeners.delete(subscription);
  }

  function pageShown(): void {
    [...pageShownListeners].forEach((listener) => listener());
  }

  async function loadCatalog(): Promise<void> {
    if (!transitions().catalogRequested()) return;
    try {
      transitions().catalogReceived(await api.getCatalog());
    } catch (failure) {
      transitions().catalogFailed(shopperErrorFrom(failure, 'reloadCatalog'));
    }
  }

  async function checkout(): Promise<void> {
    if (!transitions().checkoutStarted()) return;
    idempotencyKey ??= newIdempotencyKey();
    const attemptKey = idempotencyKey;
    let order: Order;
    try {
      await session.getToken();
      transitions().orderRequested();
      const items = orderItemsFromCart(transitions().cartLines);
      order = await session.withSession((token) => api.createOrder(token, items, attemptKey));
    } catch (failure) {
      transitions().failed(shopperErrorFrom(failure, 'retryCheckout'));
      return;
    }
    if (!transitions().orderCreated(order)) return;
    await payAndConfirm(order);
  }

  async function retryPayment(): Promise<void> {
    const { order } = transitions();
    if (!order || !transitions().paymentRetried()) return;
    await payAndConfirm(order);
  }

  async function payAndConfirm(order: Order): Promise<void> {
    const { orderNo } = order;
    let outcome: PaymentOutcome;
    try {
      const payResponse = await session.withSession((token) => api.requestPayment(token, orderNo, payment.platform));
      outcome = await payment.presentPayment(payResponse, {
        orderNo,
        getOrderStatus: () => session.withSession((token) => api.getOrderStatus(token, orderNo)),
        onPageShown,
      });
    } catch (failure) {
      if (!isCheckoutError(failure) || failure.code !== ServerErrorCode.orderAlreadyPaid) {
        transitions().failed(shopperErrorFrom(failure, 'retryPayment'));
        return;
      }
      // A retry after an earlier attempt went through: let the status endpoint have the final word.
      outcome = { kind: 'submitted' };
    }
    if (outcome.kind === 'cancelled') {
      transitions().paymentCancelled();
      return;
    }
    if (outcome.kind === 'failed') {
      transitions().failed(toShopperError(outcome, 'retryPayment'));
      return;
    }
    if (!transitions().paymentSubmitted()) return;
    await confirmWithServer(orderNo);
  }

  async function refreshResult(): Promise<void> {
    const { order } = transitions();
    if (!order || !transitions().recheckRequested()) return;
    await confirmWithServer(order.orderNo);
  }

  /** Polls the server with backoff; only the server's code 0 makes the order paid. */
  async function confirmWithServer(orderNo: string): Promise<void> {
    const deadline = now() + policy.timeLimitMs;
    let delayMs = policy.initialDelayMs;
    for (;;) {
      let verdict: StatusVerdict = 'pending';
      try {
        verdict = interpretStatus(await session.withSession((token) => api.getOrderStatus(token, orderNo)));
      } catch (failure) {
        if (!isCheckoutError(failure) || !isTransientError(failure)) {
          transitions().failed(shopperErrorFrom(failure, 'refreshResult'));
          return;
        }
      }
      if (verdict === 'paid') {
        idempotencyKey = undefined;
        transitions().paymentConfirmed();
        return;
      }
      if (verdict !== 'pending') {
        transitions().failed(toShopperError({ code: verdict.finalCode, message: verdict.finalCode }, 'startOver'));
        return;
      }
      const remainingMs = deadline - now();
      if (remainingMs <= 0) {
        transitions().confirmationTimedOut();
        return;
      }
      await sleep(Math.min(delayMs, remainingMs));
      delayMs = Math.min(delayMs * 2, policy.maxDelayMs);
    }
  }

  function startOver(): void {
    if (transitions().startedOver()) idempotencyKey = undefined;
  }

  async function runNextStep(step: NextStep): Promise<void> {
    switch (step) {
      case 'retryPayment':
        return retryPayment();
      case 'refreshResult':
        return refreshResult();
      case 'retryCheckout':
        return checkout();
      case 'startOver':
        return startOver();
      case 'reloadCatalog':
        return loadCatalog();
    }
  }

  return { loadCatalog, checkout, retryPayment, refreshResult, startOver, runNextStep, pageShown };
}

function interpretStatus(report: OrderStatusReport): StatusVerdict {
  switch (report.code) {
    case OrderStatusCode.paid:
      return 'paid';
    case OrderStatusCode.expired:
      return { finalCode: OrderOutcomeCode.expired };
    case OrderStatusCode.failed:
      return { finalCode: OrderOutcomeCode.failed };
    case OrderStatusCode.closed:
      return { finalCode: OrderOutcomeCode.closed };
    case OrderStatusCode.pending:
      return 'pending';
  }
}

function randomIdempotencyKey(): string {
  const randomPart = () => Math.random().toString(36).slice(2, 10);
  return `${Date.now().toString(36)}-${randomPart()}${randomPart()}`;
}
