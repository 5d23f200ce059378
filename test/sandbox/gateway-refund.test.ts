import type { Sandbox } from '../../server/sandbox';
import {
  api,
  APP_ID,
  APP_SECRET,
  chinaToday,
  getWithPara,
  makeSandbox,
  MASTER_SECRET,
  md5,
  newBillNo,
  openBill,
  signed,
  sleep,
  startReceiver,
  TEST_SECRET,
  waitFor,
  type Receiver,
} from './helpers';

// 20:00 UTC on 15 January is already 16 January in China, where the gateway runs.
const CLOCK = Date.UTC(2025, 0, 15, 20, 0, 0);
const TODAY = '20250116';

describe('POST /2/rest/refund', () => {
  let sandbox: Sandbox;
  let serial = 0;
  beforeEach(() => {
    sandbox = makeSandbox({ now: () => CLOCK });
  });
  afterEach(() => sandbox.close());

  const refundNo = () => `${TODAY}${String((serial += 1)).padStart(6, '0')}`;
  const refund = (params: Record<string, unknown>, secret = MASTER_SECRET) =>
    api(sandbox).post('/2/rest/refund').send(signed(params, secret));
  async function paidBill(totalFee = 100, extra: Record<string, unknown> = {}) {
    const { billNo } = await openBill(sandbox, { total_fee: totalFee, ...extra });
    await api(sandbox).post(`/sandbox/bills/${billNo}/settle`).send({ result: 'paid', notify: false });
    return billNo;
  }

  it('should compute China dates independently of the test helper', () => {
    expect(chinaToday(CLOCK)).toBe(TODAY);
  });

  it('should allow partial and repeated refunds up to the total, then answer 12 REFUND_AMOUNT_TOO_LARGE', async () => {
    const billNo = await paidBill(100);
    const first = await refund({ refund_no: refundNo(), bill_no: billNo, refund_fee: 30 });
    expect(first.body).toMatchObject({ result_code: 0, result_msg: 'OK', err_detail: '' });
    expect(first.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await refund({ refund_no: refundNo(), bill_no: billNo, refund_fee: 50 })).body.result_code).toBe(0);
    const tooMuch = await refund({ refund_no: refundNo(), bill_no: billNo, refund_fee: 21 });
    expect(tooMuch.body).toMatchObject({ result_code: 12, result_msg: 'REFUND_AMOUNT_TOO_LARGE' });
    expect(tooMuch.body.err_detail).toContain('20 of 100');
    expect((await refund({ refund_no: refundNo(), bill_no: billNo, refund_fee: 20 })).body.result_code).toBe(0);
    const bills = await getWithPara(sandbox, '/2/rest/bills', signed({ bill_no: billNo }));
    expect(bills.body.bills[0].refund_result).toBe(true);
  });

  it('should refuse a refund larger than the bill at once', async () => {
    const billNo = await paidBill(100);
    expect((await refund({ refund_no: refundNo(), bill_no: billNo, refund_fee: 101 })).body.result_code).toBe(12);
  });

  it('should answer 9 BILL_UNSUCCESS for a bill that is open, failed or closed', async () => {
    const open = (await openBill(sandbox)).billNo;
    expect((await refund({ refund_no: refundNo(), bill_no: open, refund_fee: 1 })).body).toMatchObject({
      result_code: 9,
      result_msg: 'BILL_UNSUCCESS',
    });
    for (const result of ['failed', 'closed']) {
      const { billNo } = await openBill(sandbox);
      await api(sandbox).post(`/sandbox/bills/${billNo}/settle`).send({ result, notify: false });
      expect((await refund({ refund_no: refundNo(), bill_no: billNo, refund_fee: 1 })).body.result_code).toBe(9);
    }
  });

  it('should answer 8 NO_SUCH_BILL for an unknown bill or a test-mode bill', async () => {
    const unknown = await refund({ refund_no: refundNo(), bill_no: 'NOSUCHBILL01', refund_fee: 1 });
    expect(unknown.body).toMatchObject({ result_code: 8, result_msg: 'NO_SUCH_BILL' });
    const testBillNo = newBillNo();
    await api(sandbox)
      .post('/2/rest/sandbox/bill')
      .send(signed({ channel: 'WX_MINI', total_fee: 1, bill_no: testBillNo, title: 'T', openid: 'oX' }, TEST_SECRET));
    await api(sandbox).post(`/sandbox/bills/${testBillNo}/settle`).send({ result: 'paid', notify: false });
    const testMode = await refund({ refund_no: refundNo(), bill_no: testBillNo, refund_fee: 1 });
    expect(testMode.body.result_code).toBe(8);
    expect(testMode.body.err_detail).toContain('test-mode');
  });

  it('should sign refunds with the master_secret, refusing the app_secret', async () => {
    const billNo = await paidBill();
    const withAppSecret = await refund({ refund_no: refundNo(), bill_no: billNo, refund_fee: 1 }, APP_SECRET);
    expect(withAppSecret.body).toMatchObject({ result_code: 1, result_msg: 'APP_INVALID' });
    expect(withAppSecret.body.err_detail).toContain('master_secret');
  });

  it.each([
    ['a date that is not today in China', () => `20250115${'001'}`],
    ['the serial 000', () => `${TODAY}000`],
    ['a serial of 2 characters', () => `${TODAY}01`],
    ['a serial of 25 characters', () => `${TODAY}${'1'.repeat(25)}`],
    ['a non-alphanumeric serial', () => `${TODAY}00_1`],
  ])('should answer 5 PARAM_INVALID for a refund_no with %s', async (_name, make) => {
    const billNo = await paidBill();
    const res = await refund({ refund_no: make(), bill_no: billNo, refund_fee: 1 });
    expect(res.body).toMatchObject({ result_code: 5, result_msg: 'PARAM_INVALID' });
  });

  it('should refuse a refund_no used before, and bad or missing refund_fee', async () => {
    const billNo = await paidBill();
    const no = refundNo();
    expect((await refund({ refund_no: no, bill_no: billNo, refund_fee: 1 })).body.result_code).toBe(0);
    const again = await refund({ refund_no: no, bill_no: billNo, refund_fee: 1 });
    expect(again.body.result_code).toBe(5);
    expect(again.body.err_detail).toContain(no);
    expect((await refund({ refund_no: refundNo(), bill_no: billNo, refund_fee: 0 })).body.result_code).toBe(5);
    expect((await refund({ refund_no: refundNo(), bill_no: billNo })).body.result_code).toBe(4);
  });
});

describe('GET /2/rest/refunds', () => {
  let sandbox: Sandbox;
  beforeEach(() => {
    sandbox = makeSandbox({ now: () => CLOCK });
  });
  afterEach(() => sandbox.close());

  it('should list, count and fetch refunds, signed with the app_secret', async () => {
    const { billNo } = await openBill(sandbox, { total_fee: 300, title: 'Cake' });
    await api(sandbox).post(`/sandbox/bills/${billNo}/settle`).send({ result: 'paid', notify: false });
    const made = await api(sandbox)
      .post('/2/rest/refund')
      .send(
        signed(
          { refund_no: `${TODAY}R01`, bill_no: billNo, refund_fee: 120, optional: { why: 'cold' } },
          MASTER_SECRET,
        ),
      );
    expect(made.body.result_code).toBe(0);

    const list = await getWithPara(sandbox, '/2/rest/refunds', signed({ bill_no: billNo }));
    expect(list.body).toMatchObject({ result_code: 0 });
    expect(list.body.refunds).toEqual([
      {
        id: made.body.id,
        bill_no: billNo,
        refund_no: `${TODAY}R01`,
        total_fee: 300,
        refund_fee: 120,
        title: 'Cake',
        channel: 'WX',
        sub_channel: 'WX_MINI',
        finish: true,
        result: true,
        optional: '{"why":"cold"}',
        create_time: CLOCK,
      },
    ]);
    const detailed = await getWithPara(
      sandbox,
      '/2/rest/refunds',
      signed({ refund_no: `${TODAY}R01`, need_detail: true }),
    );
    expect(JSON.parse(detailed.body.refunds[0].message_detail)).toMatchObject({
      out_trade_no: billNo,
      out_refund_no: `${TODAY}R01`,
      refund_fee: '120',
    });

    const count = await getWithPara(sandbox, '/2/rest/refunds/count', signed({ bill_no: billNo }));
    expect(count.body).toMatchObject({ result_code: 0, count: 1 });
    const none = await getWithPara(sandbox, '/2/rest/refunds/count', signed({ bill_no: 'OTHERBILL1' }));
    expect(none.body.count).toBe(0);

    const byId = await getWithPara(sandbox, `/2/rest/refund/${made.body.id}`, signed({}));
    expect(byId.body).toMatchObject({ result_code: 0, refund: { refund_no: `${TODAY}R01`, refund_fee: 120 } });

    const status = await getWithPara(
      sandbox,
      '/2/rest/refund/status',
      signed({ channel: 'WX', refund_no: `${TODAY}R01` }),
    );
    expect(status.body).toMatchObject({ result_code: 0, refund_status: 'SUCCESS' });

    expect((await getWithPara(sandbox, '/2/rest/refunds', signed({}, MASTER_SECRET))).body.result_code).toBe(1);
    expect((await getWithPara(sandbox, '/2/rest/refunds', signed({ limit: 51 }))).body.result_code).toBe(5);
  });

  it('should answer 13 NO_SUCH_REFUND for an unknown refund id or refund_no', async () => {
    const byId = await getWithPara(sandbox, '/2/rest/refund/00000000-0000-0000-0000-000000000000', signed({}));
    expect(byId.body).toMatchObject({ result_code: 13, result_msg: 'NO_SUCH_REFUND' });
    const status = await getWithPara(
      sandbox,
      '/2/rest/refund/status',
      signed({ channel: 'WX', refund_no: `${TODAY}X01` }),
    );
    expect(status.body.result_code).toBe(13);
  });
});

describe('refund webhooks', () => {
  let sandbox: Sandbox;
  let receiver: Receiver;
  let fallback: Receiver;
  beforeEach(async () => {
    sandbox = makeSandbox({ now: () => CLOCK });
    receiver = await startReceiver();
    fallback = await startReceiver();
  });
  afterEach(async () => {
    await sandbox.close();
    await receiver.close();
    await fallback.close();
  });

  // WX sends no callback after a refund (seed 001 §4.4.5), so only ALI refunds are notified.
  it('should deliver a signed REFUND webhook for an ALI refund to the refund notify_url, else to the bill notify_url', async () => {
    const { billNo } = await openBill(sandbox, {
      channel: 'ALI_APP',
      openid: undefined,
      total_fee: 500,
      notify_url: fallback.url,
    });
    await api(sandbox).post(`/sandbox/bills/${billNo}/settle`).send({ result: 'paid', notify: false });
    await api(sandbox)
      .post('/2/rest/refund')
      .send(
        signed({ refund_no: `${TODAY}A01`, bill_no: billNo, refund_fee: 200, notify_url: receiver.url }, MASTER_SECRET),
      );
    await waitFor(() => receiver.hits.length === 1, 3000, 'refund webhook');
    const message = receiver.hits[0].body;
    expect(message).toMatchObject({
      channel_type: 'ALI',
      sub_channel_type: 'ALI_APP',
      transaction_type: 'REFUND',
      transaction_id: `${TODAY}A01`,
      transaction_fee: 200,
      trade_success: true,
      optional: {},
      message_detail: { out_trade_no: billNo, out_biz_no: `${TODAY}A01`, refund_fee: '2.00' },
    });
    expect(message.signature).toBe(md5(`${APP_ID}${TODAY}A01REFUNDALI200${MASTER_SECRET}`));

    await api(sandbox)
      .post('/2/rest/refund')
      .send(signed({ refund_no: `${TODAY}A02`, bill_no: billNo, refund_fee: 100 }, MASTER_SECRET));
    await waitFor(() => fallback.hits.length === 1, 3000, 'refund webhook on the bill notify_url');
    expect(fallback.hits[0].body).toMatchObject({ transaction_type: 'REFUND', transaction_id: `${TODAY}A02` });

    // REFUND attempts are recorded on each refund; the bill's list holds PAY attempts only.
    for (const refundNo of [`${TODAY}A01`, `${TODAY}A02`]) {
      await waitFor(
        async () => (await api(sandbox).get(`/sandbox/refunds/${refundNo}/deliveries`)).body.deliveries.length === 1,
        1000,
        `delivery record of ${refundNo}`,
      );
      const deliveries = await api(sandbox).get(`/sandbox/refunds/${refundNo}/deliveries`);
      expect(deliveries.body.deliveries).toEqual([
        expect.objectContaining({ transaction_type: 'REFUND', transaction_id: refundNo, attempt: 1, ok: true }),
      ]);
    }
    expect((await api(sandbox).get(`/sandbox/bills/${billNo}/deliveries`)).body.deliveries).toEqual([]);
  });

  it('should send no REFUND webhook for a WX refund (refund/status tells its state instead)', async () => {
    const { billNo } = await openBill(sandbox, { total_fee: 500, notify_url: fallback.url });
    await api(sandbox).post(`/sandbox/bills/${billNo}/settle`).send({ result: 'paid', notify: false });
    const made = await api(sandbox)
      .post('/2/rest/refund')
      .send(
        signed({ refund_no: `${TODAY}W01`, bill_no: billNo, refund_fee: 200, notify_url: receiver.url }, MASTER_SECRET),
      );
    expect(made.body.result_code).toBe(0);
    await sleep(300); // covers the first attempt and seven retry periods at the test time scale
    expect(receiver.hits).toHaveLength(0);
    expect(fallback.hits).toHaveLength(0);
    expect((await api(sandbox).get(`/sandbox/refunds/${TODAY}W01/deliveries`)).body.deliveries).toEqual([]);
    const status = await getWithPara(
      sandbox,
      '/2/rest/refund/status',
      signed({ channel: 'WX', refund_no: `${TODAY}W01` }),
    );
    expect(status.body).toMatchObject({ result_code: 0, refund_status: 'SUCCESS' });
  });
});
