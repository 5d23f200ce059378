/** Wire types of the checkout server's HTTP API. Amounts are integer fen. */

export type PlatformName = 'weapp' | 'tt';

export interface CatalogItem {
  sku: string;
  title: string;
  price: number;
}

export interface SessionRequest {
  platform: PlatformName;
  code: string;
  anonymousCode?: string;
}

export interface SessionGrant {
  token: string;
  /** Seconds until the token expires. */
  expiresIn: number;
}

export interface OrderItemInput {
  sku: string;
  quantity: number;
}

export type OrderStatus = 'pending' | 'paid' | 'expired' | 'failed' | 'closed';

export interface Order {
  orderNo: string;
  amount: number;
  currency: 'CNY';
  status: OrderStatus;
  items: OrderItemInput[];
  expiresAt: string;
}

/** The parameters `wx.requestPayment` expects, exactly as the server signed them. */
export interface WeappPaymentParams {
  timeStamp: string;
  nonceStr: string;
  package: string;
  signType: 'MD5' | 'HMAC-SHA256' | 'RSA';
  paySign: string;
}

/**
 * What `POST /api/orders/:orderNo/pay` returns, discriminated by platform.
 * The Douyin issue adds `{platform: 'tt', orderInfo, …}` to this union.
 */
export type PayResponse = { platform: 'weapp'; requestPayment: WeappPaymentParams };

/** `GET /api/orders/:orderNo/status` codes: the same vocabulary as Douyin's getOrderStatus. */
export const OrderStatusCode = {
  paid: 0,
  expired: 1,
  failed: 2,
  closed: 3,
  pending: 9,
} as const;

export type OrderStatusCode = (typeof OrderStatusCode)[keyof typeof OrderStatusCode];

export interface OrderStatusReport {
  orderNo: string;
  status: OrderStatus;
  code: OrderStatusCode;
}
