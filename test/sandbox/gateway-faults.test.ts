import { performance } from 'node:perf_hooks';
import type { Response } from 'supertest';
import type { Sandbox } from '../../server/sandbox';
import {
  api,
  getWithPara,
  makeSandbox,
  MASTER_SECRET,
  newBillNo,
  openBill,
  signed,
  TEST_SECRET,
  waitFor,
} from './helpers';

// 20:00 UTC on 15 January is already 16 January in China, where the gateway runs.
const CLOCK = Date.UTC(2025, 0, 15, 20, 0, 0);
const TODAY = '20250116';
/** Longer than any test: an answer held this long only arrives because close() released it. */
const FOREVER_MS = 600_000;
/** Timer slack allowed below a delay; there is never an upper bound on elapsed time. */
const SLACK_MS = 20;

let serial = 0;
const nextRefundNo = () => `${TODAY}F${String((serial += 1)).padStart(5, '0')}`;

/** A request left running in the background, with whether its answer has arrived. */
interface Pending {
  done: () => boolean;
  response: Promise<Response>;
}

function inBackground(request: PromiseLike<Response>): Pending {
  let arrived = false;
  const response = Promise.resolve(request).then((res) => {
    arrived = true;
    return res;
  });
  return { done: () => arrived, response };
}

async function timed(request: PromiseLike<Response>): Promise<{ res: Response; elapsed: number }> {
  const started = performance.now();
  const res = await request;
  return { res, elapsed: performance.now() - started };
}

describe('gateway faults: slow and hung answers', () => {
  let sandbox: Sandbox;
  let lines: string[];
  beforeEach(() => {
    lines = [];
    sandbox = makeSandbox({ now: () => CLOCK, log: (line) => lines.push(line) });
  });
  afterEach(() => sandbox.close());

  const fault = (body: unknown) =>
    api(sandbox)
      .post('/sandbox/gateway/faults')
      .send(body as object);
  const clearFaults = () => api(sandbox).delete('/sandbox/gateway/faults');
  const billRequest = (billNo = newBillNo()) =>
    api(sandbox)
      .post('/2/rest/bill')
      .send(signed({ channel: 'WX_MINI', total_fee: 100, title: 'Coffee', openid: 'oX', bill_no: billNo }));
  const refundRequest = (billNo: string, refundNo = nextRefundNo(), refundFee = 10) =>
    api(sandbox)
      .post('/2/rest/refund')
      .send(signed({ refund_no: refundNo, bill_no: billNo, refund_fee: refundFee }, MASTER_SECRET));
  async function paidBill(totalFee = 100) {
    const { billNo, answer } = await openBill(sandbox, { total_fee: totalFee });
    await api(sandbox).post(`/sandbox/bills/${billNo}/settle`).send({ result: 'paid', notify: false });
    return { billNo, id: answer.id };
  }
  const heldCount = () => lines.filter((line) => line.includes('answer held')).length;

  it('should answer 201 with the fault as stored', async () => {
    const delayOnly = await fault({ delay_ms: 250 });
    expect(delayOnly.status).toBe(201);
    expect(delayOnly.body).toEqual({ fault: { operation: 'any', count: 1, delay_ms: 250 } });
    const both = await fault({ result_code: 7, delay_ms: 10, operation: 'refund', count: 3 });
    expect(both.status).toBe(201);
    expect(both.body).toEqual({
      fault: {
        operation: 'refund',
        count: 3,
        result_code: 7,
        err_detail: 'channel error injected by the sandbox',
        delay_ms: 10,
      },
    });
    const refusal = await fault({ result_code: 14, err_detail: 'upstream down' });
    expect(refusal.body).toEqual({
      fault: { operation: 'any', count: 1, result_code: 14, err_detail: 'upstream down' },
    });
  });

  it('should delay exactly count answers of the named operation, not the others', async () => {
    await fault({ delay_ms: 200, operation: 'refund', count: 2 });
    // Bills, settling and queries do not take a refund fault: the two refunds below still find it.
    const { billNo } = await paidBill();
    expect((await getWithPara(sandbox, '/2/rest/bills', signed({ bill_no: billNo }))).body.result_code).toBe(0);
    for (let i = 0; i < 2; i += 1) {
      const { res, elapsed } = await timed(refundRequest(billNo));
      expect(res.body.result_code).toBe(0);
      expect(elapsed).toBeGreaterThanOrEqual(200 - SLACK_MS);
    }
    // Both calls used the fault up.
    expect((await clearFaults()).body).toEqual({ cleared: 0 });
    expect(heldCount()).toBe(2);
    expect((await refundRequest(billNo)).body.result_code).toBe(0);
    expect(heldCount()).toBe(2);
  });

  it('should delay every GET of the REST API under operation query', async () => {
    const { billNo, id } = await paidBill();
    const refundNo = nextRefundNo();
    const made = await refundRequest(billNo, refundNo);
    await fault({ delay_ms: 150, operation: 'query', count: 8 });
    const gets = [
      getWithPara(sandbox, '/2/rest/bills', signed({})),
      getWithPara(sandbox, '/2/rest/bills/count', signed({})),
      getWithPara(sandbox, `/2/rest/bill/${id}`, signed({})),
      getWithPara(sandbox, '/2/rest/sandbox/bills', signed({}, TEST_SECRET)),
      getWithPara(sandbox, '/2/rest/refunds', signed({})),
      getWithPara(sandbox, '/2/rest/refunds/count', signed({})),
      getWithPara(sandbox, `/2/rest/refund/${made.body.id}`, signed({})),
      getWithPara(sandbox, '/2/rest/refund/status', signed({ channel: 'WX', refund_no: refundNo })),
    ];
    for (const get of gets) {
      const { res, elapsed } = await timed(get);
      expect(res.body.result_code).toBe(0);
      expect(elapsed).toBeGreaterThanOrEqual(150 - SLACK_MS);
    }
    expect((await clearFaults()).body).toEqual({ cleared: 0 });
  });

  it('should carry out a delayed bill before its answer: a second request finds it', async () => {
    await fault({ delay_ms: FOREVER_MS, operation: 'bill' });
    const billNo = newBillNo();
    const held = inBackground(billRequest(billNo));

    await waitFor(
      async () => (await getWithPara(sandbox, '/2/rest/bills', signed({ bill_no: billNo }))).body.bills.length === 1,
      3000,
      'the held bill to exist at the gateway',
    );
    const found = (await getWithPara(sandbox, '/2/rest/bills', signed({ bill_no: billNo }))).body.bills[0];
    const byId = await getWithPara(sandbox, `/2/rest/bill/${found.id}`, signed({}));
    expect(byId.body).toMatchObject({ result_code: 0, pay: { bill_no: billNo } });
    // A client that gave up and retries the same bill_no learns it was taken.
    const retried = await billRequest(billNo);
    expect(retried.body.result_code).toBe(5);
    expect(retried.body.err_detail).toContain('duplicate bill_no');
    expect(held.done()).toBe(false);

    await sandbox.close();
    const res = await held.response;
    expect(res.body).toMatchObject({ result_code: 0, id: found.id });
  }, 10_000);

  it('should carry out delayed refunds and hold their answers while other calls answer', async () => {
    await fault({ delay_ms: FOREVER_MS, operation: 'refund', count: 2 });
    const bills = [await paidBill(), await paidBill(), await paidBill()];
    const refundNos = [nextRefundNo(), nextRefundNo()];

    const held: Pending[] = [];
    for (const [i, refundNo] of refundNos.entries()) {
      held.push(inBackground(refundRequest(bills[i].billNo, refundNo)));
      await waitFor(
        async () =>
          (await getWithPara(sandbox, '/2/rest/refunds', signed({ refund_no: refundNo }))).body.refunds?.length === 1,
        3000,
        `held refund ${refundNo} to exist at the gateway`,
      );
    }
    // The third refund, a new bill and a query answer while the first two are held.
    expect((await refundRequest(bills[2].billNo)).body.result_code).toBe(0);
    expect((await billRequest()).body.result_code).toBe(0);
    const listed = await getWithPara(sandbox, '/2/rest/refunds/count', signed({}));
    expect(listed.body).toMatchObject({ result_code: 0, count: 3 });
    expect(held.map((pending) => pending.done())).toEqual([false, false]);

    await sandbox.close();
    const answers = await Promise.all(held.map((pending) => pending.response));
    for (const [i, res] of answers.entries()) {
      expect(res.body.result_code).toBe(0);
      const refund = await getWithPara(sandbox, '/2/rest/refunds', signed({ refund_no: refundNos[i] }));
      expect(res.body.id).toBe(refund.body.refunds[0].id);
    }
  }, 10_000);

  it('should answer a result_code fault with a delay late, and carry nothing out', async () => {
    await fault({ result_code: 7, delay_ms: 200, operation: 'bill' });
    const billNo = newBillNo();
    const { res, elapsed } = await timed(billRequest(billNo));
    expect(res.body).toMatchObject({ result_code: 7, result_msg: 'CHANNEL_ERROR' });
    expect(elapsed).toBeGreaterThanOrEqual(200 - SLACK_MS);
    expect((await api(sandbox).get(`/sandbox/bills?bill_no=${billNo}`)).body.bills).toEqual([]);
    // As with an immediate refusal, the channel was asked: the bill_no is spent.
    expect((await billRequest(billNo)).body.result_code).toBe(5);

    const { billNo: paid } = await paidBill();
    const refundNo = nextRefundNo();
    await fault({ result_code: 14, delay_ms: 150, operation: 'refund', err_detail: 'refund service down' });
    const refused = await timed(refundRequest(paid, refundNo));
    expect(refused.res.body).toMatchObject({ result_code: 14, err_detail: 'refund service down' });
    expect(refused.elapsed).toBeGreaterThanOrEqual(150 - SLACK_MS);
    expect((await api(sandbox).get(`/sandbox/refunds?bill_no=${paid}`)).body.refunds).toEqual([]);
  });

  it('should carry out a bill, then answer an http_status fault with an error page', async () => {
    const stored = await fault({ http_status: 500, operation: 'bill' });
    expect(stored.status).toBe(201);
    expect(stored.body).toEqual({ fault: { operation: 'bill', count: 1, http_status: 500 } });
    const billNo = newBillNo();
    const res = await billRequest(billNo);
    expect(res.status).toBe(500);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain('500 Internal Server Error');
    // The bill exists all the same: a query finds it, and its bill_no is spent.
    const found = await getWithPara(sandbox, '/2/rest/bills', signed({ bill_no: billNo }));
    expect(found.body.bills).toEqual([expect.objectContaining({ bill_no: billNo, spay_result: false })]);
    expect((await billRequest(billNo)).body.result_code).toBe(5);
    expect((await billRequest()).status).toBe(200);
  });

  it('should answer an http_status fault with a delay late, after the refund is made', async () => {
    const { billNo } = await paidBill();
    await fault({ http_status: 504, delay_ms: 150, operation: 'refund' });
    const refundNo = nextRefundNo();
    const { res, elapsed } = await timed(refundRequest(billNo, refundNo));
    expect(res.status).toBe(504);
    expect(elapsed).toBeGreaterThanOrEqual(150 - SLACK_MS);
    const refunds = (await api(sandbox).get(`/sandbox/refunds?bill_no=${billNo}`)).body.refunds;
    expect(refunds).toEqual([expect.objectContaining({ refund_no: refundNo, status: 'succeeded' })]);
  });

  it('should release every held answer at once when the sandbox closes', async () => {
    await fault({ delay_ms: FOREVER_MS, operation: 'any', count: 2 });
    const held = inBackground(getWithPara(sandbox, '/2/rest/bills/count', signed({})));
    await waitFor(() => heldCount() === 1, 3000, 'the answer to be held');
    expect(held.done()).toBe(false);
    await sandbox.close();
    expect((await held.response).body).toMatchObject({ result_code: 0, count: 0 });
    // After close, a call meeting the rest of the fault is not held either.
    expect((await getWithPara(sandbox, '/2/rest/bills/count', signed({}))).body.result_code).toBe(0);
  }, 10_000);

  it('should clear every pending fault on DELETE and answer how many there were', async () => {
    await fault({ result_code: 14, operation: 'bill' });
    await fault({ delay_ms: FOREVER_MS, operation: 'query', count: 5 });
    await fault({ result_code: 7, delay_ms: 100 });
    const cleared = await clearFaults();
    expect(cleared.status).toBe(200);
    expect(cleared.body).toEqual({ cleared: 3 });
    expect((await billRequest()).body.result_code).toBe(0);
    expect((await getWithPara(sandbox, '/2/rest/bills/count', signed({}))).body).toMatchObject({
      result_code: 0,
      count: 1,
    });
    expect(heldCount()).toBe(0);
    expect((await clearFaults()).body).toEqual({ cleared: 0 });
  }, 10_000);

  it('should answer 400 for a bad fault body and store nothing', async () => {
    for (const body of [
      {},
      { count: 2 },
      { delay_ms: 0 },
      { delay_ms: 600_001 },
      { delay_ms: 1.5 },
      { delay_ms: '100' },
      { delay_ms: 100, operation: 'pay' },
      { delay_ms: 100, count: 0 },
      { delay_ms: 100, err_detail: 'no result_code to explain' },
      { result_code: 1 },
      { result_code: 14, delay_ms: -5 },
      { delay_ms: 100, extra: true },
      { http_status: 501 },
      { http_status: '500' },
      { http_status: 500, result_code: 14 },
    ]) {
      const res = await fault(body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('BAD_REQUEST');
      expect(typeof res.body.error.message).toBe('string');
    }
    const badJson = await api(sandbox)
      .post('/sandbox/gateway/faults')
      .set('Content-Type', 'application/json')
      .send('{"delay_ms":');
    expect(badJson.status).toBe(400);
    expect((await clearFaults()).body).toEqual({ cleared: 0 });
  });
});
