import type { Sandbox } from '../../server/sandbox';
import { api, getWithPara, makeSandbox, newBillNo, openBill, signed, TEST_SECRET } from './helpers';

describe('GET /sandbox/bills', () => {
  let sandbox: Sandbox;
  let clock: number;
  beforeEach(() => {
    clock = Date.UTC(2025, 2, 3, 8, 0, 0);
    sandbox = makeSandbox({ now: () => clock });
  });
  afterEach(() => sandbox.close());

  it('should list bills in the documented shape, per channel', async () => {
    const wx = await openBill(sandbox, { notify_url: 'http://127.0.0.1:9/hook', title: 'Flat white' });
    const wap = await openBill(sandbox, { channel: 'BC_WX_WAP', openid: undefined });
    const ali = await openBill(sandbox, { channel: 'ALI_APP', openid: undefined });
    const res = await api(sandbox).get('/sandbox/bills');
    expect(res.status).toBe(200);
    const [first, second, third] = res.body.bills;
    expect(first).toEqual({
      bill_no: wx.billNo,
      channel: 'WX_MINI',
      total_fee: 100,
      status: 'open',
      created_at: clock,
      title: 'Flat white',
      notify_url: 'http://127.0.0.1:9/hook',
      openid: 'oTestOpenid000000000000000001',
      prepay_id: (wx.answer.package as string).slice('prepay_id='.length),
      gateway_id: wx.answer.id,
      mode: 'live',
      refunded_fee: 0,
      deliveries: 0,
    });
    expect(second).toMatchObject({ bill_no: wap.billNo, url: wap.answer.url, notify_url: null });
    expect(second.prepay_id).toBeUndefined();
    expect(third).toMatchObject({ bill_no: ali.billNo, order_string: ali.answer.order_string });
  });

  it('should filter by bill_no and show test-mode bills too', async () => {
    const billNo = newBillNo();
    await api(sandbox)
      .post('/2/rest/sandbox/bill')
      .send(signed({ channel: 'WX_MINI', total_fee: 1, bill_no: billNo, title: 'T', openid: 'oX' }, TEST_SECRET));
    await openBill(sandbox);
    const res = await api(sandbox).get(`/sandbox/bills?bill_no=${billNo}`);
    expect(res.body.bills).toHaveLength(1);
    expect(res.body.bills[0]).toMatchObject({ bill_no: billNo, mode: 'test' });
    expect((await api(sandbox).get('/sandbox/bills?bill_no=NOSUCHBILL')).body.bills).toEqual([]);
  });
});

describe('POST /sandbox/bills/:bill_no/settle', () => {
  let sandbox: Sandbox;
  beforeEach(() => {
    sandbox = makeSandbox();
  });
  afterEach(() => sandbox.close());

  const settle = (billNo: string, body: unknown) =>
    api(sandbox)
      .post(`/sandbox/bills/${billNo}/settle`)
      .send(body as object);

  it('should make a paid bill visible to gateway queries', async () => {
    const { billNo } = await openBill(sandbox);
    const res = await settle(billNo, { result: 'paid' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ changed: true, notifying: false, bill: { status: 'paid' } });
    expect(res.body.bill.trade_no).toMatch(/^\d{28}$/);
    const queried = await getWithPara(sandbox, '/2/rest/bills', signed({ bill_no: billNo }));
    expect(queried.body.bills[0].spay_result).toBe(true);
  });

  it('should be idempotent when settling paid twice', async () => {
    const { billNo } = await openBill(sandbox);
    const first = await settle(billNo, { result: 'paid' });
    const second = await settle(billNo, { result: 'paid' });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ changed: false, bill: { status: 'paid', trade_no: first.body.bill.trade_no } });
  });

  it.each(['failed', 'closed'])('should refuse to make a paid bill %s with 409', async (result) => {
    const { billNo } = await openBill(sandbox);
    await settle(billNo, { result: 'paid' });
    const res = await settle(billNo, { result });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'BILL_ALREADY_PAID' });
    expect((await api(sandbox).get(`/sandbox/bills?bill_no=${billNo}`)).body.bills[0].status).toBe('paid');
  });

  it('should let a failed or closed bill still turn out paid', async () => {
    const { billNo } = await openBill(sandbox);
    expect((await settle(billNo, { result: 'failed' })).body.bill.status).toBe('failed');
    expect((await settle(billNo, { result: 'closed' })).body.bill.status).toBe('closed');
    expect((await settle(billNo, { result: 'paid' })).body.bill.status).toBe('paid');
  });

  it('should answer 404 for an unknown bill', async () => {
    const res = await settle('NOSUCHBILL1', { result: 'paid' });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'NO_SUCH_BILL', message: 'no bill NOSUCHBILL1' } });
    expect((await api(sandbox).get('/sandbox/bills/NOSUCHBILL1/deliveries')).status).toBe(404);
    expect((await api(sandbox).post('/sandbox/bills/NOSUCHBILL1/notify')).status).toBe(404);
  });

  it('should answer 400 for a bad body', async () => {
    const { billNo } = await openBill(sandbox);
    for (const body of [{}, { result: 'refunded' }, { result: 'paid', notify: 'yes' }, { result: 'paid', extra: 1 }]) {
      const res = await settle(billNo, body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('BAD_REQUEST');
    }
    const badJson = await api(sandbox)
      .post(`/sandbox/bills/${billNo}/settle`)
      .set('Content-Type', 'application/json')
      .send('{"result":');
    expect(badJson.status).toBe(400);
    expect(badJson.body.error.message).toMatch(/not valid JSON/);
    expect((await api(sandbox).get(`/sandbox/bills?bill_no=${billNo}`)).body.bills[0].status).toBe('open');
  });
});

describe('unknown sandbox routes', () => {
  it('should answer 404 JSON', async () => {
    const sandbox = makeSandbox();
    const res = await api(sandbox).get('/sandbox/nothing');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
    await sandbox.close();
  });
});
