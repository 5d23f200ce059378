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

/** A priced line of an order. The server sends `title`, `price` and `amount`; they stay optional for display only. */
export interface OrderLine extends OrderItemInput {
  title?: string;
  /** Unit price in fen. */
  price?: number;
  /** `price × quantity` in fen. */
  amount?: number;
}

export interface Order {
  orderNo: string;
  amount: number;
  currency: 'CNY';
  status: OrderStatus;
  items: OrderLine[];
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
 * Douyin's `orderInfo` as the server signed it: flat fields (`out_order_no`, `total_amount`,
 * `wx_url`, `alipay_url`, `sign`, `risk_info`, …), handed to `tt.pay` exactly as received.
 */
export type DouyinOrderInfo = Readonly<Record<string, string | number>> & {
  readonly out_order_no: string;
  readonly sign: string;
};

export interface WeappPayResponse {
  platform: 'weapp';
  requestPayment: WeappPaymentParams;
}

/** The legacy cashier (`TT_PAYMENT_PROVIDER=cashier`): `tt.pay({service: 1, orderInfo})`. */
export interface DouyinCashierPayResponse {
  platform: 'tt';
  /** What `tt.pay` opens: 1 = Douyin's cashier (WeChat H5 and Alipay). */
  service: 1;
  orderInfo: DouyinOrderInfo;
}

/** 担保支付 (`TT_PAYMENT_PROVIDER=guaranteed`): `tt.pay({service: 5, orderInfo: {order_id, order_token}})`. */
export interface DouyinGuaranteedPayResponse {
  platform: 'tt';
  service: 5;
  /** What Douyin's pre-order answered, as received. */
  orderInfo: { readonly order_id: string; readonly order_token: string };
}

/** 通用交易系统 (`TT_PAYMENT_PROVIDER=trade`): `tt.requestOrder({data, byteAuthorization})`. */
export interface DouyinTradePayResponse {
  platform: 'tt';
  /** `data` is the order as JSON text, exactly as the server signed it. */
  requestOrder: { readonly data: string; readonly byteAuthorization: string };
}

/** What a Douyin mini-program is answered, by the payment system the merchant chose. */
export type DouyinPayResponse = DouyinCashierPayResponse | DouyinGuaranteedPayResponse | DouyinTradePayResponse;

/** What `POST /api/orders/:orderNo/pay` returns, discriminated by platform. */
export type PayResponse = WeappPayResponse | DouyinPayResponse;

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
