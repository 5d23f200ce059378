import type { Sandbox } from '../../server/sandbox';
import {
  api,
  APP_SECRET,
  getWithPara,
  makeSandbox,
  MASTER_SECRET,
  newBillNo,
  openBill,
  signed,
  TEST_SECRET,
} from './helpers';

describe('GET /2/rest/bills', () => {
  let sandbox: Sandbox;
  let clock: number;
  beforeEach(() => {
    clock = Date.UTC(2025, 0, 15, 4, 0, 0);
    sandbox = makeSandbox({ now: () => clock });
  });
  afterEach(() => sandbox.close());

  const query = (params: Record<string, unknown>, secret = APP_SECRET) =>
    getWithPara(sandbox, '/2/rest/bills', signed(params, secret));
  const settle = (billNo: string, result: string) =>
    api(sandbox).post(`/sandbox/bills/${billNo}/settle`).send({ result, notify: false });

  it('should list a bill with the documented fields, optional as a JSON string', async () => {
    const { billNo, answer } = await openBill(sandbox, { optional: { order: 'A1' }, total_fee: 250, title: 'Mocha' });
    const res = await query({ bill_no: billNo });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ result_code: 0, result_msg: 'OK', err_detail: '' });
    expect(res.body.bills).toEqual([
      {
        id: answer.id,
        bill_no: billNo,
        total_fee: 250,
        trade_no: '',
        channel: 'WX',
        sub_channel: 'WX_MINI',
        title: 'Mocha',
        spay_result: false,
        create_time: clock,
        optional: '{"order":"A1"}',
        revert_result: false,
        refund_result: false,
      },
    ]);
  });

  it('should show a paid bill with trade_no, success_time and, with need_detail, the channel detail', async () => {
    const { billNo } = await openBill(sandbox);
    clock += 30_000;
    await settle(billNo, 'paid');
    const plain = await query({ bill_no: billNo });
    const [bill] = plain.body.bills;
    expect(bill).toMatchObject({ spay_result: true, success_time: clock });
    expect(bill.trade_no).toMatch(/^\d{28}$/);
    expect(bill.message_detail).toBeUndefined();
    const detailed = await query({ bill_no: billNo, need_detail: true });
    const detail = JSON.parse(detailed.body.bills[0].message_detail);
    expect(detail).toMatchObject({
      out_trade_no: billNo,
      transaction_id: bill.trade_no,
      result_code: 'SUCCESS',
      trade_state: 'SUCCESS',
      total_fee: '100',
    });
  });

  it('should filter by spay_result, channel and time range, newest first, with skip and limit', async () => {
    const made: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      clock += 1000;
      made.push((await openBill(sandbox, i % 2 === 0 ? {} : { channel: 'ALI_APP', openid: undefined })).billNo);
    }
    await settle(made[0], 'paid');
    await settle(made[3], 'paid');

    const paid = await query({ spay_result: true });
    expect(paid.body.bills.map((b: { bill_no: string }) => b.bill_no)).toEqual([made[3], made[0]]);
    const unpaid = await query({ spay_result: false });
    expect(unpaid.body.bills.map((b: { bill_no: string }) => b.bill_no)).toEqual([made[2], made[1]]);

    const ali = await query({ channel: 'ALI' });
    expect(ali.body.bills.map((b: { bill_no: string }) => b.bill_no)).toEqual([made[3], made[1]]);
    const wxMini = await query({ channel: 'WX_MINI' });
    expect(wxMini.body.bills.map((b: { bill_no: string }) => b.bill_no)).toEqual([made[2], made[0]]);

    const start = clock - 2000;
    const ranged = await query({ start_time: start, end_time: clock - 1000 });
    expect(ranged.body.bills.map((b: { bill_no: string }) => b.bill_no)).toEqual([made[2], made[1]]);

    const page = await query({ skip: 1, limit: 2 });
    expect(page.body.bills.map((b: { bill_no: string }) => b.bill_no)).toEqual([made[2], made[1]]);
  });

  it('should count an open bill past its bill_timeout as closed (never paid)', async () => {
    const { billNo } = await openBill(sandbox, { bill_timeout: 360 });
    clock += 361_000;
    const res = await query({ bill_no: billNo });
    expect(res.body.bills[0].spay_result).toBe(false);
    const control = await api(sandbox).get(`/sandbox/bills?bill_no=${billNo}`);
    expect(control.body.bills[0].status).toBe('closed');
  });

  it('should answer 5 PARAM_INVALID for a limit over 50', async () => {
    const res = await query({ limit: 51 });
    expect(res.body).toMatchObject({ result_code: 5, result_msg: 'PARAM_INVALID' });
    expect(res.body.err_detail).toContain('limit');
    expect((await query({ limit: 50 })).body.result_code).toBe(0);
  });

  it('should answer 5 for a spay_result that is not a boolean and 3 for an unknown channel', async () => {
    expect((await query({ spay_result: 'yes' })).body.result_code).toBe(5);
    expect((await query({ channel: 'MAGIC' })).body.result_code).toBe(3);
  });

  it('should answer 4 MISS_PARAM without para and 5 PARAM_INVALID for para that is not JSON', async () => {
    const missing = await api(sandbox).get('/2/rest/bills');
    expect(missing.status).toBe(200);
    expect(missing.body).toMatchObject({ result_code: 4, result_msg: 'MISS_PARAM' });
    expect(missing.body.err_detail).toContain('para');
    const broken = await api(sandbox).get(`/2/rest/bills?para=${encodeURIComponent('{"app_id":')}`);
    expect(broken.status).toBe(200);
    expect(broken.body).toMatchObject({ result_code: 5, result_msg: 'PARAM_INVALID' });
    expect(broken.body.err_detail).toMatch(/para is not valid JSON/);
    const notObject = await api(sandbox).get(`/2/rest/bills?para=${encodeURIComponent('"x"')}`);
    expect(notObject.body.result_code).toBe(5);
  });

  it('should check app_sign: app_secret on the live path, test_secret on the sandbox path', async () => {
    expect((await query({}, TEST_SECRET)).body.result_code).toBe(1);
    expect((await query({}, MASTER_SECRET)).body.result_code).toBe(1);
    const sandboxPath = (secret: string) => getWithPara(sandbox, '/2/rest/sandbox/bills', signed({}, secret));
    expect((await sandboxPath(APP_SECRET)).body.result_code).toBe(1);
    expect((await sandboxPath(TEST_SECRET)).body.result_code).toBe(0);
  });

  it('should keep test-mode bills apart from live bills', async () => {
    const live = await openBill(sandbox);
    const testBillNo = newBillNo();
    const made = await api(sandbox)
      .post('/2/rest/sandbox/bill')
      .send(signed({ channel: 'WX_MINI', total_fee: 1, bill_no: testBillNo, title: 'T', openid: 'oX' }, TEST_SECRET));
    expect(made.body.result_code).toBe(0);
    const liveList = await query({});
    expect(liveList.body.bills.map((b: { bill_no: string }) => b.bill_no)).toEqual([live.billNo]);
    const testList = await getWithPara(sandbox, '/2/rest/sandbox/bills', signed({}, TEST_SECRET));
    expect(testList.body.bills.map((b: { bill_no: string }) => b.bill_no)).toEqual([testBillNo]);
  });
});

describe('GET /2/rest/bills/count', () => {
  let sandbox: Sandbox;
  beforeEach(() => {
    sandbox = makeSandbox();
  });
  afterEach(() => sandbox.close());

  it('should count the bills matching the filters, ignoring skip and limit', async () => {
    const a = await openBill(sandbox);
    await openBill(sandbox);
    await openBill(sandbox);
    await api(sandbox).post(`/sandbox/bills/${a.billNo}/settle`).send({ result: 'paid', notify: false });
    const all = await getWithPara(sandbox, '/2/rest/bills/count', signed({}));
    expect(all.body).toMatchObject({ result_code: 0, count: 3 });
    const paid = await getWithPara(sandbox, '/2/rest/bills/count', signed({ spay_result: true }));
    expect(paid.body.count).toBe(1);
    const one = await getWithPara(sandbox, '/2/rest/bills/count', signed({ bill_no: a.billNo }));
    expect(one.body.count).toBe(1);
  });

  it('should check app_sign on /2/rest/sandbox/bills/count with the test_secret', async () => {
    const wrong = await getWithPara(sandbox, '/2/rest/sandbox/bills/count', signed({}, APP_SECRET));
    expect(wrong.body.result_code).toBe(1);
    const right = await getWithPara(sandbox, '/2/rest/sandbox/bills/count', signed({}, TEST_SECRET));
    expect(right.body).toMatchObject({ result_code: 0, count: 0 });
  });

  it('should answer 14 RUNTIME_ERROR when a query fault is injected', async () => {
    await api(sandbox).post('/sandbox/gateway/faults').send({ result_code: 14, operation: 'query' });
    const res = await getWithPara(sandbox, '/2/rest/bills/count', signed({}));
    expect(res.body).toMatchObject({ result_code: 14, result_msg: 'RUNTIME_ERROR' });
    expect((await getWithPara(sandbox, '/2/rest/bills/count', signed({}))).body.result_code).toBe(0);
  });
});

describe('GET /2/rest/bill/{id}', () => {
  let sandbox: Sandbox;
  beforeEach(() => {
    sandbox = makeSandbox();
  });
  afterEach(() => sandbox.close());

  it('should answer {pay: …} for the gateway id returned by the bill', async () => {
    const { billNo, answer } = await openBill(sandbox, { total_fee: 42 });
    const res = await getWithPara(sandbox, `/2/rest/bill/${answer.id}`, signed({}));
    expect(res.body).toMatchObject({
      result_code: 0,
      pay: { id: answer.id, bill_no: billNo, total_fee: 42, spay_result: false, channel: 'WX', sub_channel: 'WX_MINI' },
    });
    expect(typeof res.body.pay.message_detail).toBe('string');
  });

  it('should answer 8 NO_SUCH_BILL for an unknown id and 1 for a bad signature', async () => {
    const unknown = await getWithPara(sandbox, '/2/rest/bill/00000000-0000-0000-0000-000000000000', signed({}));
    expect(unknown.body).toMatchObject({ result_code: 8, result_msg: 'NO_SUCH_BILL' });
    const { answer } = await openBill(sandbox);
    const badSign = await getWithPara(sandbox, `/2/rest/bill/${answer.id}`, signed({}, MASTER_SECRET));
    expect(badSign.body.result_code).toBe(1);
    expect(badSign.body.pay).toBeUndefined();
  });

  it('should answer 5 for a malformed para', async () => {
    const { answer } = await openBill(sandbox);
    const res = await api(sandbox).get(`/2/rest/bill/${answer.id}?para=not-json`);
    expect(res.body.result_code).toBe(5);
  });
});

describe('unknown gateway paths', () => {
  it('should answer JSON, never HTML, so a client can parse it', async () => {
    const sandbox = makeSandbox();
    const res = await api(sandbox).post('/2/rest/transfer').send({});
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ result_code: 14 });
    await sandbox.close();
  });
});
