import { OrderStatusCode, PayResponse, PlatformName } from '../api/types';

/** What the platform's login returns; Douyin adds `anonymousCode`. */
export interface LoginCode {
  code: string;
  anonymousCode?: string;
}

/**
 * The platform's own report of the payment sheet, normalised. Never proof of payment:
 * `submitted` only means "ask the server"; only the server's status code 0 means paid.
 */
export type PaymentOutcome =
  { kind: 'submitted' } | { kind: 'cancelled' } | { kind: 'failed'; code: string; message: string };

/** What a platform may need from the checkout while its payment sheet is open. */
export interface PaymentContext {
  orderNo: string;
  /** The server's view of the order, for platforms that ask mid-payment (Douyin's `getOrderStatus`). */
  getOrderStatus: () => Promise<{ code: OrderStatusCode }>;
  /**
   * Calls `listener` each time the checkout page shows again (`onShow`) while the sheet is open;
   * returns the unsubscribe. For platforms whose sheet can close without any callback.
   */
  onPageShown: (listener: () => void) => () => void;
}

/**
 * The contract every `pay.<platform>.ts` file implements with identical exports, imported as
 * `../platform/pay` (Taro picks the file per build; `pay.d.ts` gives TypeScript the contract,
 * `conformance.ts` proves each file satisfies it).
 *
 * Property syntax rather than method syntax so parameters are checked contravariantly.
 */
export interface PlatformPayAdapter {
  readonly platform: PlatformName;
  /** Rejects with a CheckoutError (code LOGIN_FAILED) when the platform login fails. */
  loginCode: () => Promise<LoginCode>;
  /** Never rejects: every platform result is mapped onto a PaymentOutcome. */
  presentPayment: (payResponse: PayResponse, context: PaymentContext) => Promise<PaymentOutcome>;
}

/**
 * What each `app-return.<platform>.ts` exports, imported as `../platform/app-return`: whether the
 * platform can send the shopper back to the native app that opened the mini-program.
 */
export interface AppReturnCapability {
  readonly launchAppSupported: boolean;
}
