import { createSign, createVerify, generateKeyPairSync } from 'node:crypto';
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

const APP_PAY = '/sandbox/alipay/app-pay';

/** Decodes an order string into its parameters, independently of the sandbox's helpers. */
function decodeOrderString(orderString: string): Array<[string, string]> {
  return orderString.split('&').map((pair) => {
    const at = pair.indexOf('=');
    return [pair.slice(0, at), decodeURIComponent(pair.slice(at + 1))];
  });
}

function encodeOrderString(params: Array<[string, string]>): string {
  return params.map(([name, value]) => `${name}=${encodeURIComponent(value)}`).join('&');
}

/** The same order string with one `biz_content` field changed and the original signature kept. */
function tamper(orderString: string, field: string, value: string): string {
  return encodeOrderString(
    decodeOrderString(orderString).map(([name, text]): [string, string] => {
      if (name !== 'biz_content') return [name, text];
      return [name, JSON.stringify({ ...(JSON.parse(text) as Record<string, unknown>), [field]: value })];
    }),
  );
}

/** The same order string signed (correctly, RSA2) with someone else's private key. */
function resignWithForeignKey(orderString: string): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const params = decodeOrderString(orderString).filter(([name]) => name !== 'sign');
  const content = [...params]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const sign = createSign('RSA-SHA256').update(content, 'utf8').sign(privateKey, 'base64');
  return encodeOrderString([...params, ['sign', sign]]);
}

async function billStatus(sandbox: Sandbox, billNo: string): Promise<string> {
  return (await api(sandbox).get(`/sandbox/bills?bill_no=${billNo}`)).body.bills[0].status as string;
}

describe('POST /sandbox/alipay/app-pay (ALI_APP order_string)', () => {
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

  const openAli = (input: Parameters<typeof openBill>[1] = {}) =>
    openBill(sandbox, { channel: 'ALI_APP', openid: undefined, notify_url: receiver.url, ...input });

  it('should pay a genuine order string: 9000 with a signed app-pay response, bill paid, ALI webhook', async () => {
    const { billNo, answer } = await openAli({ total_fee: 1050, title: 'Tea', optional: { order_id: 'ord_3' } });
    const res = await api(sandbox).post(APP_PAY).send({ order_string: answer.order_string, action: 'pay' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ resultStatus: '9000', memo: '', result: expect.any(String) });

    const result = JSON.parse(res.body.result as string) as {
      alipay_trade_app_pay_response: Record<string, string>;
      sign: string;
      sign_type: string;
    };
    const response = result.alipay_trade_app_pay_response;
    expect(response).toMatchObject({
      code: '10000',
      msg: 'Success',
      out_trade_no: billNo,
      total_amount: '10.50',
      seller_id: expect.stringMatching(/^2088\d{12}$/),
    });
    expect(response.trade_no).toMatch(/^\d{28}$/);
    expect(result.sign_type).toBe('RSA2');
    // Alipay signs the response object's JSON text as it appears in `result`.
    const signedText = /"alipay_trade_app_pay_response":(\{[^}]*\})/.exec(res.body.result as string)![1];
    const publicKey = (await api(sandbox).get('/sandbox/alipay/public-key')).body.public_key as string;
    expect(createVerify('RSA-SHA256').update(signedText, 'utf8').verify(publicKey, result.sign, 'base64')).toBe(true);

    expect(await billStatus(sandbox, billNo)).toBe('paid');
    await waitFor(() => receiver.hits.length === 1, 3000, 'webhook');
    const message = receiver.hits[0].body;
    expect(message).toMatchObject({
      channel_type: 'ALI',
      sub_channel_type: 'ALI_APP',
      transaction_type: 'PAY',
      transaction_id: billNo,
      transaction_fee: 1050,
      trade_success: true,
      optional: { order_id: 'ord_3' },
      message_detail: {
        out_trade_no: billNo,
        trade_status: 'TRADE_SUCCESS',
        total_fee: '10.50',
        trade_no: response.trade_no,
        seller_id: response.seller_id,
      },
    });
    expect(message.signature).toBe(md5(`${APP_ID}${billNo}PAYALI1050${MASTER_SECRET}`));
    const queried = await getWithPara(sandbox, '/2/rest/bills', signed({ bill_no: billNo }));
    expect(queried.body.bills[0]).toMatchObject({
      spay_result: true,
      trade_no: response.trade_no,
      sub_channel: 'ALI_APP',
    });
  });

  it('should pay when action is omitted', async () => {
    const { billNo, answer } = await openAli();
    const res = await api(sandbox).post(APP_PAY).send({ order_string: answer.order_string });
    expect(res.body.resultStatus).toBe('9000');
    expect(await billStatus(sandbox, billNo)).toBe('paid');
  });

  it('should answer 4000 for a tampered order string and leave the bill open', async () => {
    const { billNo, answer } = await openAli({ total_fee: 1050 });
    const orderString = answer.order_string as string;
    for (const forged of [
      tamper(orderString, 'total_amount', '0.01'),
      tamper(orderString, 'subject', 'Free tea'),
      orderString.replace(/sign=[^&]+/, 'sign=AAAA'),
      orderString.replace(/&sign=[^&]+/, ''),
      resignWithForeignKey(orderString),
    ]) {
      expect(forged).not.toBe(orderString);
      const res = await api(sandbox).post(APP_PAY).send({ order_string: forged, action: 'pay' });
      expect(res.status).toBe(200);
      expect(res.body.resultStatus).toBe('4000');
      expect(res.body.memo).not.toBe('');
    }
    expect(await billStatus(sandbox, billNo)).toBe('open');
    await sleep(100);
    expect(receiver.hits).toHaveLength(0);
    // The genuine one still works afterwards.
    expect((await api(sandbox).post(APP_PAY).send({ order_string: orderString })).body.resultStatus).toBe('9000');
  });

  it('should answer 4000 for a string that is not an order string at all', async () => {
    for (const garbage of ['hello', 'a=%E0%A4%A', 'sign=%%%']) {
      const res = await api(sandbox).post(APP_PAY).send({ order_string: garbage });
      expect(res.status).toBe(200);
      expect(res.body.resultStatus).toBe('4000');
    }
  });

  it('should answer 6001 on cancel and leave the bill open, payable later', async () => {
    const { billNo, answer } = await openAli();
    const res = await api(sandbox).post(APP_PAY).send({ order_string: answer.order_string, action: 'cancel' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ resultStatus: '6001', memo: '用户中途取消', result: '' });
    expect(await billStatus(sandbox, billNo)).toBe('open');
    await sleep(100);
    expect(receiver.hits).toHaveLength(0);
    expect((await api(sandbox).post(APP_PAY).send({ order_string: answer.order_string })).body.resultStatus).toBe(
      '9000',
    );
    await waitFor(() => receiver.hits.length === 1, 3000, 'webhook');
  });

  it('should answer 4000 for a bill already paid, with one webhook only', async () => {
    const { answer } = await openAli();
    expect((await api(sandbox).post(APP_PAY).send({ order_string: answer.order_string })).body.resultStatus).toBe(
      '9000',
    );
    const again = await api(sandbox).post(APP_PAY).send({ order_string: answer.order_string });
    expect(again.body).toMatchObject({ resultStatus: '4000', result: '' });
    expect(again.body.memo).toContain('已支付');
    await waitFor(() => receiver.hits.length === 1, 3000, 'webhook');
    await sleep(100);
    expect(receiver.hits).toHaveLength(1);
  });

  it('should answer 4000 for a bill closed by the gateway or past its bill_timeout', async () => {
    const closed = await openAli();
    await api(sandbox).post(`/sandbox/bills/${closed.billNo}/settle`).send({ result: 'closed', notify: false });
    const res = await api(sandbox).post(APP_PAY).send({ order_string: closed.answer.order_string });
    expect(res.body.resultStatus).toBe('4000');
    expect(await billStatus(sandbox, closed.billNo)).toBe('closed');

    clock = Date.UTC(2025, 2, 3, 8, 0, 0);
    const timed = await openAli({ bill_timeout: 120 });
    clock += 121_000;
    expect((await api(sandbox).post(APP_PAY).send({ order_string: timed.answer.order_string })).body.resultStatus).toBe(
      '4000',
    );
    expect(await billStatus(sandbox, timed.billNo)).toBe('closed');
  });

  it('should answer 400 for a body that is not JSON, lacks order_string, or has a bad action', async () => {
    const { answer } = await openAli();
    const notJson = await api(sandbox).post(APP_PAY).set('Content-Type', 'application/json').send('{"order_string":');
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.code).toBe('BAD_REQUEST');
    const form = await api(sandbox).post(APP_PAY).type('form').send({ order_string: 'x' });
    expect(form.status).toBe(400);
    for (const body of [
      {},
      { order_string: '' },
      { order_string: 42 },
      { order_string: answer.order_string, action: 'refund' },
    ]) {
      const res = await api(sandbox).post(APP_PAY).send(body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('BAD_REQUEST');
    }
  });
});
