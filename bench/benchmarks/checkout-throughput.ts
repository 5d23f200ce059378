import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEVELOPMENT_SECRETS } from '../../server/config';
import { generateLoad } from '../lib/load';
import { freshDatabase } from '../lib/postgres';
import { startCheckoutServer, startServerProcess } from '../lib/processes';
import type { ResultRow } from '../lib/report';
import { login } from '../lib/shop';

const DURATION_SECONDS = 10;
const CONNECTIONS = 50;

/** Create an order and start its WeChat payment, on PostgreSQL, with a zero-latency gateway. */
export async function checkoutThroughput(): Promise<ResultRow[]> {
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
    const result = await generateLoad({
      url: server.url,
      connections: CONNECTIONS,
      durationSeconds: DURATION_SECONDS,
      checkoutFlow: { token, items: [{ sku: 'ceramic-mug', quantity: 1 }] },
    });
    const checkoutsPerSecond = result.requestsPerSecond / 2;
    const healthy = result.non2xx === 0 && result.errors === 0;
    return [
      {
        benchmark: 'checkout throughput',
        case: `create order + pay (weapp), ${CONNECTIONS} conns, postgres, zero-latency gateway`,
        measured: `${Math.round(checkoutsPerSecond)} checkouts/s; per request p50 ${result.latencyP50Ms} ms, p99 ${result.latencyP99Ms} ms${healthy ? '' : ` (${result.non2xx} non-2xx, ${result.errors} errors)`}`,
        target: '≥ 1000 checkouts/s',
        met: healthy && checkoutsPerSecond >= 1000,
      },
    ];
  } finally {
    await server.stop();
    await wechat.stop();
    await gateway.stop();
    await database.drop();
    rmSync(wechatData, { recursive: true, force: true });
  }
}
