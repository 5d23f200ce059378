import type { Database } from '../../server/adapters/storage/database';
import { hashToken } from '../../server/domain/identifiers';
import { CheckoutHarness, eventually, startHarness } from '../support/checkout-harness';
import { describePostgres, STORAGES, TEST_DATABASE_URL, TestDatabase } from '../support/databases';

/**
 * A session is remembered by every instance that verified it; logging out, deleting the row, or
 * moving its expiry into the past must make every instance refuse it, without waiting for the
 * remembered entry to lapse (it would otherwise last until the session's own expiry, 2 hours).
 */

/** The answer a session token gets on an authenticated route (404: accepted, no such order). */
async function use(h: CheckoutHarness, token: string): Promise<{ status: number; code?: string }> {
  const response = await h.api.get('/api/orders/NOSUCHORDER1/status').set('authorization', `Bearer ${token}`);
  return { status: response.status, code: response.body.error?.code };
}

const ACCEPTED = { status: 404, code: 'ORDER_NOT_FOUND' };
const REFUSED = { status: 401, code: 'SESSION_INVALID' };

function logout(h: CheckoutHarness, token?: string) {
  const request = h.api.delete('/api/session');
  return token === undefined ? request : request.set('authorization', `Bearer ${token}`);
}

/** Refused within a deadline: the other instance hears of the change on the feed, not on a timer. */
async function refusedSoon(h: CheckoutHarness, token: string) {
  return eventually(
    () => use(h, token),
    (answer) => answer.status === 401,
    3000,
  );
}

describe.each(STORAGES)('DELETE /api/session on $name', (storage) => {
  let database: TestDatabase;
  let h: CheckoutHarness;

  beforeAll(async () => {
    database = await storage.open();
    h = await startHarness(database.db);
  });

  afterAll(async () => {
    await h?.close();
    await database?.dispose();
  });

  it('should answer 204 and refuse the token at once, even though it was remembered', async () => {
    const { token } = await h.login();
    expect(await use(h, token)).toEqual(ACCEPTED);
    expect(await use(h, token)).toEqual(ACCEPTED);

    const response = await logout(h, token).expect(204);
    expect(response.text).toBe('');
    expect(await use(h, token)).toEqual(REFUSED);
    const rows = await database.db.query('SELECT 1 FROM sessions WHERE token_hash = $1', [hashToken(token)]);
    expect(rows.rows).toEqual([]);
  });

  it('should answer 204 again to a repeated logout, and to a token it never issued', async () => {
    const { token } = await h.login();
    await logout(h, token).expect(204);
    await logout(h, token).expect(204);
    await logout(h, 'never-issued-token').expect(204);
    expect(await use(h, token)).toEqual(REFUSED);
  });

  it('should refuse a logout without a bearer token', async () => {
    const response = await logout(h).expect(401);
    expect(response.body.error.code).toBe('SESSION_INVALID');
  });

  it('should end only that session: another session of the same shopper keeps working', async () => {
    const phone = await h.login();
    const tablet = await h.login(phone.openid);
    await use(h, tablet.token);
    await logout(h, phone.token).expect(204);
    expect(await use(h, phone.token)).toEqual(REFUSED);
    expect(await use(h, tablet.token)).toEqual(ACCEPTED);
  });

  it("should leave the shopper's orders alone: one in payment is paid, and seen after logging in again", async () => {
    const { token, openid } = await h.login();
    const order = await h.createOrder(token);
    await h.pay(token, order.orderNo).expect(200);
    const [bill] = await h.billsOf(order.orderNo);
    await logout(h, token).expect(204);

    await h.settle(bill.bill_no, 'paid').expect(200);
    const again = await h.login(openid);
    const seen = await eventually(
      () => h.status(again.token, order.orderNo),
      (answer) => answer.status === 'paid',
      3000,
    );
    expect(seen.status).toBe('paid');
  });
});

describe.each(STORAGES)('a remembered session changed in the database on $name', (storage) => {
  let database: TestDatabase;
  let h: CheckoutHarness;

  beforeAll(async () => {
    database = await storage.open();
    h = await startHarness(database.db);
  });

  afterAll(async () => {
    await h?.close();
    await database?.dispose();
  });

  it('should refuse a session whose row was deleted', async () => {
    const { token } = await h.login();
    expect(await use(h, token)).toEqual(ACCEPTED);
    await database.db.query('DELETE FROM sessions WHERE token_hash = $1', [hashToken(token)]);
    expect(await refusedSoon(h, token)).toEqual(REFUSED);
  });

  it('should refuse a session whose expiry was moved into the past', async () => {
    const { token } = await h.login();
    expect(await use(h, token)).toEqual(ACCEPTED);
    await database.db.query("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE token_hash = $1", [
      hashToken(token),
    ]);
    expect(await refusedSoon(h, token)).toEqual(REFUSED);
  });

  it('should refuse every session after the table was truncated', async () => {
    const first = await h.login();
    const second = await h.login();
    expect(await use(h, first.token)).toEqual(ACCEPTED);
    expect(await use(h, second.token)).toEqual(ACCEPTED);
    await database.db.exec('TRUNCATE sessions');
    expect(await refusedSoon(h, first.token)).toEqual(REFUSED);
    expect(await use(h, second.token)).toEqual(REFUSED);
  });

  it('should refuse a remembered session once its expiry passes on the clock', async () => {
    const { token } = await h.login();
    expect(await use(h, token)).toEqual(ACCEPTED);
    h.advanceClock(2 * 60 * 60 * 1000 + 1000);
    try {
      expect(await use(h, token)).toEqual(REFUSED);
    } finally {
      h.advanceClock(-(2 * 60 * 60 * 1000 + 1000));
    }
  });
});

describe.each(STORAGES)('a session read that raced with its removal on $name', (storage) => {
  it('should not remember what it read before the removal', async () => {
    const database = await storage.open();
    let held: Promise<void> | undefined;
    let reached: (() => void) | undefined;
    const holding: Database = {
      ...database.db,
      query: async (sql, params, options) => {
        const result = await database.db.query(sql, params, options);
        // The row is read, and its answer is held until the test has removed it.
        if (held && /FROM sessions WHERE token_hash/.test(sql)) {
          reached?.();
          await held;
        }
        return result as never;
      },
    };
    const h = await startHarness(holding);
    try {
      const { token } = await h.login();
      const probe = await h.login();
      expect(await use(h, probe.token)).toEqual(ACCEPTED);

      let release!: () => void;
      held = new Promise((resolve) => (release = resolve));
      const readStarted = new Promise<void>((resolve) => (reached = resolve));
      const racing = use(h, token);
      await readStarted;
      held = undefined;
      await database.db.query('DELETE FROM sessions WHERE token_hash = $1', [hashToken(token)]);
      // The feed delivers in commit order: once the probe's removal is heard, so was the first.
      await database.db.query('DELETE FROM sessions WHERE token_hash = $1', [hashToken(probe.token)]);
      expect(await refusedSoon(h, probe.token)).toEqual(REFUSED);
      release();

      // The request read the row before it went: answered, but not remembered.
      expect(await racing).toEqual(ACCEPTED);
      expect(await use(h, token)).toEqual(REFUSED);
    } finally {
      await h.close();
      await database.dispose();
    }
  });
});

describePostgres('a session revoked with two instances on one PostgreSQL', () => {
  let database: TestDatabase;
  let first: CheckoutHarness;
  let second: CheckoutHarness;
  let secondSessionReads = 0;

  beforeAll(async () => {
    const postgres = STORAGES.find((candidate) => candidate.name === 'postgres')!;
    expect(TEST_DATABASE_URL).toBeDefined();
    database = await postgres.open();
    const another = await database.openAnother();
    const counting: Database = {
      ...another,
      query: (sql, params, options) => {
        if (/FROM sessions WHERE token_hash/.test(sql)) secondSessionReads += 1;
        return another.query(sql, params, options);
      },
    };
    first = await startHarness(database.db);
    second = await startHarness(counting);
  });

  afterAll(async () => {
    await first?.close();
    await second?.close();
    await database?.dispose();
  });

  /** Logs in on the first instance and has the second remember the session. */
  async function rememberedBySecond(): Promise<string> {
    const { token } = await first.login();
    expect(await use(first, token)).toEqual(ACCEPTED);
    expect(await use(second, token)).toEqual(ACCEPTED);
    const reads = secondSessionReads;
    expect(await use(second, token)).toEqual(ACCEPTED);
    expect(secondSessionReads).toBe(reads);
    return token;
  }

  it('should have the other instance refuse a session logged out on the first', async () => {
    const token = await rememberedBySecond();
    await logout(first, token).expect(204);
    expect(await use(first, token)).toEqual(REFUSED);
    expect(await refusedSoon(second, token)).toEqual(REFUSED);
  });

  it('should have both instances refuse a session deleted in the database', async () => {
    const token = await rememberedBySecond();
    await database.db.query('DELETE FROM sessions WHERE token_hash = $1', [hashToken(token)]);
    expect(await refusedSoon(first, token)).toEqual(REFUSED);
    expect(await refusedSoon(second, token)).toEqual(REFUSED);
  });

  it('should have both instances refuse a session whose expiry was moved into the past', async () => {
    const token = await rememberedBySecond();
    await database.db.query("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE token_hash = $1", [
      hashToken(token),
    ]);
    expect(await refusedSoon(first, token)).toEqual(REFUSED);
    expect(await refusedSoon(second, token)).toEqual(REFUSED);
  });

  it('should have the first instance refuse a session logged out on the second', async () => {
    const token = await rememberedBySecond();
    await logout(second, token).expect(204);
    expect(await use(second, token)).toEqual(REFUSED);
    expect(await refusedSoon(first, token)).toEqual(REFUSED);
  });
});
