import { createApiClient } from '../../src/api/client';
import { CLAIMED_CHECKOUTS_STORAGE_KEY, createClaimedCheckouts } from '../../src/checkout/claimed-checkouts';
import { createCheckoutFlow } from '../../src/checkout/flow';
import { createCheckoutStore } from '../../src/checkout/store';
import type { PaymentOutcome } from '../../src/platform/contract';
import { createSessionManager } from '../../src/session/session';
import { FakeCheckoutServer, transportTo } from './doubles/fake-checkout-server';
import { FakePaymentAdapter } from './doubles/fake-payment-adapter';
import { MemoryStorage } from './doubles/memory-storage';
import { VirtualClock } from './doubles/virtual-clock';

const PAID = 0;
const EXPIRED = 1;

/**
 * One shopper's client: session and storage survive re-opening the page (`openPage`); `freshClient`
 * is another phone or WeChat user, with storage of its own.
 */
let clientCount = 0;

function client(server: FakeCheckoutServer, outcomes: PaymentOutcome[] = [], onSubmitted?: (orderNo: string) => void) {
  const clock = new VirtualClock();
  const storage = new MemoryStorage();
  const api = createApiClient({ baseUrl: 'http://checkout.test', transport: transportTo(server) });
  const payment = new FakePaymentAdapter(outcomes, onSubmitted, `client-${++clientCount}-login-code`);
  const session = createSessionManager({
    api,
    platform: payment.platform,
    loginCode: payment.loginCode,
    storage,
    now: clock.now,
  });
  const openPage = () => {
    const store = createCheckoutStore();
    const flow = createCheckoutFlow({
      store,
      api,
      session,
      payment,
      sleep: clock.sleep,
      now: clock.now,
      claimedCheckouts: createClaimedCheckouts({ storage, now: clock.now }),
    });
    return { store, flow, state: store.getState };
  };
  return { clock, storage, payment, openPage, ...openPage() };
}

function setUp(outcomes: PaymentOutcome[] = [{ kind: 'submitted' }]) {
  const server = new FakeCheckoutServer();
  const { token, orderNo } = server.openAppCheckout([{ sku: 'cup', quantity: 2 }]);
  const shopper = client(server, outcomes, (paidOrderNo) => server.settle(paidOrderNo, PAID));
  return { server, token, orderNo, ...shopper };
}

describe('checkout flow: an order a merchant app opened the page for', () => {
  it("should log in, claim the app's order and show it ready to pay, without the catalogue", async () => {
    const { server, token, orderNo, payment, flow, state } = setUp();

    await flow.openFromApp(token);

    expect(state()).toMatchObject({
      phase: 'ready',
      source: 'app',
      order: {
        orderNo,
        amount: 3998,
        status: 'pending',
        items: [{ sku: 'cup', quantity: 2, title: '茶杯', price: 1999, amount: 3998 }],
      },
    });
    expect(payment.loginCount).toBe(1);
    expect(server.countRequests('catalog')).toBe(0);
    const claim = server.requests.find((request) => request.path === '/api/checkouts/claim');
    expect(claim).toMatchObject({ method: 'POST', headers: { Authorization: 'Bearer token-1' }, body: { token } });
    expect(payment.presented).toHaveLength(0);
  });

  it('should pay the claimed order through the same adapter and confirm it with the server', async () => {
    const { server, orderNo, token, payment, flow, state } = setUp();
    await flow.openFromApp(token);

    await flow.payClaimedOrder();

    expect(state()).toMatchObject({ phase: 'paid', order: { orderNo, status: 'paid' } });
    expect(payment.presented.map((presented) => presented.orderNo)).toEqual([orderNo]);
    expect(server.countRequests('createOrder')).toBe(0);
    expect(server.countRequests('pay')).toBe(1);
  });

  it('should keep the order at the server status: cancelled stays pending, and a retry pays the same order', async () => {
    const { server, orderNo, token, flow, state } = setUp([{ kind: 'cancelled' }, { kind: 'submitted' }]);
    await flow.openFromApp(token);
    await flow.payClaimedOrder();
    expect(state()).toMatchObject({ phase: 'cancelled', order: { status: 'pending' } });

    await flow.retryPayment();
    expect(state()).toMatchObject({ phase: 'paid', order: { orderNo, status: 'paid' } });
    expect(server.countRequests('pay')).toBe(2);
  });

  it('should send the shopper back to the app when the order expires while paying', async () => {
    const server = new FakeCheckoutServer();
    const { token } = server.openAppCheckout();
    const { flow, state } = client(server, [{ kind: 'submitted' }]);
    await flow.openFromApp(token);
    server.scriptedStatusCodes.push(EXPIRED);

    await flow.payClaimedOrder();

    expect(state()).toMatchObject({
      phase: 'failed',
      order: { status: 'expired' },
      error: { code: 'ORDER_EXPIRED', message: '订单已超时未支付', nextStep: 'returnToApp' },
    });
  });

  describe('when the launch token was used already (409 CHECKOUT_TOKEN_USED)', () => {
    it('should resume the order this client claimed with the same token, ready to pay', async () => {
      const { server, token, orderNo, flow, openPage } = setUp();
      await flow.openFromApp(token);

      const reopened = openPage();
      await reopened.flow.openFromApp(token);

      expect(server.countRequests('claim')).toBe(2);
      expect(reopened.state()).toMatchObject({ phase: 'ready', order: { orderNo, amount: 3998, status: 'pending' } });
      await reopened.flow.payClaimedOrder();
      expect(reopened.state().phase).toBe('paid');
    });

    it('should show the result straight away when the resumed order is already paid', async () => {
      const { server, token, orderNo, flow, openPage, payment } = setUp();
      await flow.openFromApp(token);
      await flow.payClaimedOrder();

      const reopened = openPage();
      await reopened.flow.openFromApp(token);

      expect(reopened.state()).toMatchObject({ phase: 'paid', order: { orderNo, status: 'paid' } });
      expect(payment.presented).toHaveLength(1);
      expect(server.countRequests('pay')).toBe(1);
    });

    it('should leave a resumed order ready to pay when its status cannot be fetched right now', async () => {
      const { server, token, flow, openPage } = setUp();
      await flow.openFromApp(token);
      server.answerNext('status', { status: 503, body: { error: { code: 'GATEWAY_UNAVAILABLE', message: 'busy' } } });

      const reopened = openPage();
      await reopened.flow.openFromApp(token);

      expect(reopened.state().phase).toBe('ready');
    });

    it('should say the order was opened already, and send the shopper back to the app, on a client that never claimed it', async () => {
      const { server, token, flow } = setUp();
      await flow.openFromApp(token);

      const otherPhone = client(server);
      await otherPhone.flow.openFromApp(token);

      expect(otherPhone.state()).toMatchObject({
        phase: 'failed',
        order: null,
        error: { code: 'CHECKOUT_TOKEN_USED', message: '该订单已被打开过，无法重复打开', nextStep: 'returnToApp' },
      });
    });

    it('should not resume from storage that is not a record of claims', async () => {
      const { server, token, flow, storage, openPage } = setUp();
      await flow.openFromApp(token);
      storage.setItem(CLAIMED_CHECKOUTS_STORAGE_KEY, 'garbage');

      const reopened = openPage();
      await reopened.flow.openFromApp(token);

      expect(server.countRequests('claim')).toBe(2);
      expect(reopened.state()).toMatchObject({ phase: 'failed', error: { code: 'CHECKOUT_TOKEN_USED' } });
    });
  });

  it.each([
    ['expired (410)', 'CHECKOUT_TOKEN_EXPIRED', '支付链接已过期'],
    ['unknown (404)', 'CHECKOUT_TOKEN_INVALID', '支付链接无效'],
  ])('should explain a launch token that is %s and send the shopper back to the app', async (_what, code, message) => {
    const server = new FakeCheckoutServer();
    const { token } = server.openAppCheckout();
    if (code === 'CHECKOUT_TOKEN_EXPIRED') server.expireAppCheckout(token);
    const { flow, state } = client(server);

    await flow.openFromApp(code === 'CHECKOUT_TOKEN_INVALID' ? 'no-such-launch-token-0123456789' : token);

    expect(state()).toMatchObject({ phase: 'failed', order: null, error: { code, message, nextStep: 'returnToApp' } });
  });

  it('should treat a malformed token as an invalid link without asking the server', async () => {
    const server = new FakeCheckoutServer();
    const { flow, state } = client(server);

    await flow.openFromApp('short');

    expect(state()).toMatchObject({
      phase: 'failed',
      error: { code: 'CHECKOUT_TOKEN_INVALID', message: '支付链接无效', nextStep: 'returnToApp' },
    });
    expect(server.countRequests('claim')).toBe(0);
  });

  it('should treat the server refusing the token as malformed (400) as an invalid link', async () => {
    const server = new FakeCheckoutServer();
    server.answerNext('claim', {
      status: 400,
      body: { error: { code: 'VALIDATION_FAILED', message: 'body.token: invalid' } },
    });
    const { flow, state } = client(server);

    await flow.openFromApp('launch-token-0123456789abcdef');

    expect(state()).toMatchObject({
      phase: 'failed',
      error: { code: 'CHECKOUT_TOKEN_INVALID', nextStep: 'returnToApp' },
    });
  });

  it('should offer a retry of the claim after a network failure, and claim on retry', async () => {
    const { server, token, orderNo, flow, state } = setUp();
    const originalHandle = server.handle.bind(server);
    let failClaim = true;
    server.handle = (request) => {
      if (failClaim && request.path === '/api/checkouts/claim') {
        failClaim = false;
        throw { errMsg: 'request:fail net::ERR_INTERNET_DISCONNECTED' };
      }
      return originalHandle(request);
    };

    await flow.openFromApp(token);
    expect(state()).toMatchObject({
      phase: 'failed',
      error: { code: 'NETWORK_ERROR', message: '网络连接失败，请检查网络后重试', nextStep: 'retryClaim' },
    });

    await flow.runNextStep('retryClaim');
    expect(state()).toMatchObject({ phase: 'ready', order: { orderNo } });
  });

  it('should offer a retry when the login fails before the claim', async () => {
    const { server, token, flow, state } = setUp();
    server.answerNext('session', { status: 503, body: { error: { code: 'WECHAT_UNAVAILABLE', message: 'busy' } } });

    await flow.openFromApp(token);

    expect(state()).toMatchObject({
      phase: 'failed',
      error: { message: '微信服务繁忙，请稍后再试', nextStep: 'retryClaim' },
    });
    expect(server.countRequests('claim')).toBe(0);
  });

  it('should claim once when the page asks twice for the same launch', async () => {
    const { server, token, flow, state } = setUp();

    await Promise.all([flow.openFromApp(token), flow.openFromApp(token)]);

    expect(state().phase).toBe('ready');
    expect(server.countRequests('claim')).toBe(1);
  });

  it('should take a second launch for another checkout once the first is finished', async () => {
    const { server, token, flow, state } = setUp();
    await flow.openFromApp(token);
    await flow.payClaimedOrder();
    const second = server.openAppCheckout([{ sku: 'tea', quantity: 3 }]);

    await flow.openFromApp(second.token);

    expect(state()).toMatchObject({ phase: 'ready', order: { orderNo: second.orderNo, amount: 3 } });
  });

  it('should go back to the cart when the page opens without a token after an app checkout', async () => {
    const { server, token, flow, state } = setUp();
    await flow.openFromApp(token);
    await flow.payClaimedOrder();

    await flow.openCart();

    expect(state()).toMatchObject({ phase: 'idle', source: 'cart', order: null, catalogStatus: 'ready' });
    expect(server.countRequests('catalog')).toBe(1);
  });
});
