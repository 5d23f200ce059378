/**
 * The checkout flow with the real platform adapters (`pay.tt`, `pay.weapp`) over the Taro double:
 * Douyin's login and cashier, the page showing again while a payment sheet is open, and late
 * callbacks. Timers are faked for the cashier's grace period; the flow's own backoff runs on the
 * virtual clock.
 */
import { createApiClient } from '../../src/api/client';
import { createCheckoutFlow } from '../../src/checkout/flow';
import { createCheckoutStore } from '../../src/checkout/store';
import type { PlatformPayAdapter } from '../../src/platform/contract';
import * as ttPay from '../../src/platform/pay.tt';
import * as weappPay from '../../src/platform/pay.weapp';
import { createSessionManager } from '../../src/session/session';
import { FakeCheckoutServer, transportTo } from './doubles/fake-checkout-server';
import { MemoryStorage } from './doubles/memory-storage';
import { resetTaroDouble, taroDouble } from './doubles/taro';
import { VirtualClock } from './doubles/virtual-clock';

const PAID = 0;
const { CASHIER_CALLBACK_GRACE_MS } = ttPay;

type Callback = (result: unknown) => void;

/** A payment sheet that stays open until the test answers through its callbacks. */
function openSheets() {
  const sheets: { options: Record<string, unknown>; success: Callback; fail: Callback }[] = [];
  const api = (options: Record<string, unknown> = {}) => {
    const { success, fail } = options;
    if (typeof success !== 'function' || typeof fail !== 'function') throw new Error('expected callbacks');
    sheets.push({ options, success: (result) => success(result), fail: (error) => fail(error) });
    return undefined;
  };
  return { api, sheets };
}

async function setUp(payment: PlatformPayAdapter) {
  jest.useFakeTimers();
  const server = new FakeCheckoutServer();
  const clock = new VirtualClock();
  const api = createApiClient({ baseUrl: 'http://checkout.test', transport: transportTo(server) });
  const session = createSessionManager({
    api,
    platform: payment.platform,
    loginCode: payment.loginCode,
    storage: new MemoryStorage(),
    now: clock.now,
  });
  const store = createCheckoutStore();
  const flow = createCheckoutFlow({ store, api, session, payment, sleep: clock.sleep, now: clock.now });
  await flow.loadCatalog();
  return { server, flow, state: store.getState };
}

/** Lets pending promises and timers due within `ms` run. */
const elapse = (ms: number) => jest.advanceTimersByTimeAsync(ms);

describe('checkout flow on Douyin (pay.tt)', () => {
  let logins = 0;
  const { api: pay, sheets } = openSheets();

  beforeEach(() => {
    sheets.length = 0;
    taroDouble.login = async () => ({
      code: `tt-code-${++logins}`,
      anonymousCode: `tt-anonymous-${logins}`,
      errMsg: 'login:ok',
    });
    taroDouble.pay = pay;
  });

  afterEach(() => {
    resetTaroDouble();
    jest.useRealTimers();
  });

  it('should log in with the anonymous code and ask the server to pay for tt', async () => {
    const { server, flow } = await setUp(ttPay);

    const checkout = flow.checkout();
    await elapse(0);
    sheets[0].success({ code: 4 });
    await checkout;

    const session = server.requests.find((request) => request.path === '/api/session');
    expect(session?.body).toEqual({
      platform: 'tt',
      code: `tt-code-${logins}`,
      anonymousCode: `tt-anonymous-${logins}`,
    });
    expect(server.requests.find((request) => request.path.endsWith('/pay'))?.body).toEqual({ platform: 'tt' });
  });

  it('should confirm with the server once when the cashier closed with no callback and the page shows again', async () => {
    const { server, flow, state } = await setUp(ttPay);
    const checkout = flow.checkout();
    await elapse(0);
    expect(sheets).toHaveLength(1);
    expect(state().phase).toBe('paying');

    server.settle(state().order!.orderNo, PAID);
    flow.pageShown();
    await elapse(CASHIER_CALLBACK_GRACE_MS);
    await checkout;

    expect(state().phase).toBe('paid');
    expect(server.countRequests('status')).toBe(1);

    sheets[0].success({ code: 4 });
    flow.pageShown();
    await elapse(CASHIER_CALLBACK_GRACE_MS * 2);
    expect(state().phase).toBe('paid');
    expect(server.countRequests('status')).toBe(1);
  });

  it('should end at "still pending" with a re-check when the server has no verdict after the recovery', async () => {
    const { flow, state } = await setUp(ttPay);
    const checkout = flow.checkout();
    await elapse(0);

    flow.pageShown();
    await elapse(CASHIER_CALLBACK_GRACE_MS);
    await checkout;

    expect(state()).toMatchObject({ phase: 'confirming', confirmation: 'stillPending' });
  });

  it('should take a cancel that follows the page showing again, without asking the server', async () => {
    const { server, flow, state } = await setUp(ttPay);
    const checkout = flow.checkout();
    await elapse(0);

    flow.pageShown();
    await elapse(CASHIER_CALLBACK_GRACE_MS / 3);
    sheets[0].success({ code: 4 });
    await checkout;

    expect(state().phase).toBe('cancelled');
    expect(server.countRequests('status')).toBe(0);
  });

  it('should ignore the page showing while no payment sheet is open', async () => {
    const { server, flow, state } = await setUp(ttPay);

    flow.pageShown();
    await elapse(CASHIER_CALLBACK_GRACE_MS * 2);

    expect(state().phase).toBe('idle');
    expect(server.requests.filter((request) => request.path !== '/api/catalog')).toEqual([]);
  });
});

describe('checkout flow on WeChat (pay.weapp)', () => {
  const { api: requestPayment, sheets } = openSheets();

  beforeEach(() => {
    sheets.length = 0;
    taroDouble.login = async () => ({ code: 'wx-code', errMsg: 'login:ok' });
    taroDouble.requestPayment = requestPayment;
  });

  afterEach(() => {
    resetTaroDouble();
    jest.useRealTimers();
  });

  it('should keep waiting for the requestPayment callback when the page shows again', async () => {
    const { server, flow, state } = await setUp(weappPay);
    const checkout = flow.checkout();
    await elapse(0);

    flow.pageShown();
    await elapse(60_000);
    expect(state().phase).toBe('paying');

    sheets[0].fail({ errMsg: 'requestPayment:fail cancel' });
    await checkout;
    expect(state().phase).toBe('cancelled');
    expect(server.countRequests('status')).toBe(0);
  });
});
