import { createApiClient } from '../../src/api/client';
import { CheckoutError, isCheckoutError } from '../../src/api/errors';
import { createSessionManager, SESSION_STORAGE_KEY } from '../../src/session/session';
import { FakeCheckoutServer, transportTo } from './doubles/fake-checkout-server';
import { MemoryStorage } from './doubles/memory-storage';
import { VirtualClock } from './doubles/virtual-clock';

function setUp() {
  const server = new FakeCheckoutServer();
  const api = createApiClient({ baseUrl: 'http://checkout.test', transport: transportTo(server) });
  const storage = new MemoryStorage();
  const clock = new VirtualClock();
  let logins = 0;
  const session = createSessionManager({
    api,
    platform: 'weapp',
    loginCode: async () => ({ code: `code-${++logins}` }),
    storage,
    now: clock.now,
  });
  return { server, api, storage, clock, session, loginCount: () => logins };
}

describe('createSessionManager', () => {
  it('should log in once and reuse the cached token', async () => {
    const { session, server, storage, loginCount } = setUp();
    const first = await session.getToken();
    const second = await session.getToken();

    expect(second).toBe(first);
    expect(loginCount()).toBe(1);
    expect(server.countRequests('session')).toBe(1);
    expect(server.requests[0].body).toEqual({ platform: 'weapp', code: 'code-1' });
    expect(storage.entries.get(SESSION_STORAGE_KEY)).toMatchObject({ token: first });
  });

  it('should log in again shortly before the token expires (safety margin)', async () => {
    const { session, clock, loginCount } = setUp();
    const first = await session.getToken();

    clock.advance(7200_000 - 61_000);
    expect(await session.getToken()).toBe(first);

    clock.advance(2_000);
    expect(await session.getToken()).not.toBe(first);
    expect(loginCount()).toBe(2);
  });

  it('should share one login between concurrent callers', async () => {
    const { session, loginCount } = setUp();
    const tokens = await Promise.all([session.getToken(), session.getToken(), session.getToken()]);
    expect(new Set(tokens).size).toBe(1);
    expect(loginCount()).toBe(1);
  });

  it('should ignore a malformed cache entry', async () => {
    const { session, storage, loginCount } = setUp();
    storage.setItem(SESSION_STORAGE_KEY, 'garbage');
    await session.getToken();
    expect(loginCount()).toBe(1);
  });

  it('should drop the token, log in again and retry once on SESSION_INVALID', async () => {
    const { session, server, api, loginCount } = setUp();
    const stale = await session.getToken();
    server.expireAllSessions();

    const statusCall = jest.fn((token: string) => api.getOrderStatus(token, 'missing'));
    const result = await session.withSession(statusCall).catch((error: unknown) => error);

    expect(loginCount()).toBe(2);
    expect(statusCall).toHaveBeenCalledTimes(2);
    expect(statusCall.mock.calls[0][0]).toBe(stale);
    expect(statusCall.mock.calls[1][0]).not.toBe(stale);
    // The retried call reached the server with the fresh token: a 404, not a 401.
    expect(result).toMatchObject({ code: 'ORDER_NOT_FOUND' });
  });

  it('should give up after one re-login when the server keeps refusing the session', async () => {
    const { session, loginCount } = setUp();
    const alwaysExpired = async () => {
      throw new CheckoutError('SESSION_INVALID', 'expired', 401);
    };
    const error = await session.withSession(alwaysExpired).catch((caught: unknown) => caught);
    expect(isCheckoutError(error) && error.code).toBe('SESSION_INVALID');
    expect(loginCount()).toBe(2);
  });

  it('should not retry other errors', async () => {
    const { session, loginCount } = setUp();
    const operation = jest.fn(async () => {
      throw new CheckoutError('SERVER_UNAVAILABLE', 'down', 503);
    });
    await expect(session.withSession(operation)).rejects.toMatchObject({ code: 'SERVER_UNAVAILABLE' });
    expect(operation).toHaveBeenCalledTimes(1);
    expect(loginCount()).toBe(1);
  });

  it("should send Douyin's anonymousCode with the code, for platform tt", async () => {
    const { api, server, storage, clock } = setUp();
    const session = createSessionManager({
      api,
      platform: 'tt',
      loginCode: async () => ({ code: 'tt-code', anonymousCode: 'tt-anonymous-code' }),
      storage,
      now: clock.now,
    });

    await session.getToken();

    expect(server.requests[0]).toMatchObject({
      method: 'POST',
      path: '/api/session',
      body: { platform: 'tt', code: 'tt-code', anonymousCode: 'tt-anonymous-code' },
    });
  });

  it('should surface LOGIN_CODE_INVALID from the server', async () => {
    const { api, storage, clock } = setUp();
    const session = createSessionManager({
      api,
      platform: 'weapp',
      loginCode: async () => ({ code: 'invalid-code' }),
      storage,
      now: clock.now,
    });
    await expect(session.getToken()).rejects.toMatchObject({ code: 'LOGIN_CODE_INVALID', status: 401 });
    expect(storage.entries.size).toBe(0);
  });
});
