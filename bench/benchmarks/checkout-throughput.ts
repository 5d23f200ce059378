import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEVELOPMENT_SECRETS } from '../../server/config';
import { generateLoad } from '../lib/load';
import { freshDatabase } from '../lib/postgres';
import { startCheckoutServer, startServerProcess } from '../lib/processes';
import type { ResultRow } from '../lib/report';
import { login } from '../lib/shop';
import { formatRatios, sideBySide } from '../lib/side-by-side';

const ROUNDS = 3;
const DURATION_SECONDS = 5;
const CONNECTIONS = 50;
const ITEMS = [{ sku: 'ceramic-mug', quantity: 1 }];

/**
 * Create an order and start its WeChat payment, on PostgreSQL, with a zero-latency gateway,
 * taking turns with bare Koa answering both routes with JSON of the same shape (ROUNDS short
 * runs each, baseline first in every round); the table shows medians.
 */
export async function checkoutThroughput(): Promise<ResultRow[]> {
  const bare = await startServerProcess('bench/bare-koa.ts', {});
  const gateway = await startServerProcess('bench/gateway-double.ts', {});
  const wechatData = mkdtempSync(join(tmpdir(), 'bench-wechat-'));
  const wechat = await startCheckoutServer({ DATA_DIR: wechatData });
  const database = await freshDatabase('checkout');
  const server = await startCheckoutServer({
    DATABASE_URL: database.url,
    GATEWAY_BASE_URL: gateway.url,
    GATEWAY_APP_ID: DEVELOPMENT_SECRETS.gatewayAppId,
    GATEWAY_APP_SECRET: DEVELOPMENT_SECRETS.gatewayAppSecret,
    GATEWAY_MASTER_SECRET: DEVELOPMENT_SECRETS.gatewayMasterSecret,
    WECHAT_API_BASE_URL: wechat.sandboxUrl!,
    WECHAT_APPID: DEVELOPMENT_SECRETS.wechatAppId,
    WECHAT_SECRET: DEVELOPMENT_SECRETS.wechatSecret,
  });
  try {
    const token = await login(server.url, wechat.sandboxUrl!);
    const checkoutLoad = (url: string) => () =>
      generateLoad({
        url,
        connections: CONNECTIONS,
        durationSeconds: DURATION_SECONDS,
        checkoutFlow: { token, items: ITEMS },
      });
    const result = await sideBySide(checkoutLoad(bare.url), checkoutLoad(server.url), ROUNDS);
    const { subject, baseline } = result;
    // Each checkout is two requests (create, pay), so checkouts/s is half the requests/s.
    const checkoutsPerSecond = subject.requestsPerSecond / 2;
    const healthy = subject.non2xx === 0 && subject.errors === 0;
    const bareHealthy = baseline.non2xx === 0 && baseline.errors === 0;
    return [
      {
        benchmark: 'checkout throughput',
        case: `create order + pay (weapp), ${CONNECTIONS} conns, postgres, zero-latency gateway`,
        measured: `${Math.round(checkoutsPerSecond)} checkouts/s; per request p50 ${subject.latencyP50Ms} ms, p99 ${subject.latencyP99Ms} ms${healthy ? '' : ` (${subject.non2xx} non-2xx, ${subject.errors} errors)`}`,
        baseline: `bare Koa ${Math.round(baseline.requestsPerSecond / 2)} checkouts/s${bareHealthy ? '' : ` (${baseline.non2xx} non-2xx, ${baseline.errors} errors)`}; ${formatRatios(result.ratios)}`,
        ratio: result.medianRatio,
        target: '≥ 1000 checkouts/s',
        met: healthy && checkoutsPerSecond >= 1000,
      },
    ];
  } finally {
    await server.stop();
    await wechat.stop();
    await gateway.stop();
    await bare.stop();
    await database.drop();
    rmSync(wechatData, { recursive: true, force: true });
  }
}
