import Router from '@koa/router';
import Koa from 'koa';

/** The baseline of the status benchmark: bare Koa answering the status JSON from a constant. */
const app = new Koa();
const router = new Router();
router.get('/api/orders/:orderNo/status', (ctx) => {
  ctx.body = { orderNo: ctx.params.orderNo, status: 'pending', code: 9 };
});
app.use(router.routes());
const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address === 'object') process.stdout.write(`Checkout server  http://127.0.0.1:${address.port}\nSandbox          off\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
