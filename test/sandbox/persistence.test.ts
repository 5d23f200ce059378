import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sandbox } from '../../server/sandbox';
import {
  api,
  chinaToday,
  getWithPara,
  makeSandbox,
  MASTER_SECRET,
  newBillNo,
  openBill,
  Receiver,
  signed,
  startReceiver,
  waitFor,
} from './helpers';

/**
 * With a data directory, the gateway keeps its state across a restart as a real gateway does:
 * bills, refunds, spent bill_nos, refund holds, the Alipay signing keys, and the webhooks it was
 * still delivering. Without one, it keeps nothing on disk.
 */
describe('sandbox state in a data directory', () => {
  let dataDir: string;
  const sandboxes: Sandbox[] = [];
  const receivers: Receiver[] = [];

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'sandbox-state-'));
  });

  afterEach(async () => {
    for (const sandbox of sandboxes.splice(0)) await sandbox.close();
    for (const receiver of receivers.splice(0)) await receiver.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  function sandboxOver(directory: string | undefined, webhookTimeScale = 0.001): Sandbox {
    const sandbox = makeSandbox({ dataDir: directory, webhookTimeScale });
    sandboxes.push(sandbox);
    return sandbox;
  }

  async function restart(before: Sandbox, webhookTimeScale?: number): Promise<Sandbox> {
    await before.close();
    sandboxes.splice(sandboxes.indexOf(before), 1);
    return sandboxOver(dataDir, webhookTimeScale);
  }

  const billsNamed = async (sandbox: Sandbox, billNo: string) =>
    (await getWithPara(sandbox, '/2/rest/bills', signed({ bill_no: billNo }))).body.bills;

  it('should keep bills, refunds, spent bill_nos and refund holds across a restart', async () => {
    let sandbox = sandboxOver(dataDir);
    const open = await openBill(sandbox);
    const paid = await openBill(sandbox, { total_fee: 300 });
    await api(sandbox).post(`/sandbox/bills/${paid.billNo}/settle`).send({ result: 'paid', notify: false }).expect(200);
    const refundNo = `${chinaToday()}R${Date.now()}`;
    const refund = await api(sandbox)
      .post('/2/rest/refund')
      .send(signed({ refund_no: refundNo, bill_no: paid.billNo, refund_fee: 100 }, MASTER_SECRET));
    expect(refund.body.result_code).toBe(0);
    const refused = newBillNo();
    await api(sandbox).post('/sandbox/gateway/faults').send({ result_code: 7, operation: 'bill' }).expect(201);
    await api(sandbox)
      .post('/2/rest/bill')
      .send(signed({ channel: 'WX_MINI', total_fee: 100, title: 'Tea', openid: 'oX', bill_no: refused }));
    await api(sandbox).post('/sandbox/refunds/hold').send({ count: 2 }).expect(201);
    const before = (await api(sandbox).get('/sandbox/bills').expect(200)).body.bills;

    sandbox = await restart(sandbox);
    expect((await api(sandbox).get('/sandbox/bills').expect(200)).body.bills).toEqual(before);
    expect(await billsNamed(sandbox, open.billNo)).toEqual([
      expect.objectContaining({ id: open.answer.id, spay_result: false }),
    ]);
    expect(await billsNamed(sandbox, paid.billNo)).toEqual([
      expect.objectContaining({ spay_result: true, refund_result: true }),
    ]);
    const refunds = (await api(sandbox).get(`/sandbox/refunds?bill_no=${paid.billNo}`)).body.refunds;
    expect(refunds).toEqual([expect.objectContaining({ refund_no: refundNo, status: 'succeeded', refund_fee: 100 })]);
    // A bill_no is never accepted twice, whether it made a bill or was refused.
    for (const billNo of [open.billNo, refused]) {
      const again = await api(sandbox)
        .post('/2/rest/bill')
        .send(signed({ channel: 'WX_MINI', total_fee: 100, title: 'Tea', openid: 'oX', bill_no: billNo }));
      expect(again.body.result_code).toBe(5);
    }
    // The two held refunds are still to come; the fault was for the calls that followed it only.
    expect((await api(sandbox).delete('/sandbox/refunds/hold')).body).toEqual({ released: 2 });
    expect((await openBill(sandbox)).answer.result_code).toBe(0);
    // The open bill can still be paid after the restart.
    await api(sandbox).post(`/sandbox/bills/${open.billNo}/settle`).send({ result: 'paid', notify: false }).expect(200);
    expect(await billsNamed(sandbox, open.billNo)).toEqual([expect.objectContaining({ spay_result: true })]);
  });

  it('should keep the Alipay keys, so an order string made before a restart still verifies', async () => {
    let sandbox = sandboxOver(dataDir);
    const { answer } = await openBill(sandbox, { channel: 'ALI_APP', openid: undefined });
    const key = (await api(sandbox).get('/sandbox/alipay/public-key')).body.public_key;
    sandbox = await restart(sandbox);
    expect((await api(sandbox).get('/sandbox/alipay/public-key')).body.public_key).toBe(key);
    const paid = await api(sandbox)
      .post('/sandbox/alipay/app-pay')
      .send({ order_string: answer.order_string, action: 'pay' });
    expect(paid.body).toMatchObject({ resultStatus: '9000' });
  });

  it('should go on delivering a webhook that a restart cut short', async () => {
    let acknowledge = false;
    const receiver = await startReceiver(() => ({ body: acknowledge ? 'success' : 'not yet' }));
    receivers.push(receiver);
    // Real-time retries: the second attempt would come 2 s after the first, long after the restart.
    let sandbox = sandboxOver(dataDir, 1);
    const { billNo } = await openBill(sandbox, { notify_url: receiver.url });
    await api(sandbox).post(`/sandbox/bills/${billNo}/settle`).send({ result: 'paid' }).expect(200);
    const deliveries = async (from: Sandbox) =>
      (await api(from).get(`/sandbox/bills/${billNo}/deliveries`)).body.deliveries as unknown[];
    await waitFor(async () => (await deliveries(sandbox)).length === 1, 3000, 'the first webhook attempt on record');

    acknowledge = true;
    sandbox = await restart(sandbox);
    await waitFor(() => receiver.hits.length === 2, 3000, 'the resumed webhook');
    expect(receiver.hits[1].body).toMatchObject({ transaction_id: billNo, transaction_type: 'PAY' });
    await waitFor(async () => (await deliveries(sandbox)).length === 2, 3000, 'the resumed attempt on record');
    expect(await deliveries(sandbox)).toEqual([
      expect.objectContaining({ chain: 1, attempt: 1, ok: false }),
      expect.objectContaining({ chain: 2, attempt: 1, ok: true }),
    ]);

    // Delivered: the next restart sends nothing more.
    sandbox = await restart(sandbox);
    await api(sandbox).get('/sandbox/bills').expect(200);
    expect(receiver.hits).toHaveLength(2);
  });

  it('should skip a line torn by a crash and keep everything before it', async () => {
    let sandbox = sandboxOver(dataDir);
    const { billNo } = await openBill(sandbox);
    await sandbox.close();
    appendFileSync(join(dataDir, 'gateway.jsonl'), '{"kind":"bill","bill":{"billNo":"T');
    sandbox = await restart(sandbox);
    expect(await billsNamed(sandbox, billNo)).toHaveLength(1);
  });

  it('should write nothing without a data directory', async () => {
    const sandbox = sandboxOver(undefined);
    await openBill(sandbox);
    expect(readdirSync(dataDir)).toEqual([]);
    expect((await api(sandbox).get('/sandbox/bills')).body.bills).toHaveLength(1);
  });
});
