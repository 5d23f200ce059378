import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEVELOPMENT_SECRETS } from '../../server/config';
import { DEFAULT_CHECKOUT_SETTINGS } from '../../server/domain/checkout-settings';
import { countingProxy } from '../lib/counting-proxy';
import { generateLoad } from '../lib/load';
import { freshDatabase } from '../lib/postgres';
import { startCheckoutServer } from '../lib/processes';
import type { ResultRow } from '../lib/report';
import { createOrder, login, pay } from '../lib/shop';

const POLLERS = 1000;
const LATE_SECONDS = 10;

/**
 * 1,000 concurrent pollers of one pending order whose webhook is 10 s late, split over two
 * server instances on one PostgreSQL: how many queries reach the gateway.
 */
export async function upstreamAmplification(): Promise<ResultRow[]> {
  // Only its sandbox is used: the gateway and WeChat both instances talk to.
  const upstreamData = mkdtempSync(join(tmpdir(), 'bench-upstream-'));
  const upstream = await startCheckoutServer({ DATA_DIR: upstreamData });
  const proxy = await countingProxy(upstream.sandboxUrl!);
  const database = await freshDatabase('amplification');
  const env = {
    DATABASE_URL: database.url,
    GATEWAY_BASE_URL: proxy.url,
    GATEWAY_APP_ID: DEVELOPMENT_SECRETS.gatewayAppId,
    GATEWAY_APP_SECRET: DEVELOPMENT_SECRETS.gatewayAppSecret,
    GATEWAY_MASTER_SECRET: DEVELOPMENT_SECRETS.gatewayMasterSecret,
    WECHAT_API_BASE_URL: upstream.sandboxUrl!,
    WECHAT_APPID: DEVELOPMENT_SECRETS.wechatAppId,
    WECHAT_SECRET: DEVELOPMENT_SECRETS.wechatSecret,
  };
  const instances = [await startCheckoutServer(env), await startCheckoutServer(env)];
  try {
    const token = await login(instances[0].url, upstream.sandboxUrl!);
    const order = await createOrder(instances[0].url, token);
    await pay(instances[0].url, token, order.orderNo);
    const before = proxy.count('/2/rest/bills');
    const started = Date.now();
    const loads = await Promise.all(
      instances.map((instance) =>
        generateLoad({
          url: `${instance.url}/api/orders/${order.orderNo}/status`,
          connections: POLLERS / instances.length,
          durationSeconds: LATE_SECONDS,
          headers: { authorization: `Bearer ${token}` },
        }),
      ),
    );
    const seconds = (Date.now() - started) / 1000;
    const queries = proxy.count('/2/rest/bills') - before;
    const intervalSeconds = DEFAULT_CHECKOUT_SETTINGS.gatewayCheckIntervalMs / 1000;
    const allowed = Math.floor(seconds / intervalSeconds) + 1;
    const polls = loads.reduce((sum, load) => sum + load.requests, 0);
    return [
      {
        benchmark: 'upstream amplification',
        case: `${POLLERS} pollers, 2 instances, webhook ${LATE_SECONDS} s late (postgres)`,
        measured: `${queries} gateway queries for ${polls} polls`,
        baseline: `1 query per ${intervalSeconds} s over ${seconds.toFixed(1)} s = ${allowed}`,
        ratio: queries / allowed,
        target: `≤ ${allowed} (one per order per interval)`,
        met: queries <= allowed && loads.every((load) => load.non2xx === 0),
      },
    ];
  } finally {
    for (const instance of instances) await instance.stop();
    await upstream.stop();
    await proxy.close();
    await database.drop();
    rmSync(upstreamData, { recursive: true, force: true });
  }
}
