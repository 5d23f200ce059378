import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Sandbox } from '../../server/sandbox';
import {
  api,
  APP_ID,
  APP_SECRET,
  chinaToday,
  makeSandbox,
  MASTER_SECRET,
  md5,
  newBillNo,
  PAY_KEY,
  TEST_SECRET,
  WECHAT_APPID,
} from './helpers';

/*
 * The gateway's official Node SDK, unmodified. It hardcodes `https://api.beecloud.cn`, so
 * the test redirects its transport: superagent (the SDK's HTTP client) picks the module
 * for a request from its `protocols` table, and the test swaps the `https:` entry for one
 * that sends the same request, in plain HTTP, to the sandbox listening on a local port.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- untyped CommonJS packages; the casts type the parts used */
const superagent = require('superagent') as { protocols: Record<string, unknown> };
const BCRESTApi = require('beecloud-node-sdk') as new () => BeeCloudApi;
/* eslint-enable @typescript-eslint/no-require-imports */

type Answer = Record<string, unknown> & { result_code: number; err_detail: string };
interface BeeCloudApi {
  registerApp(appId: string, appSecret: string, masterSecret: string, testSecret: string): void;
  setSandbox(test: boolean): void;
  bill(param: Record<string, unknown>): Promise<Answer>;
  getBills(param: Record<string, unknown>): Promise<Answer>;
  getBillsCount(param: Record<string, unknown>): Promise<Answer>;
  getBillById(param: Record<string, unknown>): Promise<Answer>;
  refund(param: Record<string, unknown>): Promise<Answer>;
}

describe('beecloud-node-sdk against the sandbox', () => {
  let sandbox: Sandbox;
  let server: http.Server;
  let originalHttps: unknown;
  const requested: string[] = [];

  beforeAll(async () => {
    sandbox = makeSandbox();
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- Koa's callback never rejects
    server = http.createServer(sandbox.app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    originalHttps = superagent.protocols['https:'];
    superagent.protocols['https:'] = {
      request(options: http.RequestOptions) {
        requested.push(`https://${String(options.host)}${String(options.path)}`);
        return http.request({ ...options, host: '127.0.0.1', port, agent: false });
      },
    };
  });

  afterAll(async () => {
    superagent.protocols['https:'] = originalHttps;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await sandbox.close();
  });

  beforeEach(() => {
    requested.length = 0;
  });

  function client(testMode = false): BeeCloudApi {
    const sdk = new BCRESTApi();
    sdk.registerApp(APP_ID, APP_SECRET, MASTER_SECRET, TEST_SECRET);
    if (testMode) sdk.setSandbox(true);
    return sdk;
  }

  it('should open a WX_MINI bill and query it back with bill(), getBills(), getBillsCount(), getBillById()', async () => {
    const sdk = client();
    const billNo = newBillNo();
    const bill = await sdk.bill({
      timestamp: Date.now(),
      channel: 'WX_MINI',
      total_fee: 1,
      bill_no: billNo,
      title: 'SDK test',
      openid: 'oSdk00000000000000000000000001',
    });
    expect(requested).toEqual(['https://api.beecloud.cn/2/rest/bill']);
    expect(bill).toMatchObject({ result_code: 0, result_msg: 'OK', app_id: WECHAT_APPID, sign_type: 'MD5' });
    expect(bill.pay_sign).toBe(
      md5(
        `appId=${WECHAT_APPID}&nonceStr=${bill.nonce_str}&package=${bill.package}` +
          `&signType=MD5&timeStamp=${bill.timestamp}&key=${PAY_KEY}`,
      ).toUpperCase(),
    );

    // The SDK merges every earlier call's fields (and all secrets) into later requests.
    const bills = await sdk.getBills({ timestamp: Date.now(), bill_no: billNo });
    expect(bills.result_code).toBe(0);
    expect(bills.bills).toEqual([expect.objectContaining({ id: bill.id, bill_no: billNo, spay_result: false })]);

    const count = await sdk.getBillsCount({ timestamp: Date.now(), bill_no: billNo });
    expect(count).toMatchObject({ result_code: 0, count: 1 });

    const byId = await sdk.getBillById({ timestamp: Date.now(), id: bill.id });
    expect(byId).toMatchObject({ result_code: 0, pay: { bill_no: billNo } });
    expect(requested).toEqual([
      'https://api.beecloud.cn/2/rest/bill',
      'https://api.beecloud.cn/2/rest/bills',
      'https://api.beecloud.cn/2/rest/bills/count',
      `https://api.beecloud.cn/2/rest/bill/${bill.id}`,
    ]);
  });

  it('should use the sandbox paths and the test_secret in the SDK test mode', async () => {
    const sdk = client(true);
    const billNo = newBillNo();
    const bill = await sdk.bill({
      timestamp: Date.now(),
      channel: 'ALI_APP',
      total_fee: 88,
      bill_no: billNo,
      title: 'T',
    });
    expect(bill.result_code).toBe(0);
    expect(typeof bill.order_string).toBe('string');
    const bills = await sdk.getBills({ timestamp: Date.now(), bill_no: billNo });
    expect(bills.result_code).toBe(0);
    expect((bills.bills as Array<{ bill_no: string }>).map((b) => b.bill_no)).toEqual([billNo]);
    expect(requested).toEqual([
      'https://api.beecloud.cn/2/rest/sandbox/bill',
      'https://api.beecloud.cn/2/rest/sandbox/bills',
    ]);
  });

  it('should pass the sandbox refusals through the SDK', async () => {
    const sdk = client();
    const duplicate = newBillNo();
    const params = {
      timestamp: Date.now(),
      channel: 'WX_MINI',
      total_fee: 1,
      bill_no: duplicate,
      title: 'T',
      openid: 'oX',
    };
    expect((await sdk.bill(params)).result_code).toBe(0);
    const again = await sdk.bill({ ...params, timestamp: Date.now() });
    expect(again.result_code).toBe(5);
    expect(again.err_detail).toContain('duplicate bill_no');
  });

  it('should refuse SDK 0.6.4 refunds, which it signs with the app_secret instead of the master_secret', async () => {
    const sdk = client();
    const billNo = newBillNo();
    await sdk.bill({
      timestamp: Date.now(),
      channel: 'WX_MINI',
      total_fee: 10,
      bill_no: billNo,
      title: 'T',
      openid: 'oX',
    });
    await api(sandbox).post(`/sandbox/bills/${billNo}/settle`).send({ result: 'paid', notify: false });
    const refund = await sdk.refund({
      timestamp: Date.now(),
      refund_no: `${chinaToday()}001`,
      bill_no: billNo,
      refund_fee: 1,
    });
    expect(refund.result_code).toBe(1);
    expect(refund.err_detail).toContain('master_secret');
  });
});
