import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { wrapPglite, type Database } from '../../server/adapters/storage/database';
import { migrate } from '../../server/adapters/storage/migrations';
import { SqlUnitOfWork } from '../../server/adapters/storage/unit-of-work';
import { loggerPort, silentLogger } from '../../server/adapters/observability/logger';
import { DEFAULT_CHECKOUT_SETTINGS } from '../../server/domain/checkout-settings';
import type { CheckoutEvent } from '../../server/domain/observability';
import type { BillClosing, PaymentChannel, PaymentProvider } from '../../server/domain/payment-provider';
import { PaymentProviders, type ChannelRoutes } from '../../server/domain/payment-providers';
import { BillService } from '../../server/domain/payments/bills';
import { PaymentVerdicts } from '../../server/domain/payments/verdicts';
import type { OrderMemory, OrderRecord } from '../../server/domain/ports';
import { DEFAULT_REFUND_SETTINGS, RefundService } from '../../server/domain/refunds';
import type { Shopper } from '../../server/domain/sessions';
import { ProviderNotifications } from '../../server/domain/webhooks';
import { MemoryProvider } from '../support/memory-provider';
import { STORAGES, type TestDatabase } from '../support/databases';

/**
 * The payment core against providers other than the gateway: in-memory providers that keep the
 * contract (`test/support/memory-provider.ts`), over real storage. What is checked is where
 * each bill is asked about, closed and refunded, and what notifications may do.
 */

const ALL_TO = (id: 'gateway' | 'wechatpay'): ChannelRoutes => ({ WX_MINI: id, BC_WX_WAP: id, ALI_APP: id });
const shopper: Shopper = { owner: 'weapp:o-provider', platform: 'weapp', openid: 'o-provider' };
let sequence = 0;

/** Forgets nothing it was never told: this domain keeps no memory of orders between calls. */
const noMemory: OrderMemory = {
  rememberCreated: () => undefined,
  recentlyCreated: () => undefined,
  forgetOrder: () => undefined,
};

describe.each(STORAGES)('payments at several providers ($name)', (storage) => {
  let database: TestDatabase;
  let db: Database;
  let now: number;
  const clock = () => new Date(now);

  beforeAll(async () => {
    database = await storage.open();
    db = database.db;
    await migrate(db);
  });
  afterAll(() => database.dispose());
  beforeEach(() => {
    now = Date.parse('2026-11-22T08:00:00Z');
  });

  /** The domain's payment side wired to `providers`, as services.ts wires it to the configured ones. */
  function domainWith(providers: PaymentProviders) {
    const store = SqlUnitOfWork.over(db);
    const log = loggerPort(silentLogger());
    const emitted: CheckoutEvent[] = [];
    const events = { emit: (event: CheckoutEvent) => void emitted.push(event) };
    const settings = { ...DEFAULT_CHECKOUT_SETTINGS, notifyUrl: 'http://127.0.0.1:9/unused' };
    const refunds = new RefundService(
      store,
      providers,
      clock,
      { ...DEFAULT_REFUND_SETTINGS, notifyMerchant: false },
      log,
      events,
    );
    const verdicts = new PaymentVerdicts(store, providers, clock, settings, log, events, noMemory, refunds);
    const bills = new BillService(store, providers, clock, settings, log, events, verdicts);
    const notifications = new ProviderNotifications(store, providers, verdicts, refunds, clock, log, events);
    return { store, refunds, verdicts, bills, notifications, emitted };
  }

  async function newOrder(ttlSeconds = 900): Promise<OrderRecord> {
    sequence += 1;
    const order: OrderRecord = {
      orderNo: `PP${String(sequence).padStart(8, '0')}${Math.random().toString(36).slice(2, 10)}`,
      owner: shopper.owner,
      status: 'pending',
      amount: 4500,
      currency: 'CNY',
      items: [{ sku: 'ceramic-mug', title: '陶瓷马克杯', unitPrice: 4500, quantity: 1, amount: 4500 }],
      title: '陶瓷马克杯',
      refundedAmount: 0,
      createdAt: clock(),
      expiresAt: new Date(now + ttlSeconds * 1000),
    };
    expect(await SqlUnitOfWork.over(db).orders.insertOrder(order)).toBe(true);
    return order;
  }

  const billsOf = async (orderNo: string) =>
    (
      await db.query<{ bill_no: string; provider: string; status: string }>(
        'SELECT bill_no, provider, status FROM bills WHERE order_no = $1 ORDER BY created_at, bill_no',
        [orderNo],
      )
    ).rows;
  const statusOf = async (orderNo: string) =>
    (await db.query<{ status: string }>('SELECT status FROM orders WHERE order_no = $1', [orderNo])).rows[0].status;

  function twoProviders() {
    // The gateway's stand-in cannot close a bill, as the gateway cannot; WeChat Pay's can.
    const gateway = new MemoryProvider('gateway', { canClose: false, secret: 'gateway-secret', now: clock });
    const wechatpay = new MemoryProvider('wechatpay', { canClose: true, secret: 'wechatpay-secret', now: clock });
    return { gateway, wechatpay };
  }

  /** `provider`, with a shopper paying the bill just before it is closed (the race `BillClosing` 'paid' is for). */
  function payingJustBeforeClose(provider: MemoryProvider): PaymentProvider {
    return {
      id: provider.id,
      channels: provider.channels,
      idempotentRefunds: provider.idempotentRefunds,
      openBill: (request) => provider.openBill(request),
      queryBill: (billNo, channel) => provider.queryBill(billNo, channel),
      closeBill: (billNo: string, channel: PaymentChannel): Promise<BillClosing> => {
        provider.pay(billNo);
        return provider.closeBill!(billNo, channel);
      },
      createRefund: (request) => provider.createRefund(request),
      queryRefund: (refundNo) => provider.queryRefund(refundNo),
      readNotification: (message) => provider.readNotification(message),
      listTransactions: (day) => provider.listTransactions(day),
    };
  }

  describe('a bill keeps the provider it was opened at', () => {
    it('records the provider on each bill and asks, refunds and trusts only that one after new bills go elsewhere', async () => {
      const { gateway, wechatpay } = twoProviders();
      const before = domainWith(new PaymentProviders([gateway, wechatpay], ALL_TO('gateway')));
      const earlier = await newOrder();
      await before.bills.open(earlier, shopper, 'WX_MINI', 900);
      const [earlierBill] = await billsOf(earlier.orderNo);
      expect(earlierBill.provider).toBe('gateway');
      expect(gateway.billNos()).toEqual([earlierBill.bill_no]);

      // The configuration now opens new bills at WeChat Pay.
      const after = domainWith(new PaymentProviders([gateway, wechatpay], ALL_TO('wechatpay')));
      const later = await newOrder();
      await after.bills.open(later, shopper, 'WX_MINI', 900);
      const [laterBill] = await billsOf(later.orderNo);
      expect(laterBill.provider).toBe('wechatpay');
      expect(wechatpay.billNos()).toEqual([laterBill.bill_no]);

      // WeChat Pay vouching for a bill it never opened moves nothing.
      const forged = wechatpay.notification({
        type: 'payment.succeeded',
        billNo: earlierBill.bill_no,
        amount: earlier.amount,
        detail: {},
      });
      await expect(after.notifications.receive('wechatpay', forged)).rejects.toMatchObject({
        code: 'WEBHOOK_UNKNOWN_TRANSACTION',
      });
      expect(await statusOf(earlier.orderNo)).toBe('pending');

      // Paid at the gateway, its notification lost: the check asks the gateway, not WeChat Pay.
      gateway.pay(earlierBill.bill_no);
      const wechatpayCalls = wechatpay.calls.length;
      await after.verdicts.checkOrder(earlier.orderNo);
      expect(gateway.calls).toContain(`queryBill ${earlierBill.bill_no}`);
      expect(wechatpay.calls.slice(wechatpayCalls)).toEqual([]);
      expect(await statusOf(earlier.orderNo)).toBe('paid');

      // Its refund goes back through the gateway too, and the gateway's word settles it.
      const { refund } = await after.refunds.refund(earlier.orderNo, { amount: 1000 }, 'key-1');
      expect(gateway.calls).toContain(`createRefund ${refund.refundNo}`);
      expect(wechatpay.calls.slice(wechatpayCalls)).toEqual([]);
      await after.notifications.receive('gateway', gateway.settleRefund(refund.refundNo, 'succeeded'));
      expect((await after.refunds.listRefunds(earlier.orderNo))[0]).toMatchObject({ status: 'succeeded' });
    });

    it('leaves a bill alone while its provider is not configured here, and says which one is missing', async () => {
      const { gateway, wechatpay } = twoProviders();
      const before = domainWith(new PaymentProviders([gateway, wechatpay], ALL_TO('gateway')));
      const order = await newOrder();
      await before.bills.open(order, shopper, 'WX_MINI', 900);

      const without = domainWith(new PaymentProviders([wechatpay], ALL_TO('wechatpay')));
      await expect(without.verdicts.checkOrder(order.orderNo)).rejects.toMatchObject({
        code: 'GATEWAY_UNAVAILABLE',
        details: { provider: 'gateway' },
      });
      expect(wechatpay.calls).toEqual([]);
      expect(await statusOf(order.orderNo)).toBe('pending');
    });

    it('keeps a refund unsent, not failed, on an instance without its provider, and sends it from one with it', async () => {
      const { gateway, wechatpay } = twoProviders();
      const both = domainWith(new PaymentProviders([gateway, wechatpay], ALL_TO('gateway')));
      const order = await newOrder();
      await both.bills.open(order, shopper, 'WX_MINI', 900);
      const [bill] = await billsOf(order.orderNo);
      gateway.pay(bill.bill_no);
      await both.verdicts.checkOrder(order.orderNo);
      expect(await statusOf(order.orderNo)).toBe('paid');

      const without = domainWith(new PaymentProviders([wechatpay], ALL_TO('wechatpay')));
      const { refund } = await without.refunds.refund(order.orderNo, { amount: 1000 }, 'key-unconfigured');
      expect(refund).toMatchObject({ status: 'pending' });
      now += 10 * 60 * 1000;
      await without.refunds.processDue(10);
      expect((await without.refunds.listRefunds(order.orderNo))[0]).toMatchObject({ status: 'pending' });
      expect(gateway.calls.filter((call) => call.startsWith('createRefund'))).toEqual([]);

      // Leased by the instance that could not send it: due again at the next interval.
      now += 10 * 60 * 1000;
      await both.refunds.processDue(10);
      expect(gateway.calls).toContain(`createRefund ${refund.refundNo}`);
      await both.notifications.receive('gateway', gateway.settleRefund(refund.refundNo, 'succeeded'));
      expect((await both.refunds.listRefunds(order.orderNo))[0]).toMatchObject({ status: 'succeeded' });
    });

    it('refuses a configuration that routes a channel to a provider it lacks or that cannot open it', () => {
      const { gateway } = twoProviders();
      expect(() => new PaymentProviders([gateway], ALL_TO('wechatpay'))).toThrow(/wechatpay, which is not configured/);
      const weappOnly = new MemoryProvider('wechatpay', { canClose: true, secret: 's', channels: ['WX_MINI'] });
      expect(() => new PaymentProviders([gateway, weappOnly], { ...ALL_TO('gateway'), ALI_APP: 'wechatpay' })).toThrow(
        /does not open ALI_APP/,
      );
    });
  });

  describe('refund.failed notifications', () => {
    async function paidOrderWithRefund() {
      const { wechatpay } = twoProviders();
      const domain = domainWith(new PaymentProviders([wechatpay], ALL_TO('wechatpay')));
      const order = await newOrder();
      await domain.bills.open(order, shopper, 'WX_MINI', 900);
      const [bill] = await billsOf(order.orderNo);
      await domain.notifications.receive('wechatpay', wechatpay.pay(bill.bill_no));
      const { refund } = await domain.refunds.refund(order.orderNo, { amount: 1500 }, `key-${order.orderNo}`);
      expect(refund.status).toBe('pending');
      return { wechatpay, domain, order, refund };
    }

    it('finishes a pending refund as failed once, with the reason, however often it is told', async () => {
      const { wechatpay, domain, order, refund } = await paidOrderWithRefund();
      const failed = wechatpay.settleRefund(refund.refundNo, 'failed', 'the card was closed');
      expect(await domain.notifications.receive('wechatpay', failed)).toEqual({ duplicate: false });
      expect(await domain.notifications.receive('wechatpay', failed)).toEqual({ duplicate: true });
      expect((await domain.refunds.listRefunds(order.orderNo))[0]).toMatchObject({
        status: 'failed',
        failureReason: 'the card was closed',
      });
      expect(domain.emitted.filter((event) => event.type === 'refund.failed')).toHaveLength(1);
      // What failed is refundable again.
      const again = await domain.refunds.refund(order.orderNo, { amount: 4500 }, `again-${order.orderNo}`);
      expect(again.created).toBe(true);
    });

    it('keeps, for a person, a failure of a refund made elsewhere or already succeeded, changing nothing', async () => {
      const { wechatpay, domain, order, refund } = await paidOrderWithRefund();
      await domain.notifications.receive('wechatpay', wechatpay.settleRefund(refund.refundNo, 'succeeded'));
      const late = wechatpay.notification({
        type: 'refund.failed',
        refundNo: refund.refundNo,
        reason: 'late',
        detail: {},
      });
      const unknown = wechatpay.notification({
        type: 'refund.failed',
        refundNo: '20261122RNOSUCHREFUND01',
        reason: 'no idea',
        detail: {},
      });
      await domain.notifications.receive('wechatpay', late);
      await domain.notifications.receive('wechatpay', unknown);
      expect((await domain.refunds.listRefunds(order.orderNo))[0]).toMatchObject({ status: 'succeeded' });
      const kept = await db.query<{ transaction_id: string; provider: string; reason: string }>(
        `SELECT transaction_id, provider, reason FROM unmatched_gateway_messages
         WHERE transaction_type = 'REFUND_FAILED' AND transaction_id = ANY($1::text[]) ORDER BY id`,
        [[refund.refundNo, '20261122RNOSUCHREFUND01']],
      );
      expect(kept.rows).toEqual([
        { transaction_id: refund.refundNo, provider: 'wechatpay', reason: 'refund was recorded succeeded' },
        {
          transaction_id: '20261122RNOSUCHREFUND01',
          provider: 'wechatpay',
          reason: 'no such refund at wechatpay here',
        },
      ]);
    });

    it('refuses a refund failure not signed by the provider it claims to come from', async () => {
      const { domain, order, refund } = await paidOrderWithRefund();
      const stranger = new MemoryProvider('wechatpay', { canClose: true, secret: 'someone-else' });
      const forged = stranger.notification({
        type: 'refund.failed',
        refundNo: refund.refundNo,
        reason: 'x',
        detail: {},
      });
      await expect(domain.notifications.receive('wechatpay', forged)).rejects.toMatchObject({
        code: 'WEBHOOK_SIGNATURE_INVALID',
      });
      expect((await domain.refunds.listRefunds(order.orderNo))[0]).toMatchObject({ status: 'pending' });
    });
  });

  it('keeps for a person a verified message whose number or kind storage cannot hold, for any provider', async () => {
    const { wechatpay } = twoProviders();
    const domain = domainWith(new PaymentProviders([wechatpay], ALL_TO('wechatpay')));
    const stamp = Date.now();
    const numbers = [`B\u0000${stamp}`, `R\ud800${stamp}`, `N${stamp}`];
    /** As storage writes them: NUL and unpaired surrogates as `\u` escapes. */
    const stored = [`B\\u0000${stamp}`, `R\\ud800${stamp}`, `N${stamp}`];
    const messages = [
      wechatpay.notification({ type: 'payment.succeeded', billNo: numbers[0], amount: 1, detail: {} }),
      wechatpay.notification({ type: 'refund.failed', refundNo: numbers[1], reason: 'x', detail: {} }),
      wechatpay.notification({
        type: 'not_ours',
        kind: 'TRANSACTION.\u0000',
        reference: numbers[2],
        amount: 2,
        reason: 'an event this checkout never asks for',
        detail: {},
      }),
    ];
    for (const message of messages) {
      expect(await domain.notifications.receive('wechatpay', message)).toEqual({ duplicate: false });
    }
    // The kind a payment or refund is kept under is the one the refund side keeps them under.
    const kept = await db.query<{ transaction_type: string; transaction_id: string; reason: string }>(
      `SELECT transaction_type, transaction_id, reason FROM unmatched_gateway_messages
       WHERE provider = 'wechatpay' AND transaction_id = ANY($1::text[]) ORDER BY id`,
      [stored],
    );
    expect(kept.rows).toEqual([
      {
        transaction_type: 'PAY',
        transaction_id: stored[0],
        reason: 'the signed bill number holds NUL or an unpaired surrogate',
      },
      {
        transaction_type: 'REFUND_FAILED',
        transaction_id: stored[1],
        reason: 'the signed refund number holds NUL or an unpaired surrogate',
      },
      {
        transaction_type: 'TRANSACTION.\\u0000',
        transaction_id: stored[2],
        reason: 'an event this checkout never asks for; its signed kind or number holds NUL or an unpaired surrogate',
      },
    ]);
  });

  describe('closing bills at a provider that can close them', () => {
    it('closes a payable bill at its provider when the order expires, so it can no longer be paid', async () => {
      const { gateway, wechatpay } = twoProviders();
      const domain = domainWith(new PaymentProviders([gateway, wechatpay], ALL_TO('wechatpay')));
      const order = await newOrder(120);
      await domain.bills.open(order, shopper, 'WX_MINI', 120);
      const [bill] = await billsOf(order.orderNo);

      now += 121_000;
      await domain.verdicts.checkOrder(order.orderNo);

      expect(wechatpay.calls).toContain(`closeBill ${bill.bill_no}`);
      expect(() => wechatpay.pay(bill.bill_no)).toThrow(/cannot be paid/);
      expect(await statusOf(order.orderNo)).toBe('expired');
      expect((await billsOf(order.orderNo))[0].status).toBe('closed');
    });

    it('records the payment instead of expiring when the close finds the bill paid', async () => {
      const { wechatpay } = twoProviders();
      const domain = domainWith(new PaymentProviders([payingJustBeforeClose(wechatpay)], ALL_TO('wechatpay')));
      const order = await newOrder(120);
      await domain.bills.open(order, shopper, 'WX_MINI', 120);
      const [bill] = await billsOf(order.orderNo);

      now += 121_000;
      await domain.verdicts.checkOrder(order.orderNo);

      expect(wechatpay.calls).toEqual(
        expect.arrayContaining([`closeBill ${bill.bill_no}`, `queryBill ${bill.bill_no}`]),
      );
      expect(await statusOf(order.orderNo)).toBe('paid');
      expect((await billsOf(order.orderNo))[0].status).toBe('paid');
    });

    it('expires without a close at a provider that has none (the gateway closes bills at their timeout itself)', async () => {
      const { gateway } = twoProviders();
      const domain = domainWith(new PaymentProviders([gateway], ALL_TO('gateway')));
      const order = await newOrder(120);
      await domain.bills.open(order, shopper, 'WX_MINI', 120);

      now += 121_000;
      await domain.verdicts.checkOrder(order.orderNo);

      expect(gateway.calls.filter((call) => call.startsWith('closeBill'))).toEqual([]);
      expect(await statusOf(order.orderNo)).toBe('expired');
    });

    it('closes a bill whose parameters were lost and opens a new one, where the provider can close', async () => {
      const { wechatpay } = twoProviders();
      const domain = domainWith(new PaymentProviders([wechatpay], ALL_TO('wechatpay')));
      const order = await newOrder();
      wechatpay.loseNextAnswer = true;
      await expect(domain.bills.open(order, shopper, 'WX_MINI', 900)).rejects.toMatchObject({
        code: 'GATEWAY_UNAVAILABLE',
      });
      const [lost] = await billsOf(order.orderNo);
      expect(lost.status).toBe('creating');
      now += 1000;

      const params = await domain.bills.open(order, shopper, 'WX_MINI', 900);

      expect(wechatpay.calls).toContain(`closeBill ${lost.bill_no}`);
      const bills = await billsOf(order.orderNo);
      expect(bills).toEqual([
        { bill_no: lost.bill_no, provider: 'wechatpay', status: 'closed' },
        { bill_no: expect.not.stringMatching(lost.bill_no), provider: 'wechatpay', status: 'open' },
      ]);
      expect(params).toMatchObject({
        channel: 'WX_MINI',
        requestPayment: { package: `prepay_id=${bills[1].bill_no}` },
      });
      expect(() => wechatpay.pay(lost.bill_no)).toThrow(/cannot be paid/);
    });

    it('answers ORDER_ALREADY_PAID when the bill whose parameters were lost turns out paid as it is closed', async () => {
      const { wechatpay } = twoProviders();
      const domain = domainWith(new PaymentProviders([payingJustBeforeClose(wechatpay)], ALL_TO('wechatpay')));
      const order = await newOrder();
      wechatpay.loseNextAnswer = true;
      await expect(domain.bills.open(order, shopper, 'WX_MINI', 900)).rejects.toMatchObject({
        code: 'GATEWAY_UNAVAILABLE',
      });

      await expect(domain.bills.open(order, shopper, 'WX_MINI', 900)).rejects.toMatchObject({
        code: 'ORDER_ALREADY_PAID',
      });
      expect(await statusOf(order.orderNo)).toBe('paid');
      expect(wechatpay.billNos()).toHaveLength(1);
    });

    it('keeps a bill whose parameters were lost open at a provider that cannot close it (the gateway)', async () => {
      const { gateway } = twoProviders();
      const domain = domainWith(new PaymentProviders([gateway], ALL_TO('gateway')));
      const order = await newOrder();
      gateway.loseNextAnswer = true;
      await expect(domain.bills.open(order, shopper, 'WX_MINI', 900)).rejects.toMatchObject({
        code: 'GATEWAY_UNAVAILABLE',
      });

      await expect(domain.bills.open(order, shopper, 'WX_MINI', 900)).rejects.toMatchObject({
        code: 'PAYMENT_IN_PROGRESS',
      });
      expect(gateway.billNos()).toHaveLength(1);
      expect((await billsOf(order.orderNo)).map((bill) => bill.status)).toEqual(['creating']);
    });
  });
});

describe.each(STORAGES)('migration 008 ($name)', (storage) => {
  const directory = join(__dirname, '../../server/adapters/storage/migrations');
  const files = readdirSync(directory)
    .filter((name) => /^\d+_[\w-]+\.sql$/.test(name))
    .sort();
  let disposeDatabase: () => Promise<void>;
  let db: Database;

  beforeAll(async () => {
    // An empty database: the PGlite template already holds every migration.
    if (storage.name === 'pglite') {
      db = wrapPglite(await PGlite.create());
      disposeDatabase = () => db.close();
    } else {
      const opened = await storage.open();
      db = opened.db;
      disposeDatabase = () => opened.dispose();
    }
  });
  afterAll(() => disposeDatabase());

  it('makes every bill, refund and kept message from before it the gateway’s', async () => {
    // The database as the previous version left it: migrations up to 007 applied, with rows.
    await db.exec(
      'CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    for (const file of files.filter((name) => name < '008')) {
      await db.exec(readFileSync(join(directory, file), 'utf8'));
      await db.query('INSERT INTO schema_migrations (version) VALUES ($1)', [file]);
    }
    const at = new Date('2026-11-22T08:00:00Z');
    await db.query(
      `INSERT INTO orders (order_no, owner, status, amount, currency, items, title, created_at, expires_at, status_changed_at)
       VALUES ('O1', 'weapp:o', 'paid', 4500, 'CNY', '[]', 'mug', $1, $1, $1)`,
      [at],
    );
    await db.query(
      `INSERT INTO bills (bill_no, order_no, channel, amount, status, created_at, updated_at)
       VALUES ('B1', 'O1', 'WX_MINI', 4500, 'paid', $1, $1)`,
      [at],
    );
    await db.query(
      `INSERT INTO refunds (refund_no, order_no, bill_no, channel, amount, kind, status, created_at, next_check_at)
       VALUES ('20261122R1', 'O1', 'B1', 'WX_MINI', 100, 'merchant', 'pending', $1, $1)`,
      [at],
    );
    await db.query(
      `INSERT INTO unmatched_gateway_messages (transaction_type, transaction_id, amount, reason, received_at)
       VALUES ('TRANSFER', 'X1', 100, 'not ours', $1)`,
      [at],
    );

    expect(await migrate(db)).toEqual(files.filter((name) => name >= '008'));

    for (const table of ['bills', 'refunds', 'unmatched_gateway_messages']) {
      const { rows } = await db.query<{ provider: string }>(`SELECT provider FROM ${table}`);
      expect({ table, providers: rows.map((row) => row.provider) }).toEqual({ table, providers: ['gateway'] });
    }
    // A kept message is kept once per provider: another provider may name the same number.
    const keep = (provider: string) =>
      db.query(
        `INSERT INTO unmatched_gateway_messages (provider, transaction_type, transaction_id, amount, reason, received_at)
         VALUES ($1, 'TRANSFER', 'X1', 100, 'not ours', $2) ON CONFLICT DO NOTHING`,
        [provider, at],
      );
    expect((await keep('gateway')).rowCount).toBe(0);
    expect((await keep('wechatpay')).rowCount).toBe(1);
  });
});
