import { randomBytes } from 'node:crypto';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa from 'koa';
import { DEMO_CATALOG } from '../server/domain/catalog';

/**
 * The baseline of the status and checkout benchmarks: bare Koa answering the same routes with
 * JSON of the real shape, built from constants, with no session, database or gateway.
 */
const app = new Koa();
const router = new Router();
router.get('/api/orders/:orderNo/status', (ctx) => {
  ctx.body = { orderNo: ctx.params.orderNo, status: 'pending', code: 9 };
});

const CATALOG = new Map(DEMO_CATALOG.map((item) => [item.sku, item]));
const ORDER_TTL_MS = 15 * 60 * 1000;
// Only the checkout routes parse bodies, so the status route stays as bare as before.
const json = bodyParser({ enableTypes: ['json'], jsonLimit: '64kb' });

interface OrderBody {
  items?: Array<{ sku?: unknown; quantity?: unknown }>;
}

router.post('/api/orders', json, (ctx) => {
  const body = ctx.request.body as OrderBody | undefined;
  const items = (body?.items ?? []).map((line) => {
    const product = CATALOG.get(String(line.sku)) ?? { title: String(line.sku), price: 100 };
    const quantity = Number(line.quantity) || 1;
    return {
      sku: String(line.sku),
      title: product.title,
      quantity,
      price: product.price,
      amount: product.price * quantity,
    };
  });
  const now = new Date();
  ctx.status = 201;
  ctx.body = {
    order: {
      // 14 digits of time and 10 letters/digits, like the server's order numbers.
      orderNo: now.toISOString().replace(/\D/g, '').slice(0, 14) + randomBytes(5).toString('hex').toUpperCase(),
      amount: items.reduce((sum, line) => sum + line.amount, 0),
      currency: 'CNY',
      status: 'pending',
      items,
      expiresAt: new Date(now.getTime() + ORDER_TTL_MS).toISOString(),
    },
  };
});

router.post('/api/orders/:orderNo/pay', json, (ctx) => {
  const body = ctx.request.body as { platform?: unknown } | undefined;
  if (body?.platform !== 'weapp') {
    ctx.status = 400;
    ctx.body = { error: { code: 'VALIDATION_FAILED', message: 'the baseline answers weapp only' } };
    return;
  }
  ctx.body = {
    platform: 'weapp',
    requestPayment: {
      timeStamp: String(Math.floor(Date.now() / 1000)),
      nonceStr: randomBytes(16).toString('hex'),
      package: `prepay_id=wx${randomBytes(14).toString('hex')}`,
      signType: 'MD5',
      paySign: randomBytes(16).toString('hex').toUpperCase(),
    },
  };
});

app.use(router.routes());
const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address === 'object')
    process.stdout.write(`Checkout server  http://127.0.0.1:${address.port}\nSandbox          off\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
