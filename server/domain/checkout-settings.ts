/** The rules of orders, bills and the status read model, as the wiring sets them. */
export interface CheckoutSettings {
  /** The gateway's webhook URL, which Douyin's cashier `orderInfo` names (the gateway adapter is given it too). */
  notifyUrl: string;
  /** How long a shopper has to pay an order. */
  orderTtlSeconds: number;
  /** Below this much time left, no new payment is started: the shopper could not finish it. */
  minimumPayWindowSeconds: number;
  /** At most one gateway query per order per this interval, across every poller, sweeper and instance. */
  gatewayCheckIntervalMs: number;
  /** How long after opening a bill the webhook counts as late and the gateway is asked. */
  webhookGraceMs: number;
  /**
   * Until a `creating` bill is this old its request may still be waiting for the gateway's
   * answer: paying again answers PAYMENT_IN_PROGRESS without asking the gateway.
   */
  staleCreatingBillMs: number;
  /**
   * A bill whose creation got no readable answer, and that the gateway still does not know this
   * long after the request left, never arrived: the order may then get a new bill. Must be well
   * above the gateway client's timeout, or a request still on its way could be declared lost.
   */
  unconfirmedBillGraceMs: number;
  /** Queue each order's final state for the merchant's notification URL. */
  notifyMerchant: boolean;
  /**
   * How long a status that can still change is answered from memory before a poll refreshes it
   * from the database. The poll that finds it due still gets the remembered answer while the
   * refresh runs (for as long again at most), so pollers never queue behind the database.
   * Changes made by any instance evict it at once through the change feed; this bounds
   * staleness if a change notice is ever lost.
   */
  statusCacheMs: number;
}

export const DEFAULT_CHECKOUT_SETTINGS: Omit<CheckoutSettings, 'notifyUrl'> = {
  orderTtlSeconds: 15 * 60,
  minimumPayWindowSeconds: 60,
  gatewayCheckIntervalMs: 10_000,
  webhookGraceMs: 10_000,
  staleCreatingBillMs: 30_000,
  unconfirmedBillGraceMs: 60_000,
  notifyMerchant: false,
  statusCacheMs: 1000,
};
