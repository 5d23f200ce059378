import Koa from 'koa';

/**
 * A zero-latency stand-in for the aggregate gateway in the checkout benchmark: it answers every
 * bill at once with a well-formed WX_MINI answer, so the figure is the server's own cost.
 */
const app = new Koa();
let sequence = 0;
app.use(async (ctx) => {
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
  ctx.body = { result_code: 0, result_msg: 'OK', err_detail: '', bills: [] };
});
const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address === 'object') {
    process.stdout.write(`Checkout server  http://127.0.0.1:${address.port}\nSandbox          off\n`);
  }
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
