import { randomBytes } from 'node:crypto';
import { DEVELOPMENT_SECRETS } from '../../server/config';
import type { DouyinPaySandboxKeys } from '../../server/sandbox/douyin-pay';
import { callbackSignature } from '../../server/sandbox/douyin-pay/guaranteed/signing';
import { callbackHeaders } from '../../server/sandbox/douyin-pay/trade/protocol';
import { CheckoutHarness, eventually } from '../support/checkout-harness';
import { STORAGES, TestDatabase } from '../support/databases';
import { logLines } from '../support/observability';
import {
  billsOf,
  merchantOrder,
  merchantRefund,
  settleDouyinOrder,
  startLoggedHarness,
  ttLogin,
} from '../support/provider-checkout';

/**
 * Douyin refunds that fail, tried offline: the sandbox's `/sandbox/douyin/refunds/…` controls hold
 * a refund of 担保支付 or the 通用交易系统 processing and then fail it, with that system's signed
 * refund callback (or none, for the refund query to find), through our real server. And a signed
 * refund callback naming another bill than the refund's is kept for review, never applied.
 */

type System = 'trade' | 'guaranteed';

const NOTIFY: Record<System, string> = { trade: '/api/douyin/trade/notify', guaranteed: '/api/douyin/ecpay/notify' };

describe.each(STORAGES)('Douyin refund controls on $name', (storage) => {
  describe.each<System>(['trade', 'guaranteed'])('with TT_PAYMENT_PROVIDER=%s', (system) => {
    let database: TestDatabase;
    let h: CheckoutHarness;
    let keys: DouyinPaySandboxKeys;
    const written: string[] = [];

    beforeAll(async () => {
      database = await storage.open();
      h = await startLoggedHarness(database.db, { TT_PAYMENT_PROVIDER: system }, written);
      keys = (await h.sandbox.get('/sandbox/douyin/keys').expect(200)).body;
    });

    afterAll(async () => {
      await h?.close();
      await database?.dispose();
    });

    afterEach(async () => {
      await h.sandbox.delete('/sandbox/douyin/refunds/hold').expect(200);
    });

    /** An order the shopper paid at Douyin, its payment recorded: our bill number and Douyin's order_id. */
    async function paidOrder() {
      const token = await ttLogin(h);
      const order = await h.createOrder(token);
      const paid = await h.api
        .post(`/api/orders/${order.orderNo}/pay`)
        .set('authorization', `Bearer ${token}`)
        .send({ platform: 'tt' })
        .expect(200);
      const [bill] = await billsOf(h.services.database, order.orderNo);
      let orderId: string;
      if (system === 'trade') {
        const made = await h.sandbox
          .post('/sandbox/douyin/trade/request-order')
          .send(paid.body.requestOrder)
          .expect(200);
        orderId = made.body.orderId;
        await settleDouyinOrder(h, bill.bill_no, 'paid').expect(200);
      } else {
        orderId = paid.body.orderInfo.order_id;
        await h.sandbox.post('/sandbox/douyin/guaranteed/pay').send(paid.body.orderInfo).expect(200);
      }
      await eventually(
        () => h.status(token, order.orderNo),
        (status) => status.status === 'paid',
      );
      return { order, billNo: bill.bill_no, orderId };
    }

    /** A refund of `amount` fen asked through the merchant API, held processing at Douyin. */
    async function heldRefund(orderNo: string, amount: number) {
      const hold = await h.sandbox.post('/sandbox/douyin/refunds/hold').send({ count: 1 }).expect(201);
      expect(hold.body).toEqual({ hold: { count: 1, pending: 1 } });
      const asked = await merchantRefund(h, orderNo, amount, `held-${randomBytes(6).toString('hex')}`).expect(201);
      const refundNo = asked.body.refund.refundNo as string;
      const atDouyin = await eventually(
        async () =>
          (await h.sandbox.get('/sandbox/douyin/refunds').expect(200)).body.refunds as Array<{ outRefundNo: string }>,
        (refunds) => refunds.some((refund) => refund.outRefundNo === refundNo),
      );
      expect(atDouyin).toContainEqual({
        system,
        outRefundNo: refundNo,
        refundId: expect.any(String),
        outOrderNo: expect.any(String),
        amount,
        status: 'processing',
      });
      return refundNo;
    }

    async function refundOf(orderNo: string, refundNo: string) {
      const view = await merchantOrder(h, orderNo);
      return (view.refunds as Array<{ refundNo: string; status: string }>).find(
        (refund) => refund.refundNo === refundNo,
      );
    }

    it('should keep a held refund processing, then fail it at our server through the FAIL callback', async () => {
      const { order } = await paidOrder();
      const refundNo = await heldRefund(order.orderNo, 100);
      // Asked about, Douyin says it is still processing: it stays pending here.
      await h.sweep();
      expect(await refundOf(order.orderNo, refundNo)).toMatchObject({ status: 'pending' });

      const settled = await h.sandbox
        .post(`/sandbox/douyin/refunds/${refundNo}/settle`)
        .send({ result: 'failed' })
        .expect(200);
      expect(settled.body).toMatchObject({ refund: { outRefundNo: refundNo, status: 'failed' }, notifying: true });
      // No sweep: only the refund callback can finish it.
      const finished = await eventually(
        () => refundOf(order.orderNo, refundNo),
        (refund) => refund?.status !== 'pending',
      );
      expect(finished).toMatchObject({ status: 'failed' });
      expect(await merchantOrder(h, order.orderNo)).toMatchObject({ status: 'paid', refundedAmount: 0 });

      const again = await h.sandbox.post(`/sandbox/douyin/refunds/${refundNo}/settle`).send({ result: 'succeeded' });
      expect({ status: again.status, code: again.body.error?.code }).toEqual({ status: 409, code: 'REFUND_FINISHED' });
    });

    it('should fail it through the refund query when no callback comes, and free its amount', async () => {
      const { order } = await paidOrder();
      const refundNo = await heldRefund(order.orderNo, order.amount);
      const settled = await h.sandbox
        .post(`/sandbox/douyin/refunds/${refundNo}/settle`)
        .send({ result: 'failed', notify: false })
        .expect(200);
      expect(settled.body).toMatchObject({ refund: { status: 'failed' }, notifying: false });
      expect(await refundOf(order.orderNo, refundNo)).toMatchObject({ status: 'pending' });
      const finished = await eventually(
        async () => {
          await h.sweep();
          return refundOf(order.orderNo, refundNo);
        },
        (refund) => refund?.status !== 'pending',
      );
      expect(finished).toMatchObject({ status: 'failed' });

      // The whole amount can be refunded again, at Douyin as here; unheld, it succeeds.
      const second = await merchantRefund(h, order.orderNo, order.amount, `again-${refundNo}`).expect(201);
      const done = await eventually(
        () => refundOf(order.orderNo, second.body.refund.refundNo),
        (refund) => refund?.status !== 'pending',
      );
      expect(done).toMatchObject({ status: 'succeeded' });
    });

    it('should keep for review, never apply, a signed refund callback naming another bill', async () => {
      const { order, billNo, orderId } = await paidOrder();
      const other = await paidOrder();
      const refundNo = await heldRefund(order.orderNo, 100);
      const [atDouyin] = (await h.sandbox.get('/sandbox/douyin/refunds').expect(200)).body.refunds.filter(
        (refund: { outRefundNo: string }) => refund.outRefundNo === refundNo,
      );

      /** The refund callback as Douyin signs it, for Douyin's order `orderIdNamed` (and our `billNamed`). */
      const refunded = (status: 'SUCCESS' | 'FAIL', orderIdNamed: unknown, billNamed?: string) => {
        if (system === 'trade') {
          const msg = {
            app_id: DEVELOPMENT_SECRETS.douyinAppId,
            status,
            order_id: orderIdNamed,
            ...(billNamed !== undefined && { out_order_no: billNamed }),
            out_refund_no: refundNo,
            refund_id: atDouyin.refundId,
            refund_total_amount: 100,
            cp_extra: '',
            message: '',
            event_time: Date.now(),
          };
          const body = JSON.stringify({ version: '2.0', type: 'refund', msg: JSON.stringify(msg) });
          return { body, headers: callbackHeaders(body, keys.platformPrivateKey, Date.now() / 1000) };
        }
        const msg = JSON.stringify({
          appid: DEVELOPMENT_SECRETS.douyinAppId,
          cp_refundno: refundNo,
          ...(billNamed !== undefined && { cp_orderno: billNamed }),
          cp_extra: '',
          status,
          refund_amount: 100,
          is_all_settled: false,
          refunded_at: Math.floor(Date.now() / 1000),
          message: '',
          order_id: orderIdNamed,
          refund_no: atDouyin.refundId,
        });
        const timestamp = String(Math.floor(Date.now() / 1000));
        const nonce = randomBytes(4).toString('hex');
        const body = JSON.stringify({
          timestamp,
          nonce,
          msg,
          type: 'refund',
          msg_signature: callbackSignature(keys.token, timestamp, nonce, msg),
        });
        return { body, headers: {} };
      };
      const deliver = async (message: { body: string; headers: Record<string, string> }) => {
        const answer = await h.api
          .post(NOTIFY[system])
          .set({ 'content-type': 'application/json', ...message.headers })
          .send(message.body);
        expect({ status: answer.status, body: answer.body }).toEqual({
          status: 200,
          body: { err_no: 0, err_tips: 'success' },
        });
      };

      // Douyin's number of another paid order, in a success and in a failure; our number of another bill.
      await deliver(refunded('SUCCESS', other.orderId));
      await deliver(refunded('FAIL', other.orderId));
      await deliver(refunded('SUCCESS', orderId, other.billNo));
      // A bill number that is no number at all names no bill of ours either.
      await deliver(refunded('SUCCESS', { order_id: orderId }));
      expect(await refundOf(order.orderNo, refundNo)).toMatchObject({ status: 'pending' });
      const { rows } = await h.services.database.query<{ transaction_type: string; reason: string }>(
        'SELECT transaction_type, reason FROM unmatched_gateway_messages WHERE transaction_id = $1 ORDER BY id',
        [refundNo],
      );
      expect(rows).toEqual([
        { transaction_type: 'REFUND', reason: expect.stringContaining(`"${other.orderId}"`) },
        { transaction_type: 'REFUND_FAILED', reason: expect.stringContaining(`"${other.orderId}"`) },
      ]);
      expect(rows[0].reason).toContain(billNo);
      // The third is kept as the first was (one row per kind, refund and amount), and logged apart.
      expect(
        logLines(written)
          .filter(
            (line) => line.msg === 'a refund message names another bill than the refund’s: not applied, needs review',
          )
          .filter((line) => line.refundNo === refundNo)
          .map((line) => [line.messageBillNo, line.messageBillTradeNo]),
      ).toEqual([
        [undefined, other.orderId],
        [undefined, other.orderId],
        [other.billNo, orderId],
        [undefined, JSON.stringify({ order_id: orderId })],
      ]);

      // The true callback, naming the refund's own bill, is not taken for a copy of those kept.
      await deliver(refunded('SUCCESS', orderId, system === 'trade' ? undefined : billNo));
      expect(await refundOf(order.orderNo, refundNo)).toMatchObject({ status: 'succeeded' });
    });

    it('should answer 404 for an unknown refund, 400 for a bad body, and release holds', async () => {
      const unknown = await h.sandbox.post('/sandbox/douyin/refunds/NO-SUCH/settle').send({ result: 'failed' });
      expect({ status: unknown.status, code: unknown.body.error?.code }).toEqual({
        status: 404,
        code: 'NO_SUCH_REFUND',
      });
      const bad = await h.sandbox.post('/sandbox/douyin/refunds/NO-SUCH/settle').send({ result: 'closed' });
      expect(bad.status).toBe(400);
      await h.sandbox.post('/sandbox/douyin/refunds/hold').send({ count: 3 }).expect(201);
      expect((await h.sandbox.delete('/sandbox/douyin/refunds/hold').expect(200)).body).toEqual({ released: 3 });
      // Holds pile up to 10,000 pending in all, however many requests ask.
      for (const count of [10_000, 10_000]) {
        await h.sandbox.post('/sandbox/douyin/refunds/hold').send({ count }).expect(201);
      }
      expect((await h.sandbox.delete('/sandbox/douyin/refunds/hold').expect(200)).body).toEqual({ released: 10_000 });
    });
  });
});
