import type { Sandbox } from '../../server/sandbox';
import {
  api,
  APP_ID,
  getWithPara,
  makeSandbox,
  MASTER_SECRET,
  md5,
  openBill,
  signed,
  sleep,
  startReceiver,
  waitFor,
  type Receiver,
} from './helpers';

// 20:00 UTC on 15 January is already 16 January in China, where the gateway runs.
const CLOCK = Date.UTC(2025, 0, 15, 20, 0, 0);
const TODAY = '20250116';
/** At the test time scale (0.001) retries would come 2, 4, 8, … 256 ms after the first attempt. */
const QUIET_MS = 300;

interface Delivery {
  transaction_type: string;
  transaction_id: string;
  attempt: number;
  ok: boolean;
  body: string;
}

let serial = 0;
const nextRefundNo = () => `${TODAY}S${String((serial += 1)).padStart(5, '0')}`;

function harness(getSandbox: () => Sandbox) {
  const refund = (params: Record<string, unknown>) =>
    api(getSandbox()).post('/2/rest/refund').send(signed(params, MASTER_SECRET));
  return {
    refund,
    async paidBill(input: Parameters<typeof openBill>[1] = {}) {
      const { billNo } = await openBill(getSandbox(), input);
      await api(getSandbox()).post(`/sandbox/bills/${billNo}/settle`).send({ result: 'paid', notify: false });
      return billNo;
    },
    async refundOk(billNo: string, refundFee: number, extra: Record<string, unknown> = {}) {
      const refundNo = nextRefundNo();
      const res = await refund({ refund_no: refundNo, bill_no: billNo, refund_fee: refundFee, ...extra });
      expect(res.body).toMatchObject({ result_code: 0 });
      return { refundNo, id: res.body.id as string };
    },
    hold: (body: unknown = {}) =>
      api(getSandbox())
        .post('/sandbox/refunds/hold')
        .send(body as object),
    settle: (refundNo: string, body: unknown) =>
      api(getSandbox())
        .post(`/sandbox/refunds/${refundNo}/settle`)
        .send(body as object),
    async status(refundNo: string, channel = 'WX') {
      return (await getWithPara(getSandbox(), '/2/rest/refund/status', signed({ channel, refund_no: refundNo }))).body;
    },
    async listed(refundNo: string) {
      const res = await api(getSandbox()).get('/sandbox/refunds');
      return (res.body.refunds as Array<Record<string, unknown>>).find((r) => r.refund_no === refundNo);
    },
    async deliveries(refundNo: string): Promise<Delivery[]> {
      const res = await api(getSandbox()).get(`/sandbox/refunds/${refundNo}/deliveries`);
      expect(res.status).toBe(200);
      return res.body.deliveries as Delivery[];
    },
    async queried(refundNo: string, id: string) {
      const list = await getWithPara(
        getSandbox(),
        '/2/rest/refunds',
        signed({ refund_no: refundNo, need_detail: true }),
      );
      const byId = await getWithPara(getSandbox(), `/2/rest/refund/${id}`, signed({}));
      expect(list.body.result_code).toBe(0);
      expect(byId.body.result_code).toBe(0);
      return { listed: list.body.refunds[0], byId: byId.body.refund };
    },
  };
}

describe('refund states on a WX bill (no refund callback: refund/status tells)', () => {
  let sandbox: Sandbox;
  let receiver: Receiver;
  let clock: number;
  const h = harness(() => sandbox);
  beforeEach(async () => {
    clock = CLOCK;
    sandbox = makeSandbox({ now: () => clock });
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await sandbox.close();
    await receiver.close();
  });

  it('should succeed a refund at once by default and list it under /sandbox/refunds', async () => {
    const billNo = await h.paidBill({ total_fee: 300, notify_url: receiver.url });
    const { refundNo, id } = await h.refundOk(billNo, 120);
    const res = await api(sandbox).get(`/sandbox/refunds?bill_no=${billNo}`);
    expect(res.status).toBe(200);
    expect(res.body.refunds).toEqual([
      {
        refund_no: refundNo,
        bill_no: billNo,
        refund_fee: 120,
        status: 'succeeded',
        channel: 'WX_MINI',
        created_at: CLOCK,
        finished_at: CLOCK,
        deliveries: 0,
      },
    ]);
    expect((await api(sandbox).get('/sandbox/refunds?bill_no=OTHERBILL01')).body.refunds).toEqual([]);
    const { listed, byId } = await h.queried(refundNo, id);
    expect(listed).toMatchObject({ finish: true, result: true });
    expect(byId).toMatchObject({ finish: true, result: true });
    expect(await h.status(refundNo)).toMatchObject({ result_code: 0, refund_status: 'SUCCESS' });
  });

  it('should keep a held refund processing (PROCESSING), then SUCCESS once settled, with no webhook', async () => {
    const billNo = await h.paidBill({ total_fee: 500, notify_url: receiver.url });
    const held = await h.hold();
    expect(held.status).toBe(201);
    expect(held.body).toEqual({ hold: { count: 1, pending: 1 } });
    const { refundNo, id } = await h.refundOk(billNo, 200, { notify_url: receiver.url });

    expect(await h.listed(refundNo)).toMatchObject({ status: 'processing', finished_at: null });
    expect(await h.status(refundNo)).toMatchObject({ result_code: 0, refund_status: 'PROCESSING' });
    const before = await h.queried(refundNo, id);
    expect(before.listed).toMatchObject({ finish: false, result: false, message_detail: '' });
    expect(before.byId).toMatchObject({ finish: false, result: false });
    const count = await getWithPara(sandbox, '/2/rest/refunds/count', signed({ bill_no: billNo }));
    expect(count.body).toMatchObject({ result_code: 0, count: 1 });
    // Nothing has gone back to the payer yet.
    const bill = await getWithPara(sandbox, '/2/rest/bills', signed({ bill_no: billNo }));
    expect(bill.body.bills[0].refund_result).toBe(false);
    expect((await api(sandbox).get(`/sandbox/bills?bill_no=${billNo}`)).body.bills[0].refunded_fee).toBe(0);

    clock += 60_000;
    const settled = await h.settle(refundNo, { result: 'succeeded' });
    expect(settled.status).toBe(200);
    expect(settled.body).toEqual({
      refund: expect.objectContaining({ refund_no: refundNo, status: 'succeeded', finished_at: clock }),
      notifying: false,
    });
    expect(await h.status(refundNo)).toMatchObject({ result_code: 0, refund_status: 'SUCCESS' });
    const after = await h.queried(refundNo, id);
    expect(after.listed).toMatchObject({ finish: true, result: true });
    expect(after.byId).toMatchObject({ finish: true, result: true });
    expect(JSON.parse(after.byId.message_detail)).toMatchObject({ refund_status: 'SUCCESS', out_refund_no: refundNo });
    expect((await getWithPara(sandbox, '/2/rest/bills', signed({ bill_no: billNo }))).body.bills[0].refund_result).toBe(
      true,
    );
    expect((await api(sandbox).get(`/sandbox/bills?bill_no=${billNo}`)).body.bills[0].refunded_fee).toBe(200);

    await sleep(QUIET_MS);
    expect(receiver.hits).toHaveLength(0);
    expect(await h.deliveries(refundNo)).toEqual([]);
  });

  it.each([
    ['REFUNDCLOSE', {}],
    ['REFUNDCLOSE', { refund_status: 'REFUNDCLOSE' }],
    ['CHANGE', { refund_status: 'CHANGE' }],
  ])('should report %s for a held refund settled failed (%j), with no webhook', async (expected, extra) => {
    const billNo = await h.paidBill({ total_fee: 500, notify_url: receiver.url });
    await h.hold();
    const { refundNo, id } = await h.refundOk(billNo, 200);
    expect(await h.status(refundNo)).toMatchObject({ refund_status: 'PROCESSING' });
    const settled = await h.settle(refundNo, { result: 'failed', ...extra });
    expect(settled.status).toBe(200);
    expect(settled.body).toMatchObject({ refund: { status: 'failed', finished_at: CLOCK }, notifying: false });
    expect(await h.status(refundNo)).toMatchObject({ result_code: 0, refund_status: expected });
    const { listed, byId } = await h.queried(refundNo, id);
    expect(listed).toMatchObject({ finish: true, result: false });
    expect(byId).toMatchObject({ finish: true, result: false });
    expect(JSON.parse(listed.message_detail)).toMatchObject({ refund_status: expected, out_refund_no: refundNo });
    expect((await getWithPara(sandbox, '/2/rest/bills', signed({ bill_no: billNo }))).body.bills[0].refund_result).toBe(
      false,
    );
    await sleep(QUIET_MS);
    expect(receiver.hits).toHaveLength(0);
  });

  it('should refuse a second refund with 11 ALREADY_REFUNDING while one is processing', async () => {
    const billNo = await h.paidBill({ total_fee: 100 });
    const otherBillNo = await h.paidBill({ total_fee: 100 });
    await h.hold();
    const first = await h.refundOk(billNo, 30);
    const secondNo = nextRefundNo();
    const refused = await h.refund({ refund_no: secondNo, bill_no: billNo, refund_fee: 10 });
    expect(refused.body).toMatchObject({ result_code: 11, result_msg: 'ALREADY_REFUNDING' });
    expect(refused.body.err_detail).toContain(first.refundNo);
    expect(await h.listed(secondNo)).toBeUndefined();
    // Another bill is not affected.
    await h.refundOk(otherBillNo, 10);

    await h.settle(first.refundNo, { result: 'succeeded' });
    const retried = await h.refund({ refund_no: secondNo, bill_no: billNo, refund_fee: 10 });
    expect(retried.body.result_code).toBe(0);
  });

  it('should give a failed refund its amount back: processing and succeeded refunds count, failed ones do not', async () => {
    const billNo = await h.paidBill({ total_fee: 100 });
    await h.refundOk(billNo, 30);
    await h.hold();
    const held = await h.refundOk(billNo, 70);
    await h.settle(held.refundNo, { result: 'failed' });

    const tooMuch = await h.refund({ refund_no: nextRefundNo(), bill_no: billNo, refund_fee: 71 });
    expect(tooMuch.body).toMatchObject({ result_code: 12, result_msg: 'REFUND_AMOUNT_TOO_LARGE' });
    expect(tooMuch.body.err_detail).toContain('70 of 100');
    await h.hold();
    const again = await h.refundOk(billNo, 70);
    await h.settle(again.refundNo, { result: 'succeeded' });
    expect((await h.refund({ refund_no: nextRefundNo(), bill_no: billNo, refund_fee: 1 })).body).toMatchObject({
      result_code: 12,
    });
    expect((await api(sandbox).get(`/sandbox/bills?bill_no=${billNo}`)).body.bills[0].refunded_fee).toBe(100);
  });

  it('should hold exactly count refunds, across bills', async () => {
    const bills = [await h.paidBill(), await h.paidBill(), await h.paidBill()];
    expect((await h.hold({ count: 2 })).body).toEqual({ hold: { count: 2, pending: 2 } });
    const made = [];
    for (const billNo of bills) made.push(await h.refundOk(billNo, 1));
    const statuses = await Promise.all(made.map(async ({ refundNo }) => (await h.listed(refundNo))?.status));
    expect(statuses).toEqual(['processing', 'processing', 'succeeded']);
  });

  it('should let DELETE /sandbox/refunds/hold release every hold still waiting', async () => {
    await h.hold({ count: 5 });
    expect((await api(sandbox).delete('/sandbox/refunds/hold').expect(200)).body).toEqual({ released: 5 });
    const { refundNo } = await h.refundOk(await h.paidBill(), 1);
    expect((await h.listed(refundNo))?.status).toBe('succeeded');
  });

  it('should not spend a hold on a refused refund', async () => {
    const billNo = await h.paidBill({ total_fee: 10 });
    await h.hold();
    expect((await h.refund({ refund_no: nextRefundNo(), bill_no: billNo, refund_fee: 11 })).body.result_code).toBe(12);
    const { refundNo } = await h.refundOk(billNo, 10);
    expect((await h.listed(refundNo))?.status).toBe('processing');
  });
});

describe('refund webhooks on an ALI bill', () => {
  let sandbox: Sandbox;
  let receiver: Receiver | undefined;
  const h = harness(() => sandbox);
  beforeEach(() => {
    sandbox = makeSandbox({ now: () => CLOCK });
  });
  afterEach(async () => {
    await sandbox.close();
    await receiver?.close();
    receiver = undefined;
  });

  const aliBill = (totalFee: number) =>
    h.paidBill({ channel: 'ALI_APP', openid: undefined, total_fee: totalFee, notify_url: receiver!.url });

  it('should deliver the REFUND webhook of an immediate refund, retried until the answer is success', async () => {
    receiver = await startReceiver((n) => (n <= 2 ? { body: 'fail' } : { body: 'success' }));
    const billNo = await aliBill(1050);
    const { refundNo } = await h.refundOk(billNo, 250, { optional: { why: 'spilt' } });
    await waitFor(() => receiver!.hits.length === 3, 3000, 'three attempts');
    for (const hit of receiver.hits) {
      expect(hit.body).toMatchObject({
        channel_type: 'ALI',
        sub_channel_type: 'ALI_APP',
        transaction_type: 'REFUND',
        transaction_id: refundNo,
        transaction_fee: 250,
        trade_success: true,
        optional: { why: 'spilt' },
        message_detail: {
          out_trade_no: billNo,
          out_biz_no: refundNo,
          refund_fee: '2.50',
          trade_status: 'TRADE_SUCCESS',
        },
      });
      expect(hit.body.signature).toBe(md5(`${APP_ID}${refundNo}REFUNDALI250${MASTER_SECRET}`));
    }
    await waitFor(async () => (await h.deliveries(refundNo)).length === 3, 1000, 'three records');
    await sleep(100); // the next retry would have come 8 ms after the first attempt
    expect(receiver.hits).toHaveLength(3);
    expect((await h.deliveries(refundNo)).map((d) => [d.transaction_type, d.attempt, d.ok, d.body])).toEqual([
      ['REFUND', 1, false, 'fail'],
      ['REFUND', 2, false, 'fail'],
      ['REFUND', 3, true, 'success'],
    ]);
    expect((await h.listed(refundNo))?.deliveries).toBe(3);
    // The bill's own list holds PAY attempts only (none here: it was settled with notify: false).
    expect((await api(sandbox).get(`/sandbox/bills/${billNo}/deliveries`)).body.deliveries).toEqual([]);
    expect((await api(sandbox).get(`/sandbox/bills?bill_no=${billNo}`)).body.bills[0].deliveries).toBe(0);
  });

  it('should send a held refund its REFUND webhook only once it is settled succeeded', async () => {
    receiver = await startReceiver();
    const billNo = await aliBill(500);
    await h.hold();
    const { refundNo } = await h.refundOk(billNo, 500);
    await sleep(QUIET_MS);
    expect(receiver.hits).toHaveLength(0);

    const settled = await h.settle(refundNo, { result: 'succeeded' });
    expect(settled.body).toMatchObject({ refund: { status: 'succeeded' }, notifying: true });
    await waitFor(() => receiver!.hits.length === 1, 3000, 'refund webhook');
    expect(receiver.hits[0].body).toMatchObject({
      transaction_type: 'REFUND',
      transaction_id: refundNo,
      transaction_fee: 500,
      trade_success: true,
    });
  });

  it('should send nothing for a held refund settled failed', async () => {
    receiver = await startReceiver();
    const billNo = await aliBill(500);
    await h.hold();
    const { refundNo, id } = await h.refundOk(billNo, 300);
    const settled = await h.settle(refundNo, { result: 'failed' });
    expect(settled.body).toMatchObject({ refund: { status: 'failed' }, notifying: false });
    await sleep(QUIET_MS);
    expect(receiver.hits).toHaveLength(0);
    expect(await h.deliveries(refundNo)).toEqual([]);
    const { byId } = await h.queried(refundNo, id);
    expect(byId).toMatchObject({ finish: true, result: false });
    expect(JSON.parse(byId.message_detail)).toMatchObject({ out_biz_no: refundNo, fund_change: 'N' });
  });

  it('should keep refund/status for the channels without a refund callback', async () => {
    receiver = await startReceiver();
    const billNo = await aliBill(500);
    const { refundNo } = await h.refundOk(billNo, 100);
    expect(await h.status(refundNo, 'ALI')).toMatchObject({ result_code: 5, result_msg: 'PARAM_INVALID' });
    expect(await h.status(refundNo, 'WX')).toMatchObject({ result_code: 13, result_msg: 'NO_SUCH_REFUND' });
  });
});

describe('refund control endpoints', () => {
  let sandbox: Sandbox;
  const h = harness(() => sandbox);
  beforeEach(() => {
    sandbox = makeSandbox({ now: () => CLOCK });
  });
  afterEach(() => sandbox.close());

  it('should answer 404 NO_SUCH_REFUND for an unknown refund', async () => {
    const settled = await h.settle(`${TODAY}NONE1`, { result: 'succeeded' });
    expect(settled.status).toBe(404);
    expect(settled.body).toEqual({ error: { code: 'NO_SUCH_REFUND', message: `no refund ${TODAY}NONE1` } });
    const deliveries = await api(sandbox).get(`/sandbox/refunds/${TODAY}NONE1/deliveries`);
    expect(deliveries.status).toBe(404);
    expect(deliveries.body.error.code).toBe('NO_SUCH_REFUND');
  });

  it('should answer 409 REFUND_FINISHED for a refund that is no longer processing', async () => {
    const billNo = await h.paidBill();
    const immediate = await h.refundOk(billNo, 10);
    const res = await h.settle(immediate.refundNo, { result: 'failed' });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('REFUND_FINISHED');
    expect(res.body.error.message).toContain('succeeded');

    await h.hold();
    const held = await h.refundOk(billNo, 10);
    expect((await h.settle(held.refundNo, { result: 'failed' })).status).toBe(200);
    const again = await h.settle(held.refundNo, { result: 'succeeded' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('REFUND_FINISHED');
    expect((await h.listed(held.refundNo))?.status).toBe('failed');
  });

  it('should answer 400 for a bad settle body and leave the refund processing', async () => {
    const billNo = await h.paidBill();
    await h.hold();
    const { refundNo } = await h.refundOk(billNo, 10);
    for (const body of [
      {},
      { result: 'paid' },
      { result: 'succeeded', refund_status: 'REFUNDCLOSE' },
      { result: 'failed', refund_status: 'CLOSED' },
      { result: 'failed', extra: 1 },
    ]) {
      const res = await h.settle(refundNo, body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('BAD_REQUEST');
    }
    const badJson = await api(sandbox)
      .post(`/sandbox/refunds/${refundNo}/settle`)
      .set('Content-Type', 'application/json')
      .send('{"result":');
    expect(badJson.status).toBe(400);
    expect((await h.listed(refundNo))?.status).toBe('processing');
  });

  it('should answer 400 for a bad hold body and hold nothing', async () => {
    for (const body of [{ count: 0 }, { count: -1 }, { count: 1.5 }, { count: '2' }, { times: 1 }, { count: 10_001 }]) {
      const res = await h.hold(body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('BAD_REQUEST');
    }
    const billNo = await h.paidBill();
    const { refundNo } = await h.refundOk(billNo, 10);
    expect((await h.listed(refundNo))?.status).toBe('succeeded');
  });
});
