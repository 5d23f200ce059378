import { CheckoutError, ClientErrorCode, isRecord, normaliseErrorResponse, normaliseRequestFailure } from './errors';
import {
  CatalogItem,
  DouyinOrderInfo,
  DouyinPayResponse,
  Order,
  OrderItemInput,
  OrderLine,
  OrderStatus,
  OrderStatusCode,
  OrderStatusReport,
  PayResponse,
  PlatformName,
  SessionGrant,
  SessionRequest,
  WeappPaymentParams,
  WeappPayResponse,
} from './types';

export interface HttpRequest {
  url: string;
  method: 'GET' | 'POST';
  header: Record<string, string>;
  data?: unknown;
}

export interface HttpResponse {
  statusCode: number;
  /** Parsed JSON, or the raw text when the platform could not parse it. */
  data: unknown;
}

/** Sends one HTTP request; rejects (e.g. with `{errMsg: 'request:fail …'}`) only when no answer arrived. */
export type HttpTransport = (request: HttpRequest) => Promise<HttpResponse>;

/** The checkout server's API. Every method rejects with a CheckoutError only. */
export interface CheckoutApi {
  getCatalog(): Promise<CatalogItem[]>;
  createSession(request: SessionRequest): Promise<SessionGrant>;
  createOrder(token: string, items: OrderItemInput[], idempotencyKey: string): Promise<Order>;
  requestPayment(token: string, orderNo: string, platform: PlatformName): Promise<PayResponse>;
  getOrderStatus(token: string, orderNo: string): Promise<OrderStatusReport>;
  /**
   * Takes the order a merchant's app opened the mini-program for (`?checkout=<token>`). The first
   * claim spends the token; rejects with CHECKOUT_TOKEN_USED (409), CHECKOUT_TOKEN_EXPIRED (410) or
   * CHECKOUT_TOKEN_INVALID (404) otherwise.
   */
  claimCheckout(token: string, checkoutToken: string): Promise<Order>;
}

export interface ApiClientOptions {
  baseUrl: string;
  transport: HttpTransport;
}

export function createApiClient({ baseUrl, transport }: ApiClientOptions): CheckoutApi {
  const root = baseUrl.replace(/\/+$/, '');

  async function call<T>(
    method: HttpRequest['method'],
    path: string,
    parse: (body: unknown) => T | undefined,
    options: { token?: string; idempotencyKey?: string; body?: unknown } = {},
  ): Promise<T> {
    const header: Record<string, string> = { Accept: 'application/json' };
    if (options.body !== undefined) header['Content-Type'] = 'application/json';
    if (options.token) header.Authorization = `Bearer ${options.token}`;
    if (options.idempotencyKey) header['Idempotency-Key'] = options.idempotencyKey;

    let response: HttpResponse;
    try {
      response = await transport({ url: `${root}${path}`, method, header, data: options.body });
    } catch (failure) {
      throw normaliseRequestFailure(failure);
    }

    const body = parseJsonBody(response.data);
    if (response.statusCode < 200 || response.statusCode >= 300) {
      throw normaliseErrorResponse(response.statusCode, body);
    }
    const parsed = body === undefined ? undefined : parse(body);
    if (parsed === undefined) {
      throw new CheckoutError(
        ClientErrorCode.badResponse,
        `Unexpected answer to ${method} ${path}`,
        response.statusCode,
      );
    }
    return parsed;
  }

  return {
    getCatalog: () => call('GET', '/api/catalog', parseCatalog),
    createSession: (request) => call('POST', '/api/session', parseSessionGrant, { body: request }),
    createOrder: (token, items, idempotencyKey) =>
      call('POST', '/api/orders', parseOrderEnvelope, { token, idempotencyKey, body: { items } }),
    requestPayment: (token, orderNo, platform) =>
      call('POST', `/api/orders/${encodeURIComponent(orderNo)}/pay`, parsePayResponse, {
        token,
        body: { platform },
      }),
    getOrderStatus: (token, orderNo) =>
      call('GET', `/api/orders/${encodeURIComponent(orderNo)}/status`, parseStatusReport, { token }),
    claimCheckout: (token, checkoutToken) =>
      call('POST', '/api/checkouts/claim', parseOrderEnvelope, { token, body: { token: checkoutToken } }),
  };
}

/**
 * Platforms parse JSON themselves when they can and hand back the raw text when they cannot,
 * so a string body is either JSON they skipped or not JSON at all.
 */
function parseJsonBody(data: unknown): unknown {
  if (typeof data !== 'string') return data;
  if (data.trim() === '') return undefined;
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return undefined;
  }
}

function parseCatalog(body: unknown): CatalogItem[] | undefined {
  if (!isRecord(body) || !Array.isArray(body.items)) return undefined;
  const items = body.items.filter(
    (item): item is CatalogItem =>
      isRecord(item) &&
      typeof item.sku === 'string' &&
      typeof item.title === 'string' &&
      Number.isSafeInteger(item.price),
  );
  return items.length === body.items.length ? items : undefined;
}

function parseSessionGrant(body: unknown): SessionGrant | undefined {
  if (!isRecord(body) || typeof body.token !== 'string' || typeof body.expiresIn !== 'number') return undefined;
  return { token: body.token, expiresIn: body.expiresIn };
}

const ORDER_STATUSES: readonly string[] = ['pending', 'paid', 'expired', 'failed', 'closed'];
const SIGN_TYPES: readonly string[] = ['MD5', 'HMAC-SHA256', 'RSA'];
const STATUS_CODES: readonly number[] = Object.values(OrderStatusCode);

function isOrderStatus(value: unknown): value is OrderStatus {
  return typeof value === 'string' && ORDER_STATUSES.includes(value);
}

function isOrderStatusCode(value: unknown): value is OrderStatusCode {
  return typeof value === 'number' && STATUS_CODES.includes(value);
}

function isSignType(value: unknown): value is WeappPaymentParams['signType'] {
  return typeof value === 'string' && SIGN_TYPES.includes(value);
}

/** `sku` and `quantity` are required; `title`, `price` and `amount` are kept when well-formed. */
function parseOrderItems(value: unknown): OrderLine[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const items: OrderLine[] = [];
  for (const item of value) {
    if (!isRecord(item) || typeof item.sku !== 'string' || !Number.isSafeInteger(item.quantity)) return undefined;
    const line: OrderLine = { sku: item.sku, quantity: Number(item.quantity) };
    if (typeof item.title === 'string') line.title = item.title;
    if (Number.isSafeInteger(item.price)) line.price = Number(item.price);
    if (Number.isSafeInteger(item.amount)) line.amount = Number(item.amount);
    items.push(line);
  }
  return items;
}

function parseOrderEnvelope(body: unknown): Order | undefined {
  if (!isRecord(body) || !isRecord(body.order)) return undefined;
  const { orderNo, amount, currency, status, items, expiresAt } = body.order;
  const orderItems = parseOrderItems(items);
  if (
    typeof orderNo !== 'string' ||
    typeof amount !== 'number' ||
    !Number.isSafeInteger(amount) ||
    currency !== 'CNY' ||
    !isOrderStatus(status) ||
    !orderItems ||
    typeof expiresAt !== 'string'
  ) {
    return undefined;
  }
  return { orderNo, amount, currency, status, items: orderItems, expiresAt };
}

function parsePayResponse(body: unknown): PayResponse | undefined {
  if (!isRecord(body)) return undefined;
  switch (body.platform) {
    case 'weapp':
      return parseWeappPayResponse(body);
    case 'tt':
      return parseDouyinPayResponse(body);
    default:
      return undefined;
  }
}

function parseWeappPayResponse(body: Record<string, unknown>): WeappPayResponse | undefined {
  if (!isRecord(body.requestPayment)) return undefined;
  const { timeStamp, nonceStr, package: prepayPackage, signType, paySign } = body.requestPayment;
  if (
    typeof timeStamp !== 'string' ||
    typeof nonceStr !== 'string' ||
    typeof prepayPackage !== 'string' ||
    !isSignType(signType) ||
    typeof paySign !== 'string'
  ) {
    return undefined;
  }
  return { platform: 'weapp', requestPayment: { timeStamp, nonceStr, package: prepayPackage, signType, paySign } };
}

/**
 * One of the three Douyin answers. Douyin verifies what the server signed (the cashier's `sign`
 * over every field, `byteAuthorization` over `data`'s exact text), so values are kept as they
 * are, none added or dropped.
 */
function parseDouyinPayResponse(body: Record<string, unknown>): DouyinPayResponse | undefined {
  const { service, orderInfo, requestOrder } = body;
  if (service === 1 && isDouyinOrderInfo(orderInfo)) return { platform: 'tt', service, orderInfo };
  if (service === 5 && isRecord(orderInfo)) {
    const { order_id, order_token } = orderInfo;
    if (typeof order_id !== 'string' || order_id === '' || typeof order_token !== 'string') return undefined;
    return { platform: 'tt', service, orderInfo: { order_id, order_token } };
  }
  if (service === undefined && isRecord(requestOrder)) {
    const { data, byteAuthorization } = requestOrder;
    if (typeof data !== 'string' || data === '' || typeof byteAuthorization !== 'string') return undefined;
    return { platform: 'tt', requestOrder: { data, byteAuthorization } };
  }
  return undefined;
}

function isDouyinOrderInfo(value: unknown): value is DouyinOrderInfo {
  if (!isRecord(value)) return false;
  const flat = Object.values(value).every((field) => typeof field === 'string' || typeof field === 'number');
  return flat && typeof value.out_order_no === 'string' && value.out_order_no !== '' && typeof value.sign === 'string';
}

function parseStatusReport(body: unknown): OrderStatusReport | undefined {
  if (!isRecord(body)) return undefined;
  const { orderNo, status, code } = body;
  if (typeof orderNo !== 'string' || !isOrderStatus(status) || !isOrderStatusCode(code)) return undefined;
  return { orderNo, status, code };
}
