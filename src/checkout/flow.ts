import { CheckoutApi } from '../api/client';
import { CheckoutError, isCheckoutError, isTransientError, ServerErrorCode } from '../api/errors';
import { Order, OrderStatusCode, OrderStatusReport } from '../api/types';
import { PaymentOutcome, PlatformPayAdapter } from '../platform/contract';
import { SessionManager } from '../session/session';
import { createMemoryStorage } from '../session/storage';
import { ClaimedCheckouts, createClaimedCheckouts } from './claimed-checkouts';
import { NextStep, OrderOutcomeCode, ShopperError, shopperErrorFrom, toShopperError } from './messages';
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
  /** Orders claimed from an app launch, to resume on a re-open. @default kept in memory only */
  claimedCheckouts?: ClaimedCheckouts;
}

/** Shopper actions. Each resolves once the store has settled; none rejects. */
export interface CheckoutFlow {
  loadCatalog(): Promise<void>;
  /** Log in (cached) → create the order → pay → confirm with the server. */
  checkout(): Promise<void>;
  /**
   * The page was opened by a merchant's app with `?checkout=<token>`: log in (cached) → claim the
   * app's order (or resume the one this client claimed with the same token) → show it, ready to pay.
   */
  openFromApp(checkoutToken: string): Promise<void>;
  /** Pay the order an app launch claimed → confirm with the server. */
  payClaimedOrder(): Promise<void>;
  /** The page was opened without a launch token: the cart, after a finished app checkout too. */
  openCart(): Promise<void>;
  /** Pay the same order again (after a cancel or a payment failure). */
  retryPayment(): Promise<void>;
  /** Ask the server again whether the order is paid. */
  refreshResult(): Promise<void>;
  /** Drop the order and go back to the cart. */
  startOver(): void;
  /** `returnToApp` leaves the mini-program, which only the shopper's tap on a native button can do: a no-op here. */
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
  claimedCheckouts = createClaimedCheckouts({ storage: createMemoryStorage(), now }),
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

  /** The shopper-facing error, worded for where the order came from (cart or app). */
  function shopperError(failure: unknown, preferredStep: NextStep): ShopperError {
    return shopperErrorFrom(failure, preferredStep, transitions().source);
  }

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
      transitions().failed(shopperError(failure, 'retryCheckout'));
      return;
    }
    if (!transitions().orderCreated(order)) return;
    await payAndConfirm(order);
  }

  async function openFromApp(checkoutToken: string): Promise<void> {
    if (!transitions().claimStarted(checkoutToken)) return;
    let order: Order;
    let resumed = false;
    try {
      if (!isPlausibleCheckoutToken(checkoutToken)) {
        throw new CheckoutError(ServerErrorCode.checkoutTokenInvalid, 'malformed checkout token in the launch path');
      }
      order = await session.withSession((token) => api.claimCheckout(token, checkoutToken));
      claimedCheckouts.remember(checkoutToken, order);
    } catch (failure) {
      // The token is spent by its first claim: re-opening the same launch path resumes our own order.
      const ours = hasCode(failure, ServerErrorCode.checkoutTokenUsed)
        ? claimedCheckouts.recall(checkoutToken)
        : undefined;
      if (!ours) {
        transitions().failed(shopperError(asClaimFailure(failure), 'retryClaim'));
        return;
      }
      order = ours;
      resumed = true;
    }
    if (!transitions().orderClaimed(order)) return;
    if (resumed && !(await refreshResumedOrder(order.orderNo))) return;
    // Normally pending: the shopper taps pay. A resumed order the server already settled shows its result.
    if (transitions().order?.status === 'pending' || !transitions().resultRequested()) return;
    await confirmWithServer(order.orderNo);
  }

  /**
   * The remembered order is as it was when claimed: ask the server where it stands. Returns false
   * when the page failed. A transient failure leaves the order ready to pay: paying asks the server
   * again (an order paid meanwhile answers ORDER_ALREADY_PAID and is confirmed).
   */
  async function refreshResumedOrder(orderNo: string): Promise<boolean> {
    try {
      transitions().statusReported(await session.withSession((token) => api.getOrderStatus(token, orderNo)));
      return true;
    } catch (failure) {
      if (isCheckoutError(failure) && isTransientError(failure)) return true;
      transitions().failed(shopperError(failure, 'returnToApp'));
      return false;
    }
  }

  async function payClaimedOrder(): Promise<void> {
    const { order } = transitions();
    if (!order || !transitions().paymentStarted()) return;
    await payAndConfirm(order);
  }

  async function openCart(): Promise<void> {
    transitions().cartOpened();
    if (transitions().catalogStatus !== 'ready') await loadCatalog();
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
      if (!hasCode(failure, ServerErrorCode.orderAlreadyPaid)) {
        transitions().failed(shopperError(failure, 'retryPayment'));
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
      transitions().failed(toShopperError(outcome, 'retryPayment', transitions().source));
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
        const report = await session.withSession((token) => api.getOrderStatus(token, orderNo));
        transitions().statusReported(report);
        verdict = interpretStatus(report);
      } catch (failure) {
        if (!isCheckoutError(failure) || !isTransientError(failure)) {
          transitions().failed(shopperError(failure, 'refreshResult'));
          return;
        }
      }
      if (verdict === 'paid') {
        idempotencyKey = undefined;
        transitions().paymentConfirmed();
        return;
      }
      if (verdict !== 'pending') {
        const finalError = { code: verdict.finalCode, message: verdict.finalCode };
        transitions().failed(toShopperError(finalError, 'retryPayment', transitions().source));
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
      case 'retryClaim':
        return openFromApp(transitions().checkoutToken ?? '');
      case 'startOver':
        return startOver();
      case 'returnToApp':
        return;
      case 'reloadCatalog':
        return loadCatalog();
    }
  }

  return {
    loadCatalog,
    checkout,
    openFromApp,
    payClaimedOrder,
    openCart,
    retryPayment,
    refreshResult,
    startOver,
    runNextStep,
    pageShown,
  };
}

/** What the server accepts (`POST /api/checkouts/claim`): 16–128 visible ASCII characters. */
function isPlausibleCheckoutToken(checkoutToken: string): boolean {
  return /^[\x21-\x7e]{16,128}$/.test(checkoutToken);
}

function hasCode(failure: unknown, code: string): failure is CheckoutError {
  return isCheckoutError(failure) && failure.code === code;
}

/** The server refuses a malformed token as VALIDATION_FAILED; to the shopper it is an invalid link. */
function asClaimFailure(failure: unknown): unknown {
  if (!hasCode(failure, ServerErrorCode.validationFailed)) return failure;
  return new CheckoutError(ServerErrorCode.checkoutTokenInvalid, failure.message, failure.status);
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
