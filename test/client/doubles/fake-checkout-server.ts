/**
 * An in-memory checkout server speaking the real HTTP contract (paths, headers, bodies, error
 * shape), so tests run the real API client, session and flow against it, and the compiled
 * bundle can talk to it through a `wx.request` double.
 */
import type { HttpTransport } from '../../../src/api/client';
import { douyinOrderInfoSign } from '../../support/tt-double';
import type { WxRequestAnswer, WxRequestOptions } from '../../support/wx-double';

export interface FakeRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
}

export interface FakeResponse {
  status: number;
  body: unknown;
}

export type RouteName = 'catalog' | 'session' | 'createOrder' | 'pay' | 'status' | 'claim';

interface FakeOrder {
  orderNo: string;
  amount: number;
  items: { sku: string; quantity: number; title?: string; price?: number; amount?: number }[];
  statusCode: number;
  /** When the order was made, whole epoch seconds: Douyin's `trade_time`, the same on every pay. */
  createdAtSeconds: number;
}

/** A checkout a merchant's app started: its one-time launch token, as `POST /api/merchant/checkouts` makes it. */
interface FakeAppCheckout {
  orderNo: string;
  claimed: boolean;
  expired: boolean;
}

const STATUS_NAMES: Record<number, string> = { 0: 'paid', 1: 'expired', 2: 'failed', 3: 'closed', 9: 'pending' };

export class FakeCheckoutServer {
  readonly catalog = [
    { sku: 'tea', title: '龙井茶', price: 1 },
    { sku: 'cup', title: '茶杯', price: 1999 },
  ];
  /** Every request received, in order. */
  readonly requests: FakeRequest[] = [];
  readonly orders = new Map<string, FakeOrder>();
  /** Scripted answers for the status endpoint, consumed one per call; when empty the order's own state answers. */
  readonly scriptedStatusCodes: number[] = [];
  sessionLifetimeSeconds = 7200;
  /** Signs Douyin `orderInfo` answers; give the same secret to the `tt` double. */
  readonly douyinPaySecret = 'fake-douyin-pay-secret';

  private readonly usedLoginCodes = new Set<string>();
  private readonly liveTokens = new Set<string>();
  private readonly orderNoByIdempotencyKey = new Map<string, string>();
  private readonly oneOffResponses = new Map<RouteName, FakeResponse[]>();
  private readonly appCheckouts = new Map<string, FakeAppCheckout>();
  private tokenCount = 0;
  private orderCount = 0;

  /**
   * What the merchant API does: prices an order nobody owns yet and returns the launch token of
   * `pages/checkout/index?checkout=<token>`.
   */
  openAppCheckout(items: { sku: string; quantity: number }[] = [{ sku: 'cup', quantity: 2 }]): {
    token: string;
    orderNo: string;
  } {
    const lines = items.map(({ sku, quantity }) => {
      const catalogItem = this.catalog.find((entry) => entry.sku === sku);
      if (!catalogItem) throw new Error(`no sku ${sku}`);
      return {
        sku,
        title: catalogItem.title,
        quantity,
        price: catalogItem.price,
        amount: catalogItem.price * quantity,
      };
    });
    const order: FakeOrder = {
      orderNo: `CO${String(++this.orderCount).padStart(6, '0')}`,
      amount: lines.reduce((total, line) => total + line.amount, 0),
      items: lines,
      statusCode: 9,
      createdAtSeconds: Math.floor(Date.now() / 1000),
    };
    this.orders.set(order.orderNo, order);
    const token = `launch-token-${order.orderNo}-0123456789abcdef`;
    this.appCheckouts.set(token, { orderNo: order.orderNo, claimed: false, expired: false });
    return { token, orderNo: order.orderNo };
  }

  /** The launch token outlived its order (15 minutes). */
  expireAppCheckout(token: string): void {
    const checkout = this.appCheckouts.get(token);
    if (!checkout) throw new Error(`no app checkout ${token}`);
    checkout.expired = true;
  }

  /** The next request to `route` gets this answer instead. */
  answerNext(route: RouteName, response: FakeResponse): void {
    const queue = this.oneOffResponses.get(route) ?? [];
    queue.push(response);
    this.oneOffResponses.set(route, queue);
  }

  /** Server-side expiry: every issued token now answers 401 SESSION_INVALID. */
  expireAllSessions(): void {
    this.liveTokens.clear();
  }

  settle(orderNo: string, statusCode: number): void {
    const order = this.orders.get(orderNo);
    if (!order) throw new Error(`no order ${orderNo}`);
    order.statusCode = statusCode;
  }

  countRequests(route: RouteName): number {
    return this.requests.filter((request) => routeOf(request) === route).length;
  }

  handle(request: FakeRequest): FakeResponse {
    this.requests.push(request);
    const route = routeOf(request);
    if (!route) return error(404, 'NOT_FOUND', 'no such route');
    const oneOff = this.oneOffResponses.get(route)?.shift();
    if (oneOff) return oneOff;

    switch (route) {
      case 'catalog':
        return { status: 200, body: { items: this.catalog } };
      case 'session':
        return this.createSession(request.body);
      default: {
        const token = /^Bearer (.+)$/.exec(request.headers.Authorization ?? '')?.[1];
        if (!token || !this.liveTokens.has(token)) return error(401, 'SESSION_INVALID', 'session expired');
        return this.handleAuthenticated(route, request);
      }
    }
  }

  private createSession(body: unknown): FakeResponse {
    const code = isRecord(body) && typeof body.code === 'string' ? body.code : '';
    if (!code || code.startsWith('invalid') || this.usedLoginCodes.has(code)) {
      return error(401, 'LOGIN_CODE_INVALID', 'code invalid or used');
    }
    this.usedLoginCodes.add(code);
    const token = `token-${++this.tokenCount}`;
    this.liveTokens.add(token);
    return { status: 200, body: { token, expiresIn: this.sessionLifetimeSeconds } };
  }

  private handleAuthenticated(route: RouteName, request: FakeRequest): FakeResponse {
    const orderNo = /^\/api\/orders\/([^/]+)\//.exec(request.path)?.[1];
    switch (route) {
      case 'createOrder':
        return this.createOrder(request);
      case 'claim':
        return this.claim(request);
      case 'pay': {
        const order = orderNo ? this.orders.get(orderNo) : undefined;
        if (!order) return error(404, 'ORDER_NOT_FOUND', 'no such order');
        if (isRecord(request.body) && request.body.platform === 'tt') {
          return { status: 200, body: { platform: 'tt', service: 1, orderInfo: this.douyinOrderInfo(order) } };
        }
        return {
          status: 200,
          body: {
            platform: 'weapp',
            requestPayment: {
              timeStamp: '1700000000',
              nonceStr: `nonce${order.orderNo}`,
              package: `prepay_id=wx${order.orderNo}`,
              signType: 'MD5',
              paySign: 'C380BEC2BFD727A4B6845133519F3AD6',
            },
          },
        };
      }
      case 'status': {
        const order = orderNo ? this.orders.get(orderNo) : undefined;
        if (!order) return error(404, 'ORDER_NOT_FOUND', 'no such order');
        const code = this.scriptedStatusCodes.shift() ?? order.statusCode;
        return { status: 200, body: { orderNo: order.orderNo, status: STATUS_NAMES[code], code } };
      }
      default:
        return error(404, 'NOT_FOUND', 'no such route');
    }
  }

  private createOrder(request: FakeRequest): FakeResponse {
    const idempotencyKey = request.headers['Idempotency-Key'];
    const existing = idempotencyKey ? this.orderNoByIdempotencyKey.get(idempotencyKey) : undefined;
    if (existing) return { status: 201, body: { order: this.describeOrder(this.orders.get(existing)!) } };

    const items = isRecord(request.body) && Array.isArray(request.body.items) ? request.body.items : [];
    let amount = 0;
    for (const item of items) {
      const catalogItem = this.catalog.find((entry) => isRecord(item) && entry.sku === item.sku);
      if (!catalogItem || !isRecord(item) || !Number.isInteger(item.quantity)) {
        return error(400, 'ITEMS_INVALID', 'unknown sku or bad quantity');
      }
      amount += catalogItem.price * Number(item.quantity);
    }
    if (items.length === 0) return error(400, 'ITEMS_INVALID', 'empty order');
    const order: FakeOrder = {
      orderNo: `CO${String(++this.orderCount).padStart(6, '0')}`,
      amount,
      items: items.filter(isRecord).map((item) => ({ sku: String(item.sku), quantity: Number(item.quantity) })),
      statusCode: 9,
      createdAtSeconds: Math.floor(Date.now() / 1000),
    };
    this.orders.set(order.orderNo, order);
    if (idempotencyKey) this.orderNoByIdempotencyKey.set(idempotencyKey, order.orderNo);
    return { status: 201, body: { order: this.describeOrder(order) } };
  }

  private claim(request: FakeRequest): FakeResponse {
    const token = isRecord(request.body) && typeof request.body.token === 'string' ? request.body.token.trim() : '';
    if (token.length < 16 || token.length > 128)
      return error(400, 'VALIDATION_FAILED', 'body.token: too short or too long');
    const checkout = this.appCheckouts.get(token);
    if (!checkout) return error(404, 'CHECKOUT_TOKEN_INVALID', 'Unknown checkout token');
    if (checkout.claimed) return error(409, 'CHECKOUT_TOKEN_USED', 'This checkout was already opened');
    if (checkout.expired) return error(410, 'CHECKOUT_TOKEN_EXPIRED', 'This checkout has expired');
    checkout.claimed = true;
    return { status: 200, body: { order: this.describeOrder(this.orders.get(checkout.orderNo)!) } };
  }

  private douyinOrderInfo(order: FakeOrder): Record<string, string | number> {
    const fields: Record<string, string | number> = {
      app_id: '800000000001',
      merchant_id: '1900000001',
      sign_type: 'MD5',
      timestamp: String(Math.floor(Date.now() / 1000)),
      version: '2.0',
      trade_type: 'H5',
      product_code: 'pay',
      payment_type: 'direct',
      out_order_no: order.orderNo,
      uid: 'fake000000000000000000000shopper',
      total_amount: order.amount,
      currency: 'CNY',
      subject: '订单',
      body: '订单',
      trade_time: String(order.createdAtSeconds),
      valid_time: '900',
      notify_url: '',
      wx_url: `https://wx.tenpay.invalid/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx${order.orderNo}`,
      wx_type: 'MWEB',
      alipay_url: `app_id=2019000000000006&biz_content={"out_trade_no":"${order.orderNo}"}`,
    };
    return { ...fields, sign: douyinOrderInfoSign(fields, this.douyinPaySecret), risk_info: '{"ip":"127.0.0.1"}' };
  }

  private describeOrder(order: FakeOrder) {
    return {
      orderNo: order.orderNo,
      amount: order.amount,
      currency: 'CNY',
      status: STATUS_NAMES[order.statusCode],
      items: order.items,
      expiresAt: '2030-01-01T00:15:00.000Z',
    };
  }
}

function routeOf({ method, path }: FakeRequest): RouteName | undefined {
  if (method === 'GET' && path === '/api/catalog') return 'catalog';
  if (method === 'POST' && path === '/api/session') return 'session';
  if (method === 'POST' && path === '/api/orders') return 'createOrder';
  if (method === 'POST' && /^\/api\/orders\/[^/]+\/pay$/.test(path)) return 'pay';
  if (method === 'GET' && /^\/api\/orders\/[^/]+\/status$/.test(path)) return 'status';
  if (method === 'POST' && path === '/api/checkouts/claim') return 'claim';
  return undefined;
}

function error(status: number, code: string, message: string): FakeResponse {
  return { status, body: { error: { code, message } } };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function parseBody(data: unknown): unknown {
  return typeof data === 'string' && data !== '' ? JSON.parse(data) : data;
}

/** HttpTransport for the real API client, answered by the fake server. */
export function transportTo(server: FakeCheckoutServer): HttpTransport {
  return async ({ url, method, header, data }) => {
    const { status, body } = server.handle({
      method,
      path: new URL(url).pathname,
      headers: header,
      body: parseBody(data),
    });
    return { statusCode: status, data: body };
  };
}

/** `wx.request` answers from the fake server, whatever host the bundle was built for. */
export function wxRequestTo(server: FakeCheckoutServer): (options: WxRequestOptions) => Promise<WxRequestAnswer> {
  return async ({ url, method = 'GET', header = {}, data }) => {
    const { status, body } = server.handle({
      method,
      path: new URL(url).pathname,
      headers: header,
      body: parseBody(data),
    });
    return { statusCode: status, data: body };
  };
}
