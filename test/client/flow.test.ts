import { createApiClient } from '../../src/api/client';
import type { PaymentOutcome } from '../../src/platform/contract';
import { createCheckoutFlow } from '../../src/checkout/flow';
import { createCheckoutStore } from '../../src/checkout/store';
import { createSessionManager } from '../../src/session/session';
import { FakeCheckoutServer, transportTo } from './doubles/fake-checkout-server';
import { FakePaymentAdapter } from './doubles/fake-payment-adapter';
import { MemoryStorage } from './doubles/memory-storage';
import { VirtualClock } from './doubles/virtual-clock';

const PENDING = 9;
const PAID = 0;

interface Scenario {
  outcomes?: PaymentOutcome[];
  /** What the gateway does once the shopper submits: by default nothing (the order stays pending). */
  onSubmitted?: (server: FakeCheckoutServer, orderNo: string) => void;
  /** Runs before the page loads the catalogue. */
  prepare?: (server: FakeCheckoutServer) => void;
}

async function setUp({ outcomes = [], onSubmitted, prepare }: Scenario = {}) {
  const server = new FakeCheckoutServer();
  const clock = new VirtualClock();
  const api = createApiClient({ baseUrl: 'http://checkout.test', transport: transportTo(server) });
  const payment = new FakePaymentAdapter(outcomes, (orderNo) => onSubmitted?.(server, orderNo));
  const session = createSessionManager({
    api,
    platform: payment.platform,
    loginCode: payment.loginCode,
    storage: new MemoryStorage(),
    now: clock.now,
  });
  let keyCount = 0;
  /** A checkout page over the same session, as when the shopper opens the page again. */
  const openCheckout = async () => {
    const store = createCheckoutStore();
    const flow = createCheckoutFlow({
      store,
      api,
      session,
      payment,
      sleep: clock.sleep,
      now: clock.now,
      newIdempotencyKey: () => `attempt-${++keyCount}`,
    });
    await flow.loadCatalog();
    return { store, flow, state: store.getState };
  };
  prepare?.(server);
  return { server, clock, payment, openCheckout, ...(await openCheckout()) };
}

const paidOnSubmit = (server: FakeCheckoutServer, orderNo: string) => server.settle(orderNo, PAID);

describe('checkout flow', () => {
  it('should load the catalogue into the cart', async () => {
    const { state } = await setUp();
    expect(state().catalogStatus).toBe('ready');
    expect(state().cartLines.map((line) => line.sku)).toEqual(['tea', 'cup']);
  });

  it('should offer a reload when the catalogue cannot be fetched', async () => {
    const { flow, state } = await setUp({
      prepare: (server) => server.answerNext('catalog', { status: 502, body: '<html>Bad Gateway</html>' }),
    });
    expect(state()).toMatchObject({
      catalogStatus: 'failed',
      catalogError: { code: 'SERVER_UNAVAILABLE', message: '服务繁忙，请稍后再试', nextStep: 'reloadCatalog' },
    });

    await flow.runNextStep('reloadCatalog');
    expect(state().catalogStatus).toBe('ready');
  });

  it('should log in, create the order, pay, and poll with backoff until the server says paid', async () => {
    const { server, clock, payment, flow, state } = await setUp({ outcomes: [{ kind: 'submitted' }] });
    server.scriptedStatusCodes.push(PENDING, PENDING, PENDING, PAID);

    await flow.checkout();

    expect(state().phase).toBe('paid');
    expect(state().order).toMatchObject({ orderNo: 'CO000001', amount: 2000 });
    expect(payment.presented).toHaveLength(1);
    expect(payment.presented[0].payResponse.platform).toBe('weapp');
    expect(server.countRequests('status')).toBe(4);
    expect(clock.sleeps).toEqual([500, 1000, 2000]);
    const createRequest = server.requests.find((request) => request.path === '/api/orders');
    expect(createRequest?.headers['Idempotency-Key']).toBe('attempt-1');
    expect(createRequest?.body).toEqual({
      items: [
        { sku: 'tea', quantity: 1 },
        { sku: 'cup', quantity: 1 },
      ],
    });
  });

  it('should never show paid on a client "ok" while the server says pending; after the time limit it asks to re-check', async () => {
    const { server, clock, flow, state, store } = await setUp({ outcomes: [{ kind: 'submitted' }] });
    const phases: string[] = [];
    store.subscribe((current) => phases.push(current.phase));

    await flow.checkout();

    expect(phases).not.toContain('paid');
    expect(state()).toMatchObject({ phase: 'confirming', confirmation: 'stillPending', error: null });
    const waited = clock.sleeps.reduce((total, ms) => total + ms, 0);
    expect(waited).toBe(30_000);
    expect(Math.max(...clock.sleeps)).toBeLessThanOrEqual(4000);
    expect(clock.sleeps.slice(0, 4)).toEqual([500, 1000, 2000, 4000]);
    const polls = server.countRequests('status');

    server.settle(state().order!.orderNo, PAID);
    await flow.refreshResult();
    expect(state().phase).toBe('paid');
    expect(server.countRequests('status')).toBe(polls + 1);
  });

  it('should show cancelled when the shopper closes the sheet, and pay the same order again on retry', async () => {
    const { server, payment, flow, state } = await setUp({
      outcomes: [{ kind: 'cancelled' }, { kind: 'submitted' }],
      onSubmitted: paidOnSubmit,
    });

    await flow.checkout();
    expect(state().phase).toBe('cancelled');
    expect(server.countRequests('status')).toBe(0);

    await flow.retryPayment();
    expect(state().phase).toBe('paid');
    expect(server.countRequests('createOrder')).toBe(1);
    expect(server.countRequests('pay')).toBe(2);
    expect(payment.presented.map((presentation) => presentation.orderNo)).toEqual(['CO000001', 'CO000001']);
  });

  it('should confirm with the server when a retried payment finds the order already paid', async () => {
    const { server, flow, state } = await setUp({ outcomes: [{ kind: 'cancelled' }] });
    await flow.checkout();
    expect(state().phase).toBe('cancelled');

    server.settle('CO000001', PAID);
    server.answerNext('pay', { status: 409, body: { error: { code: 'ORDER_ALREADY_PAID', message: 'already paid' } } });
    await flow.retryPayment();

    expect(state().phase).toBe('paid');
  });

  it('should ask to pay again later when the server is still creating the payment', async () => {
    const { server, flow, state } = await setUp();
    server.answerNext('pay', {
      status: 409,
      body: { error: { code: 'PAYMENT_IN_PROGRESS', message: 'retry in a moment' } },
    });

    await flow.checkout();

    expect(state()).toMatchObject({
      phase: 'failed',
      error: { message: '支付正在处理中，请稍后重新支付', nextStep: 'retryPayment' },
    });
  });

  it('should fail with a Chinese message and a retry when the payment sheet fails (not a cancel)', async () => {
    const { flow, state } = await setUp({
      outcomes: [
        { kind: 'failed', code: 'PAYMENT_FAILED', message: 'requestPayment:fail system error' },
        { kind: 'submitted' },
      ],
      onSubmitted: paidOnSubmit,
    });

    await flow.checkout();
    expect(state()).toMatchObject({
      phase: 'failed',
      error: {
        code: 'PAYMENT_FAILED',
        message: '支付未完成，请重新支付',
        nextStep: 'retryPayment',
        detail: 'requestPayment:fail system error',
      },
    });

    await flow.runNextStep('retryPayment');
    expect(state().phase).toBe('paid');
  });

  it('should send the shopper to a new order after a signature error', async () => {
    const { server, flow, state } = await setUp({
      outcomes: [{ kind: 'failed', code: 'PAYMENT_PARAMS_INVALID', message: 'requestPayment:fail invalid sign' }],
    });

    await flow.checkout();
    expect(state()).toMatchObject({
      phase: 'failed',
      error: { code: 'PAYMENT_PARAMS_INVALID', nextStep: 'startOver' },
    });

    await flow.runNextStep('startOver');
    expect(state()).toMatchObject({ phase: 'idle', order: null });
    await flow.checkout();
    const keys = server.requests
      .filter((request) => request.path === '/api/orders')
      .map((request) => request.headers['Idempotency-Key']);
    expect(keys).toEqual(['attempt-1', 'attempt-2']);
    expect(server.orders.size).toBe(2);
  });

  it('should log in again once when the cached session expired on the server, then carry on', async () => {
    const { server, payment, flow, state, openCheckout } = await setUp({ onSubmitted: paidOnSubmit });
    await flow.checkout();
    expect(state().phase).toBe('paid');
    expect(payment.loginCount).toBe(1);

    server.expireAllSessions();
    const again = await openCheckout();
    await again.flow.checkout();

    expect(again.state().phase).toBe('paid');
    expect(payment.loginCount).toBe(2);
    expect(server.countRequests('createOrder')).toBe(3);
    expect(server.orders.size).toBe(2);
  });

  it('should retry an order request rejected with SESSION_INVALID after exactly one re-login', async () => {
    const { server, payment, flow, state } = await setUp({ onSubmitted: paidOnSubmit });
    server.answerNext('createOrder', { status: 401, body: { error: { code: 'SESSION_INVALID', message: 'expired' } } });

    await flow.checkout();

    expect(state().phase).toBe('paid');
    expect(payment.loginCount).toBe(2);
    expect(server.countRequests('createOrder')).toBe(2);
    expect(server.orders.size).toBe(1);
    const keys = server.requests
      .filter((request) => request.path === '/api/orders')
      .map((request) => request.headers['Idempotency-Key']);
    expect(keys).toEqual(['attempt-1', 'attempt-1']);
  });

  it('should fail with a message when the session is refused even after re-login', async () => {
    const { server, payment, flow, state } = await setUp();
    const expired = { status: 401, body: { error: { code: 'SESSION_INVALID', message: 'expired' } } };
    server.answerNext('createOrder', expired);
    server.answerNext('createOrder', expired);

    await flow.checkout();

    expect(payment.loginCount).toBe(2);
    expect(state()).toMatchObject({
      phase: 'failed',
      order: null,
      error: { code: 'SESSION_INVALID', message: '登录状态已过期，请重试', nextStep: 'retryCheckout' },
    });
  });

  it('should reuse the idempotency key when retrying after the order answer was lost', async () => {
    const { server, flow, state } = await setUp({ onSubmitted: paidOnSubmit });
    server.answerNext('createOrder', { status: 503, body: { error: { code: 'UPSTREAM_UNAVAILABLE', message: 'db' } } });

    await flow.checkout();
    expect(state()).toMatchObject({
      phase: 'failed',
      error: { message: '服务繁忙，请稍后再试', nextStep: 'retryCheckout' },
    });

    await flow.runNextStep('retryCheckout');
    expect(state().phase).toBe('paid');
    const keys = server.requests
      .filter((request) => request.path === '/api/orders')
      .map((request) => request.headers['Idempotency-Key']);
    expect(keys).toEqual(['attempt-1', 'attempt-1']);
  });

  it('should report a network failure while paying with a retry of the same order', async () => {
    const { server, flow, state } = await setUp({ onSubmitted: paidOnSubmit });
    const originalHandle = server.handle.bind(server);
    let failPay = true;
    server.handle = (request) => {
      if (failPay && request.path.endsWith('/pay')) {
        failPay = false;
        throw { errMsg: 'request:fail net::ERR_INTERNET_DISCONNECTED' };
      }
      return originalHandle(request);
    };

    await flow.checkout();
    expect(state()).toMatchObject({
      phase: 'failed',
      order: { orderNo: 'CO000001' },
      error: { code: 'NETWORK_ERROR', message: '网络连接失败，请检查网络后重试', nextStep: 'retryPayment' },
    });

    await flow.runNextStep('retryPayment');
    expect(state().phase).toBe('paid');
  });

  it.each([
    [1, 'ORDER_EXPIRED', '订单已超时未支付，请重新下单', 'startOver'],
    [2, 'ORDER_FAILED', '支付失败，请重新支付', 'retryPayment'],
    [3, 'ORDER_CLOSED', '支付已关闭，请重新支付', 'retryPayment'],
  ])('should end in failed when the server reports final code %i', async (code, errorCode, message, nextStep) => {
    const { server, flow, state } = await setUp();
    server.scriptedStatusCodes.push(PENDING, code);

    await flow.checkout();

    expect(state()).toMatchObject({ phase: 'failed', error: { code: errorCode, message, nextStep } });
  });

  it('should pay the same order again after the server reported its payment failed', async () => {
    const { server, flow, state } = await setUp();
    server.scriptedStatusCodes.push(PENDING, 2);
    await flow.checkout();
    expect(state()).toMatchObject({
      phase: 'failed',
      order: { orderNo: 'CO000001' },
      error: { nextStep: 'retryPayment' },
    });

    server.scriptedStatusCodes.push(0);
    await flow.runNextStep('retryPayment');

    expect(state()).toMatchObject({ phase: 'paid', order: { orderNo: 'CO000001' } });
    expect(server.countRequests('createOrder')).toBe(1);
    expect(server.countRequests('pay')).toBe(2);
  });

  it('should keep polling through transient status errors', async () => {
    const { server, flow, state } = await setUp({ onSubmitted: paidOnSubmit });
    server.answerNext('status', { status: 503, body: { error: { code: 'UPSTREAM_UNAVAILABLE', message: 'busy' } } });
    server.answerNext('status', { status: 502, body: 'Bad Gateway' });

    await flow.checkout();

    expect(state().phase).toBe('paid');
    expect(server.countRequests('status')).toBe(3);
  });

  it('should stop polling on a status error that retrying cannot fix, offering a re-check', async () => {
    const { server, flow, state } = await setUp({ onSubmitted: paidOnSubmit });
    server.answerNext('status', { status: 403, body: { error: { code: 'ORDER_FORBIDDEN', message: 'not yours' } } });

    await flow.checkout();
    expect(state()).toMatchObject({ phase: 'failed', error: { code: 'ORDER_FORBIDDEN', nextStep: 'refreshResult' } });

    await flow.runNextStep('refreshResult');
    expect(state().phase).toBe('paid');
  });

  it('should ignore a second tap on pay while a checkout is running', async () => {
    const { server, flow, state } = await setUp({ onSubmitted: paidOnSubmit });

    await Promise.all([flow.checkout(), flow.checkout()]);

    expect(state().phase).toBe('paid');
    expect(server.countRequests('createOrder')).toBe(1);
    expect(server.countRequests('pay')).toBe(1);
  });
});
