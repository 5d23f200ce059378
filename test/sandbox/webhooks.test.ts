import http from 'node:http';
import type { AddressInfo } from 'node:net';
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
  WECHAT_APPID,
  type Receiver,
} from './helpers';

interface Delivery {
  transaction_type: string;
  transaction_id: string;
  chain: number;
  attempt: number;
  at: number;
  status: number | null;
  body: string;
  ok: boolean;
}

async function deliveriesOf(sandbox: Sandbox, billNo: string): Promise<Delivery[]> {
  const res = await api(sandbox).get(`/sandbox/bills/${billNo}/deliveries`);
  expect(res.status).toBe(200);
  return res.body.deliveries as Delivery[];
}

describe('POST /sandbox/bills/:bill_no/settle webhooks', () => {
  let sandbox: Sandbox | undefined;
  let receiver: Receiver | undefined;
  afterEach(async () => {
    await sandbox?.close();
    await receiver?.close();
    sandbox = undefined;
    receiver = undefined;
  });

  it('should deliver the signed PAY webhook for a paid WX_MINI bill to a real listener', async () => {
    sandbox = makeSandbox();
    receiver = await startReceiver();
    const { billNo } = await openBill(sandbox, {
      total_fee: 1999,
      notify_url: receiver.url,
      openid: 'oPayer00000000000000000000001',
      optional: { order_id: 'ord_1' },
    });
    const settled = await api(sandbox).post(`/sandbox/bills/${billNo}/settle`).send({ result: 'paid' });
    expect(settled.status).toBe(200);
    expect(settled.body).toMatchObject({ changed: true, notifying: true, bill: { status: 'paid' } });

    await waitFor(() => receiver!.hits.length === 1, 3000, 'webhook');
    const hit = receiver.hits[0];
    expect(hit.headers['content-type']).toBe('application/json');
    const message = hit.body;
    expect(message).toMatchObject({
      channel_type: 'WX',
      sub_channel_type: 'WX_MINI',
      transaction_type: 'PAY',
      transaction_id: billNo,
      transaction_fee: 1999,
      trade_success: true,
      optional: { order_id: 'ord_1' },
    });
    expect(message.timestamp).toEqual(expect.any(Number));
    expect(String(message.timestamp)).toMatch(/^\d{13}$/);
    expect(message.signature).toBe(md5(`${APP_ID}${billNo}PAYWX1999${MASTER_SECRET}`));
    expect(message.message_detail).toMatchObject({
      appid: WECHAT_APPID,
      mch_id: '1230000109',
      out_trade_no: billNo,
      total_fee: '1999',
      openid: 'oPayer00000000000000000000001',
      result_code: 'SUCCESS',
      return_code: 'SUCCESS',
      trade_state: 'SUCCESS',
      trade_type: 'JSAPI',
    });
    const detail = message.message_detail as Record<string, string>;
    expect(detail.transaction_id).toMatch(/^\d{28}$/);
    expect(detail.time_end).toMatch(/^\d{14}$/);

    await waitFor(async () => (await deliveriesOf(sandbox!, billNo)).length === 1, 1000, 'delivery record');
    const [delivery] = await deliveriesOf(sandbox, billNo);
    expect(delivery).toMatchObject({ attempt: 1, status: 200, body: 'success', ok: true, transaction_type: 'PAY' });
    const listed = await api(sandbox).get(`/sandbox/bills?bill_no=${billNo}`);
    expect(listed.body.bills[0]).toMatchObject({ deliveries: 1, status: 'paid' });
    const queried = await getWithPara(sandbox, '/2/rest/bills', signed({ bill_no: billNo }));
    expect(queried.body.bills[0].trade_no).toBe(detail.transaction_id);
  });

  // Seed 001 §3.1 "支付，代付，退款成功时" and §3.4.2 "目前收到的消息都是交易成功的消息": the
  // gateway sends no webhook for a failed or closed payment; only its queries show them.
  it.each([
    ['failed', 'WX_MINI', { result_code: 'FAIL', trade_state: 'PAYERROR', err_code: 'PAYERROR' }],
    ['closed', 'WX_MINI', { result_code: 'SUCCESS', trade_state: 'CLOSED' }],
    ['failed', 'ALI_APP', { trade_status: 'TRADE_CLOSED' }],
    ['closed', 'ALI_APP', { trade_status: 'TRADE_CLOSED' }],
  ])(
    'should send no PAY webhook for a %s %s bill, and show the outcome in queries',
    async (result, channel, detail) => {
      sandbox = makeSandbox(); // retries would come 2, 4, 8, … ms after the first attempt
      receiver = await startReceiver(() => ({ body: 'fail' }));
      const { billNo } = await openBill(sandbox, {
        channel,
        openid: channel === 'ALI_APP' ? undefined : 'oPayer00000000000000000000001',
        notify_url: receiver.url,
        total_fee: 7,
      });
      const settled = await api(sandbox).post(`/sandbox/bills/${billNo}/settle`).send({ result });
      expect(settled.status).toBe(200);
      expect(settled.body).toMatchObject({ changed: true, notifying: false, bill: { status: result, deliveries: 0 } });

      await sleep(300); // covers the first attempt and seven retry periods at this time scale
      expect(receiver.hits).toHaveLength(0);
      expect(await deliveriesOf(sandbox, billNo)).toEqual([]);

      const queried = await getWithPara(sandbox, '/2/rest/bills', signed({ bill_no: billNo, need_detail: true }));
      const [bill] = queried.body.bills;
      expect(bill).toMatchObject({ bill_no: billNo, spay_result: false });
      expect(JSON.parse(bill.message_detail)).toMatchObject({ out_trade_no: billNo, ...detail });
    },
  );

  it('should send the PAY webhook when a failed bill later turns out paid', async () => {
    sandbox = makeSandbox();
    receiver = await startReceiver();
    const { billNo } = await openBill(sandbox, { notify_url: receiver.url, total_fee: 7 });
    await api(sandbox).post(`/sandbox/bills/${billNo}/settle`).send({ result: 'failed' });
    const paid = await api(sandbox).post(`/sandbox/bills/${billNo}/settle`).send({ result: 'paid' });
    expect(paid.body).toMatchObject({ changed: true, notifying: true });
    await waitFor(() => receiver!.hits.length === 1, 3000, 'webhook');
    expect(receiver.hits[0].body).toMatchObject({
      transaction_id: billNo,
      trade_success: true,
      message_detail: { trade_state: 'SUCCESS' },
    });
    expect(receiver.hits[0].body.signature).toBe(md5(`${APP_ID}${billNo}PAYWX7${MASTER_SECRET}`));
  });

  it('should deliver Alipay-shaped detail for a paid ALI_APP bill', async () => {
    sandbox = makeSandbox();
    receiver = await startReceiver();
    const { billNo } = await openBill(sandbox, {
      channel: 'ALI_APP',
      openid: undefined,
      total_fee: 1050,
      notify_url: receiver.url,
    });
    await api(sandbox).post(`/sandbox/bills/${billNo}/settle`).send({ result: 'paid' });
    await waitFor(() => receiver!.hits.length === 1, 3000, 'webhook');
    const message = receiver.hits[0].body;
    expect(message).toMatchObject({
      channel_type: 'ALI',
      sub_channel_type: 'ALI_APP',
      trade_success: true,
      transaction_fee: 1050,
      message_detail: { out_trade_no: billNo, trade_status: 'TRADE_SUCCESS', total_fee: '10.50' },
    });
    expect(message.signature).toBe(md5(`${APP_ID}${billNo}PAYALI1050${MASTER_SECRET}`));
  });

  it('should deliver a BC_WX_WAP bill as WX with the BC_WX_WAP sub-channel', async () => {
    sandbox = makeSandbox();
    receiver = await startReceiver();
    const { billNo } = await openBill(sandbox, { channel: 'BC_WX_WAP', openid: undefined, notify_url: receiver.url });
    await api(sandbox).post(`/sandbox/bills/${billNo}/settle`).send({ result: 'paid' });
    await waitFor(() => receiver!.hits.length === 1, 3000, 'webhook');
    expect(receiver.hits[0].body).toMatchObject({
      channel_type: 'WX',
      sub_channel_type: 'BC_WX_WAP',
      message_detail: { trade_type: 'MWEB' },
    });
  });
});

describe('webhook retries', () => {
  let sandbox: Sandbox | undefined;
  let receiver: Receiver | undefined;
  afterEach(async () => {
    await sandbox?.close();
    await receiver?.close();
    sandbox = undefined;
    receiver = undefined;
  });

  it('should retry 2, 4, 8, 16, 32 (× scale) after the first attempt until it gets success, then stop', async () => {
    const scale = 0.01; // 2 s → 20 ms
    sandbox = makeSandbox({ webhookTimeScale: scale });
    receiver = await startReceiver((n) => (n <= 5 ? { body: 'fail' } : { body: 'success' }));
    const { billNo } = await openBill(sandbox, { notify_url: receiver.url });
    await api(sandbox).post(`/sandbox/bills/${billNo}/settle`).send({ result: 'paid' });
    await waitFor(() => receiver!.hits.length === 6, 5000, 'six attempts');

    // Arrival times at the receiver, from the moment the sandbox sent the first attempt
    // (both on the wall clock): never before the schedule. How late a loaded machine delivers
    // is no property of the schedule, so there is no upper bound (a timed assertion would flake).
    const deliveries = await deliveriesOf(sandbox, billNo);
    const expected = [0, 20, 40, 80, 160, 320];
    receiver.hits.forEach((hit, i) => {
      expect(hit.wall - deliveries[0].at).toBeGreaterThanOrEqual(expected[i] - 1);
    });
    // The same message every time (only the timestamp may change).
    for (const hit of receiver.hits) {
      expect(hit.body.signature).toBe(receiver.hits[0].body.signature);
      expect(hit.body.transaction_id).toBe(billNo);
    }

    await sleep(700); // the next retry would have been at 640 ms
    expect(receiver.hits).toHaveLength(6);
    const final = await deliveriesOf(sandbox, billNo);
    expect(final.map((d) => [d.attempt, d.ok, d.body])).toEqual([
      [1, false, 'fail'],
      [2, false, 'fail'],
      [3, false, 'fail'],
      [4, false, 'fail'],
      [5, false, 'fail'],
      [6, true, 'success'],
    ]);
    for (let i = 1; i < final.length; i += 1) {
      expect(final[i].at - final[0].at).toBeGreaterThanOrEqual(expected[i] - 2);
    }
  });

  it('should not take a JSON {"ok":true} answer as success', async () => {
    sandbox = makeSandbox({ webhookTimeScale: 0.005 });
    receiver = await startReceiver(() => ({ body: '{"ok":true}' }));
    const { billNo } = await openBill(sandbox, { notify_url: receiver.url });
    await api(sandbox).post(`/sandbox/bills/${billNo}/settle`).send({ result: 'paid' });
    await waitFor(() => receiver!.hits.length >= 4, 3000, 'four attempts');
    const deliveries = await deliveriesOf(sandbox, billNo);
    expect(deliveries.length).toBeGreaterThanOrEqual(3);
    expect(deliveries.every((d) => !d.ok && d.status === 200 && d.body === '{"ok":true}')).toBe(true);
  });

  it('should retry after an HTTP error and after a refused connection', async () => {
    sandbox = makeSandbox({ webhookTimeScale: 0.005 });
    receiver = await startReceiver((n) => (n === 1 ? { status: 500, body: 'oops' } : { body: 'success\n' }));
    const { billNo } = await openBill(sandbox, { notify_url: receiver.url });
    await api(sandbox).post(`/sandbox/bills/${billNo}/settle`).send({ result: 'paid' });
    await waitFor(async () => (await deliveriesOf(sandbox!, billNo)).some((d) => d.ok), 3000, 'acknowledged');
    const deliveries = await deliveriesOf(sandbox, billNo);
    expect(deliveries.map((d) => [d.status, d.ok])).toEqual([
      [500, false],
      [200, true],
    ]);

    // A port nobody listens on: the attempt records status null and is retried.
    const closedPort = await new Promise<number>((resolve) => {
      const server = http.createServer();
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const refused = await openBill(sandbox, { notify_url: `http://127.0.0.1:${closedPort}/hook` });
    await api(sandbox).post(`/sandbox/bills/${refused.billNo}/settle`).send({ result: 'paid' });
    await waitFor(async () => (await deliveriesOf(sandbox!, refused.billNo)).length >= 2, 3000, 'two attempts');
    const failed = await deliveriesOf(sandbox, refused.billNo);
    expect(failed[0]).toMatchObject({ attempt: 1, status: null, ok: false });
    expect(failed[0].body).toMatch(/ECONNREFUSED/);
  });

  it('should give up after 18 attempts (the last one 2^17 s after the first)', async () => {
    sandbox = makeSandbox({ webhookTimeScale: 0.00001 }); // 2^17 s → 1.31 s
    receiver = await startReceiver(() => ({ body: 'fail' }));
    const { billNo } = await openBill(sandbox, { notify_url: receiver.url });
    await api(sandbox).post(`/sandbox/bills/${billNo}/settle`).send({ result: 'paid' });
    await waitFor(() => receiver!.hits.length === 18, 6000, 'eighteen attempts');
    await sleep(400);
    expect(receiver.hits).toHaveLength(18);
    const deliveries = await deliveriesOf(sandbox, billNo);
    expect(receiver.hits[17].wall - deliveries[0].at).toBeGreaterThanOrEqual(1310 - 1);
    expect(deliveries.map((d) => d.attempt)).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
    expect(deliveries[17].at - deliveries[0].at).toBeGreaterThanOrEqual(1310 - 2);
    expect(deliveries.every((d) => !d.ok)).toBe(true);
  }, 15000);

  it('should stop retrying when the sandbox is closed', async () => {
    sandbox = makeSandbox({ webhookTimeScale: 0.01 });
    receiver = await startReceiver(() => ({ body: 'fail' }));
    const { billNo } = await openBill(sandbox, { notify_url: receiver.url });
    await api(sandbox).post(`/sandbox/bills/${billNo}/settle`).send({ result: 'paid' });
    await waitFor(() => receiver!.hits.length === 2, 3000, 'two attempts');
    await sandbox.close();
    await sleep(150); // attempts 3 and 4 would have come at 40 and 80 ms
    expect(receiver.hits).toHaveLength(2);
  });
});

describe('late webhooks (settle with notify:false, then /notify)', () => {
  let sandbox: Sandbox;
  let receiver: Receiver;
  beforeEach(async () => {
    sandbox = makeSandbox({ webhookTimeScale: 0.01 });
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await sandbox.close();
    await receiver.close();
  });

  it('should mark the bill paid at the gateway without a webhook, and deliver it on /notify', async () => {
    const { billNo } = await openBill(sandbox, { notify_url: receiver.url, total_fee: 300 });
    const settled = await api(sandbox).post(`/sandbox/bills/${billNo}/settle`).send({ result: 'paid', notify: false });
    expect(settled.body).toMatchObject({ changed: true, notifying: false });
    await sleep(100);
    expect(receiver.hits).toHaveLength(0);
    const queried = await getWithPara(sandbox, '/2/rest/bills', signed({ bill_no: billNo }));
    expect(queried.body.bills[0].spay_result).toBe(true);
    expect(await deliveriesOf(sandbox, billNo)).toEqual([]);

    const notified = await api(sandbox).post(`/sandbox/bills/${billNo}/notify`);
    expect(notified.status).toBe(200);
    expect(notified.body).toMatchObject({ notifying: true });
    await waitFor(() => receiver.hits.length === 1, 3000, 'late webhook');
    expect(receiver.hits[0].body).toMatchObject({ transaction_id: billNo, trade_success: true, transaction_fee: 300 });
  });

  it('should deliver the webhook again on /notify after it was acknowledged (duplicates happen)', async () => {
    const { billNo } = await openBill(sandbox, { notify_url: receiver.url });
    await api(sandbox).post(`/sandbox/bills/${billNo}/settle`).send({ result: 'paid' });
    await waitFor(() => receiver.hits.length === 1, 3000, 'first webhook');
    await api(sandbox).post(`/sandbox/bills/${billNo}/notify`);
    await waitFor(() => receiver.hits.length === 2, 3000, 'duplicate webhook');
    expect(receiver.hits[1].body.signature).toBe(receiver.hits[0].body.signature);
    await waitFor(async () => (await deliveriesOf(sandbox, billNo)).length === 2, 1000, 'records');
    const deliveries = await deliveriesOf(sandbox, billNo);
    expect(deliveries.map((d) => [d.chain, d.attempt])).toEqual([
      [1, 1],
      [2, 1],
    ]);
  });

  it.each(['open', 'failed', 'closed'])(
    'should refuse /notify for a %s bill with 409 BILL_NOT_PAID: webhooks are for successes only',
    async (state) => {
      const { billNo } = await openBill(sandbox, { notify_url: receiver.url });
      if (state !== 'open') await api(sandbox).post(`/sandbox/bills/${billNo}/settle`).send({ result: state });
      const res = await api(sandbox).post(`/sandbox/bills/${billNo}/notify`);
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('BILL_NOT_PAID');
      expect(res.body.error.message).toContain(`is ${state}`);
      expect(res.body.error.message).toMatch(/webhooks only for successful payments/);
      await sleep(100);
      expect(receiver.hits).toHaveLength(0);
      expect(await deliveriesOf(sandbox, billNo)).toEqual([]);
    },
  );

  it('should refuse /notify for a bill whose bill_timeout passed (closed) with 409 BILL_NOT_PAID', async () => {
    await sandbox.close();
    let clock = Date.UTC(2025, 2, 3, 8, 0, 0);
    sandbox = makeSandbox({ webhookTimeScale: 0.01, now: () => clock });
    const { billNo } = await openBill(sandbox, { notify_url: receiver.url, bill_timeout: 60 });
    clock += 61_000;
    const res = await api(sandbox).post(`/sandbox/bills/${billNo}/notify`);
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'BILL_NOT_PAID' });
    expect(res.body.error.message).toContain('is closed');
  });

  it('should refuse /notify for a paid bill without notify_url with 409 NO_NOTIFY_URL', async () => {
    const silent = await openBill(sandbox);
    await api(sandbox).post(`/sandbox/bills/${silent.billNo}/settle`).send({ result: 'paid' });
    const noUrl = await api(sandbox).post(`/sandbox/bills/${silent.billNo}/notify`);
    expect(noUrl.status).toBe(409);
    expect(noUrl.body.error.code).toBe('NO_NOTIFY_URL');
  });
});
