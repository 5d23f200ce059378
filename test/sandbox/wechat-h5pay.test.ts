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

const H5 = '/sandbox/wechat/h5pay';

async function billStatus(sandbox: Sandbox, billNo: string): Promise<string> {
  const res = await api(sandbox).get(`/sandbox/bills?bill_no=${billNo}`);
  return res.body.bills[0].status as string;
}

/** The path and query of the `url` the gateway answered (the sandbox's own host in tests). */
function pathOf(url: unknown): string {
  const parsed = new URL(url as string);
  return `${parsed.pathname}${parsed.search}`;
}

describe('WeChat H5 cashier page (BC_WX_WAP url)', () => {
  let sandbox: Sandbox;
  let receiver: Receiver;
  let clock: number | undefined;
  beforeEach(async () => {
    clock = undefined;
    sandbox = makeSandbox({ now: () => clock ?? Date.now() });
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await sandbox.close();
    await receiver.close();
  });

  const openWap = (input: Parameters<typeof openBill>[1] = {}) =>
    openBill(sandbox, { channel: 'BC_WX_WAP', openid: undefined, notify_url: receiver.url, ...input });

  describe('GET', () => {
    it('should render the bill at the url the gateway answered: title, amount and both buttons', async () => {
      const { billNo, answer } = await openWap({ title: '拿铁 <大杯>', total_fee: 1999 });
      expect(pathOf(answer.url)).toBe(`${H5}?bill_no=${billNo}`);
      const res = await api(sandbox).get(pathOf(answer.url));
      expect(res.status).toBe(200);
      expect(res.type).toBe('text/html');
      expect(res.headers['content-type']).toMatch(/charset=utf-8/);
      const html = res.text;
      expect(html).toContain('<html lang="zh-CN">');
      expect(html).toContain('¥19.99');
      expect(html).toContain('拿铁 &lt;大杯&gt;'); // the title, HTML-escaped
      expect(html).not.toContain('<大杯>');
      expect(html).toContain('1230000109'); // the merchant id
      expect(html).toMatch(/<form method="post" action="\/sandbox\/wechat\/h5pay">/);
      expect(html).toContain(`<input type="hidden" name="bill_no" value="${billNo}">`);
      expect(html).toMatch(/<button[^>]*name="action" value="pay"[^>]*>确认支付<\/button>/);
      expect(html).toMatch(/<button[^>]*name="action" value="cancel"[^>]*>取消<\/button>/);
      expect(html).not.toContain('<script');
    });

    it('should show amounts below one yuan with two decimals', async () => {
      const { answer } = await openWap({ total_fee: 5 });
      expect((await api(sandbox).get(pathOf(answer.url))).text).toContain('¥0.05');
    });

    it('should answer a 404 HTML page for an unknown bill and 400 without bill_no', async () => {
      const unknown = await api(sandbox).get(`${H5}?bill_no=NOSUCHBILL1`);
      expect(unknown.status).toBe(404);
      expect(unknown.type).toBe('text/html');
      expect(unknown.text).toContain('订单不存在');
      expect(unknown.text).not.toContain('确认支付');
      const missing = await api(sandbox).get(H5);
      expect(missing.status).toBe(400);
      expect(missing.type).toBe('text/html');
    });

    it('should refuse a bill that is not a BC_WX_WAP bill with a 400 page', async () => {
      const { billNo } = await openBill(sandbox); // WX_MINI
      const res = await api(sandbox).get(`${H5}?bill_no=${billNo}`);
      expect(res.status).toBe(400);
      expect(res.type).toBe('text/html');
      expect(res.text).toContain('BC_WX_WAP');
      expect(res.text).not.toContain('确认支付');
    });

    it('should show a paid bill as paid and a closed bill as closed, without buttons', async () => {
      const paid = await openWap();
      await api(sandbox).post(`/sandbox/bills/${paid.billNo}/settle`).send({ result: 'paid', notify: false });
      const paidPage = await api(sandbox).get(pathOf(paid.answer.url));
      expect(paidPage.status).toBe(200);
      expect(paidPage.text).toContain('订单已支付');
      expect(paidPage.text).not.toContain('确认支付');

      const closed = await openWap();
      await api(sandbox).post(`/sandbox/bills/${closed.billNo}/settle`).send({ result: 'closed', notify: false });
      const closedPage = await api(sandbox).get(pathOf(closed.answer.url));
      expect(closedPage.status).toBe(200);
      expect(closedPage.text).toContain('订单已关闭');
      expect(closedPage.text).not.toContain('<form');
    });
  });

  describe('POST', () => {
    it('should pay from the page form: HTML result, bill paid, signed BC_WX_WAP webhook delivered', async () => {
      const { billNo, answer } = await openWap({ total_fee: 1999, title: 'Latte', optional: { order_id: 'ord_9' } });
      const res = await api(sandbox).post(H5).type('form').send({ bill_no: billNo, action: 'pay' });
      expect(res.status).toBe(200);
      expect(res.type).toBe('text/html');
      expect(res.text).toContain('支付成功');
      expect(res.text).toContain('¥19.99');
      expect(await billStatus(sandbox, billNo)).toBe('paid');

      await waitFor(() => receiver.hits.length === 1, 3000, 'webhook');
      const hit = receiver.hits[0];
      expect(hit.headers['content-type']).toBe('application/json');
      expect(hit.body).toMatchObject({
        channel_type: 'WX',
        sub_channel_type: 'BC_WX_WAP',
        transaction_type: 'PAY',
        transaction_id: billNo,
        transaction_fee: 1999,
        trade_success: true,
        optional: { order_id: 'ord_9' },
        message_detail: { out_trade_no: billNo, trade_type: 'MWEB', trade_state: 'SUCCESS', total_fee: '1999' },
      });
      expect(hit.body.signature).toBe(md5(`${APP_ID}${billNo}PAYWX1999${MASTER_SECRET}`));

      // The gateway's own queries agree with the webhook, exactly as after /settle.
      const queried = await getWithPara(sandbox, '/2/rest/bills', signed({ bill_no: billNo, need_detail: true }));
      const bill = queried.body.bills[0];
      expect(bill).toMatchObject({ spay_result: true, sub_channel: 'BC_WX_WAP', channel: 'WX' });
      expect(bill.trade_no).toBe((hit.body.message_detail as Record<string, string>).transaction_id);
      await waitFor(
        async () => (await api(sandbox).get(`/sandbox/bills/${billNo}/deliveries`)).body.deliveries.length === 1,
        1000,
        'delivery record',
      );
      const listed = await api(sandbox).get(`/sandbox/bills?bill_no=${billNo}`);
      expect(listed.body.bills[0]).toMatchObject({ status: 'paid', url: answer.url, deliveries: 1 });
    });

    it('should retry the webhook like /settle does until the receiver says success', async () => {
      await receiver.close();
      receiver = await startReceiver((n) => (n === 1 ? { body: 'fail' } : { body: 'success' }));
      const { billNo } = await openWap({ total_fee: 10 });
      await api(sandbox).post(H5).send({ bill_no: billNo, action: 'pay' });
      await waitFor(() => receiver.hits.length === 2, 3000, 'retry');
      expect(receiver.hits[1].body.signature).toBe(receiver.hits[0].body.signature);
    });

    it('should answer JSON for a JSON request, and for a form request that accepts JSON', async () => {
      const a = await openWap();
      const json = await api(sandbox).post(H5).send({ bill_no: a.billNo, action: 'pay' });
      expect(json.status).toBe(200);
      expect(json.type).toBe('application/json');
      expect(json.body).toEqual({ bill_no: a.billNo, status: 'paid', notifying: true });

      const b = await openWap();
      const form = await api(sandbox)
        .post(H5)
        .type('form')
        .set('Accept', 'application/json')
        .send({ bill_no: b.billNo, action: 'cancel' });
      expect(form.type).toBe('application/json');
      expect(form.body).toEqual({ bill_no: b.billNo, status: 'open' });
    });

    it('should leave the bill open on cancel, send no webhook, and still allow paying later', async () => {
      const { billNo } = await openWap();
      const res = await api(sandbox).post(H5).type('form').send({ bill_no: billNo, action: 'cancel' });
      expect(res.status).toBe(200);
      expect(res.type).toBe('text/html');
      expect(res.text).toContain('已取消支付');
      expect(res.text).toContain(`href="${H5}?bill_no=${billNo}"`); // back to the cashier
      expect(await billStatus(sandbox, billNo)).toBe('open');
      const queried = await getWithPara(sandbox, '/2/rest/bills', signed({ bill_no: billNo }));
      expect(queried.body.bills[0].spay_result).toBe(false);
      await sleep(100);
      expect(receiver.hits).toHaveLength(0);

      const paid = await api(sandbox).post(H5).send({ bill_no: billNo, action: 'pay' });
      expect(paid.body.status).toBe('paid');
      await waitFor(() => receiver.hits.length === 1, 3000, 'webhook');
    });

    it('should refuse to pay twice with 409 and deliver a single webhook', async () => {
      const { billNo } = await openWap();
      expect((await api(sandbox).post(H5).send({ bill_no: billNo, action: 'pay' })).status).toBe(200);
      const again = await api(sandbox).post(H5).send({ bill_no: billNo, action: 'pay' });
      expect(again.status).toBe(409);
      expect(again.body.error).toMatchObject({ code: 'BILL_NOT_OPEN' });
      expect(again.body.error.message).toContain('paid');
      const againForm = await api(sandbox).post(H5).type('form').send({ bill_no: billNo, action: 'pay' });
      expect(againForm.status).toBe(409);
      expect(againForm.type).toBe('text/html');
      expect(againForm.text).toContain('订单已支付');
      const cancelPaid = await api(sandbox).post(H5).send({ bill_no: billNo, action: 'cancel' });
      expect(cancelPaid.status).toBe(409);
      await waitFor(() => receiver.hits.length === 1, 3000, 'webhook');
      await sleep(100);
      expect(receiver.hits).toHaveLength(1);
    });

    it('should refuse a bill whose bill_timeout has passed with 409 (closed)', async () => {
      clock = Date.UTC(2025, 2, 3, 8, 0, 0);
      const { billNo } = await openWap({ bill_timeout: 60 });
      clock += 61_000;
      const res = await api(sandbox).post(H5).send({ bill_no: billNo, action: 'pay' });
      expect(res.status).toBe(409);
      expect(res.body.error.message).toContain('closed');
      expect(await billStatus(sandbox, billNo)).toBe('closed');
      expect((await api(sandbox).get(`${H5}?bill_no=${billNo}`)).text).toContain('订单已关闭');
    });

    it('should refuse a non-BC_WX_WAP bill with 400 and leave it open', async () => {
      for (const input of [{}, { channel: 'ALI_APP', openid: undefined }]) {
        const { billNo } = await openBill(sandbox, { notify_url: receiver.url, ...input });
        const res = await api(sandbox).post(H5).send({ bill_no: billNo, action: 'pay' });
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('NOT_H5_BILL');
        expect(await billStatus(sandbox, billNo)).toBe('open');
      }
      await sleep(50);
      expect(receiver.hits).toHaveLength(0);
    });

    it('should answer 404 for an unknown bill and 400 for a bad request', async () => {
      const unknown = await api(sandbox).post(H5).send({ bill_no: 'NOSUCHBILL1', action: 'pay' });
      expect(unknown.status).toBe(404);
      expect(unknown.body.error.code).toBe('NO_SUCH_BILL');
      const unknownForm = await api(sandbox).post(H5).type('form').send({ bill_no: 'NOSUCHBILL1', action: 'pay' });
      expect(unknownForm.status).toBe(404);
      expect(unknownForm.type).toBe('text/html');

      const { billNo } = await openWap();
      for (const body of [{ bill_no: billNo }, { bill_no: billNo, action: 'refund' }, { action: 'pay' }]) {
        const res = await api(sandbox).post(H5).send(body);
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('BAD_REQUEST');
      }
      const badJson = await api(sandbox).post(H5).set('Content-Type', 'application/json').send('{"bill_no":');
      expect(badJson.status).toBe(400);
      expect(await billStatus(sandbox, billNo)).toBe('open');
    });

    it('should carry WeChat-style redirect_url through the page to a link back to the merchant', async () => {
      const { billNo, answer } = await openWap();
      const back = 'https://shop.example.com/pay/done?order=1&x=<y>';
      const page = await api(sandbox).get(`${pathOf(answer.url)}&redirect_url=${encodeURIComponent(back)}`);
      expect(page.text).toContain('name="redirect_url"');
      const res = await api(sandbox).post(H5).type('form').send({ bill_no: billNo, action: 'pay', redirect_url: back });
      expect(res.text).toContain('返回商家');
      expect(res.text).toContain('href="https://shop.example.com/pay/done?order=1&amp;x=%3Cy%3E"');
    });
  });
});
