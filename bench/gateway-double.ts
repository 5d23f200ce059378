import Koa from 'koa';

/**
 * A zero-latency stand-in for the aggregate gateway in the checkout and sweeper benchmarks: it
 * answers every bill at once with a well-formed WX_MINI answer, and every bill query with that
 * bill, open and not paid, so the figure is the server's own cost. `GET /bench/counts` says how
 * many requests reached it, by path, and how many distinct bills were asked about.
 */
const app = new Koa();
let sequence = 0;
const requestsByPath = new Map<string, number>();
const billsQueried = new Set<string>();
app.use(async (ctx) => {
  if (ctx.path === '/bench/counts') {
    ctx.body = { byPath: Object.fromEntries(requestsByPath), distinctBillsQueried: billsQueried.size };
    return;
  }
  requestsByPath.set(ctx.path, (requestsByPath.get(ctx.path) ?? 0) + 1);
  if (ctx.method === 'POST' && ctx.path === '/2/rest/bill') {
    sequence += 1;
    ctx.body = {
      result_code: 0,
      result_msg: 'OK',
      err_detail: '',
      id: `bench-${sequence}`,
      app_id: 'wxbench',
      package: `prepay_id=wx${sequence}`,
      nonce_str: 'benchnonce',
      timestamp: String(Math.floor(Date.now() / 1000)),
      pay_sign: 'BENCHSIGN',
      sign_type: 'MD5',
    };
    return;
  }
  if (ctx.method === 'GET' && ctx.path === '/2/rest/bills') {
    // `?para=` carries the query as JSON; a query by bill_no gets that bill back, still unpaid
    // (WeChat's NOTPAY). The fee of an unpaid bill is not read by the server: 1 stands in for it.
    const billNo = billNoOf(ctx.query.para);
    if (billNo !== undefined) {
      billsQueried.add(billNo);
      ctx.body = {
        result_code: 0,
        result_msg: 'OK',
        err_detail: '',
        bills: [
          {
            bill_no: billNo,
            total_fee: 1,
            trade_no: '',
            channel: 'WX',
            sub_channel: 'WX_MINI',
            spay_result: false,
            message_detail: JSON.stringify({ trade_state: 'NOTPAY' }),
          },
        ],
      };
      return;
    }
  }
  ctx.body = { result_code: 0, result_msg: 'OK', err_detail: '', bills: [] };
});

function billNoOf(para: unknown): string | undefined {
  if (typeof para !== 'string') return undefined;
  try {
    const parsed: unknown = JSON.parse(para);
    const billNo = (parsed as { bill_no?: unknown } | null)?.bill_no;
    return typeof billNo === 'string' ? billNo : undefined;
  } catch {
    return undefined;
  }
}
const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address === 'object') {
    process.stdout.write(`Checkout server  http://127.0.0.1:${address.port}\nSandbox          off\n`);
  }
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
