import { createPrivateKey, createPublicKey, createSign, createVerify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEVELOPMENT_SECRETS } from '../../server/config';
import { processTreeCpuMs } from '../lib/cpu';
import { generateLoad, type LoadResult } from '../lib/load';
import { freshDatabase } from '../lib/postgres';
import { startCheckoutServer, startServerProcess, type RunningServer } from '../lib/processes';
import type { ResultRow } from '../lib/report';
import { login } from '../lib/shop';
import { formatRatios, median, takingTurns, type SideBySideResult } from '../lib/side-by-side';
import { startWechatPayDouble } from '../lib/wechatpay';

const ROUNDS = 3;
const DURATION_SECONDS = 5;
const CONNECTIONS = 50;
const ITEMS = [{ sku: 'ceramic-mug', quantity: 1 }];
const TARGET_CHECKOUTS_PER_SECOND = 1000;
/** The rate both servers are held to for the CPU comparison: one both reach on a busy 2-core machine. */
const EQUAL_RATE_CHECKOUTS = 50;

/** CPU spent by the server and by its payment double during one run of the load, ms. */
interface CpuOfRun {
  checkouts: number;
  serverMs: number;
  doubleMs: number;
}

/**
 * Create an order and start its WeChat payment, on PostgreSQL, at each of the two providers a
 * mini-program bill can be opened at: the aggregate gateway (a zero-latency double that answers
 * with a well-formed bill, `bench/gateway-double.ts`) and WeChat Pay APIv3
 * (`WEAPP_PAYMENT_PROVIDER=wechatpay` against the project's WeChat Pay sandbox in its own
 * process, `bench/wechatpay-double.ts`, which verifies the merchant's RSA signature and signs
 * its answers as WeChat does). Every round runs bare Koa, the gateway's server, bare Koa, WeChat
 * Pay's server (ROUNDS rounds of DURATION_SECONDS each); the table shows medians, the CPU each
 * server and double spent per checkout, and what RSA-SHA256 costs on this machine.
 */
export async function checkoutThroughput(): Promise<ResultRow[]> {
  const scratch = mkdtempSync(join(tmpdir(), 'bench-checkout-'));
  const started: RunningServer[] = [];
  const databases: Array<{ drop(): Promise<void> }> = [];
  const start = async (server: Promise<RunningServer>) => {
    const running = await server;
    started.push(running);
    return running;
  };
  try {
    const bare = await start(startServerProcess('bench/bare-koa.ts', {}));
    const gateway = await start(startServerProcess('bench/gateway-double.ts', {}));
    const wechatpay = await startWechatPayDouble(scratch);
    started.push(wechatpay.double);
    // The double is the whole sandbox: it also answers the WeChat login both servers' sessions start with.
    const wechatLogin = {
      WECHAT_API_BASE_URL: wechatpay.double.url,
      WECHAT_APPID: DEVELOPMENT_SECRETS.wechatAppId,
      WECHAT_SECRET: DEVELOPMENT_SECRETS.wechatSecret,
    };
    const gatewayDatabase = await freshDatabase('checkout');
    databases.push(gatewayDatabase);
    const wechatpayDatabase = await freshDatabase('checkout_wxpay');
    databases.push(wechatpayDatabase);
    const gatewayEnv = {
      GATEWAY_BASE_URL: gateway.url,
      GATEWAY_APP_ID: DEVELOPMENT_SECRETS.gatewayAppId,
      GATEWAY_APP_SECRET: DEVELOPMENT_SECRETS.gatewayAppSecret,
      GATEWAY_MASTER_SECRET: DEVELOPMENT_SECRETS.gatewayMasterSecret,
      // The sweeper asks the provider about every bill open longer than this, every 10 s: held off
      // here (sweeper-cost measures it), since the two servers keep different numbers of open bills.
      WEBHOOK_GRACE_SECONDS: '3600',
      ...wechatLogin,
    };
    const atGateway = await start(startCheckoutServer({ DATABASE_URL: gatewayDatabase.url, ...gatewayEnv }));
    const atWechatPay = await start(
      startCheckoutServer({ DATABASE_URL: wechatpayDatabase.url, ...gatewayEnv, ...wechatpay.serverEnv }),
    );
    if (!/WeChat mini-program: WeChat Pay;/.test(atWechatPay.output())) {
      throw new Error(`the server did not open mini-program bills at WeChat Pay:\n${atWechatPay.output()}`);
    }

    const rsa = rsaCost(wechatpay.keys.merchantPrivateKey, wechatpay.keys.merchantPublicKey);

    const cpu = { gateway: [] as CpuOfRun[], wechatpay: [] as CpuOfRun[] };
    const checkoutLoad = (server: RunningServer, token: string, checkoutsPerSecond?: number) => () =>
      generateLoad({
        url: server.url,
        connections: CONNECTIONS,
        durationSeconds: DURATION_SECONDS,
        checkoutFlow: { token, items: ITEMS },
        requestsPerSecond: checkoutsPerSecond === undefined ? undefined : checkoutsPerSecond * 2,
      });
    const measured =
      (load: () => Promise<LoadResult>, server: RunningServer, double: RunningServer, runs: CpuOfRun[]) => async () => {
        const before = [processTreeCpuMs(server.child.pid!), processTreeCpuMs(double.child.pid!)];
        const result = await load();
        runs.push({
          // Each checkout is two requests (create, pay).
          checkouts: result.requests / 2,
          serverMs: processTreeCpuMs(server.child.pid!) - before[0],
          doubleMs: processTreeCpuMs(double.child.pid!) - before[1],
        });
        return result;
      };
    const gatewayToken = await login(atGateway.url, wechatpay.double.url);
    const wechatpayToken = await login(atWechatPay.url, wechatpay.double.url);
    const [viaGateway, viaWechatPay] = await takingTurns(
      checkoutLoad(bare, gatewayToken),
      [
        measured(checkoutLoad(atGateway, gatewayToken), atGateway, gateway, cpu.gateway),
        measured(checkoutLoad(atWechatPay, wechatpayToken), atWechatPay, wechatpay.double, cpu.wechatpay),
      ],
      ROUNDS,
    );
    // At one rate for both, the CPU a checkout costs the server is its work, not the machine's
    // contention or the batching a faster flow gets.
    const atEqualRate = { gateway: [] as CpuOfRun[], wechatpay: [] as CpuOfRun[] };
    await measured(
      checkoutLoad(atGateway, gatewayToken, EQUAL_RATE_CHECKOUTS),
      atGateway,
      gateway,
      atEqualRate.gateway,
    )();
    await measured(
      checkoutLoad(atWechatPay, wechatpayToken, EQUAL_RATE_CHECKOUTS),
      atWechatPay,
      wechatpay.double,
      atEqualRate.wechatpay,
    )();

    const perCheckout = (runs: CpuOfRun[], side: 'serverMs' | 'doubleMs') =>
      median(runs.map((run) => run[side] / Math.max(run.checkouts, 1)));
    const cpuText = (runs: CpuOfRun[], double: string) =>
      `CPU per checkout: server ${perCheckout(runs, 'serverMs').toFixed(2)} ms, ${double} ${perCheckout(runs, 'doubleMs').toFixed(2)} ms`;
    const sameRound = viaWechatPay.rounds.map(
      (round, index) => round.subject.requestsPerSecond / viaGateway.rounds[index].subject.requestsPerSecond,
    );
    const equalGateway = perCheckout(atEqualRate.gateway, 'serverMs');
    const equalWechatPay = perCheckout(atEqualRate.wechatpay, 'serverMs');
    const wechatpayTarget = 'none (informative: RSA, see docs/benchmarks.md)';
    return [
      throughputRow(
        'gateway: create order + pay (weapp), 50 conns, postgres, zero-latency gateway double, WEBHOOK_GRACE_SECONDS=3600',
        viaGateway,
        cpuText(cpu.gateway, 'gateway double'),
        `≥ ${TARGET_CHECKOUTS_PER_SECOND} checkouts/s`,
        (checkoutsPerSecond, healthy) => healthy && checkoutsPerSecond >= TARGET_CHECKOUTS_PER_SECOND,
      ),
      throughputRow(
        'WeChat Pay: the same, WEAPP_PAYMENT_PROVIDER=wechatpay, its sandbox in its own process (verifies the RSA Authorization, signs every answer)',
        viaWechatPay,
        cpuText(cpu.wechatpay, 'WeChat Pay double'),
        wechatpayTarget,
        () => null,
      ),
      {
        benchmark: 'checkout throughput',
        case: 'WeChat Pay ÷ gateway: checkouts/s of the same round; the RSA it adds',
        measured:
          `${median(sameRound).toFixed(2)} (rounds ${sameRound.map((ratio) => ratio.toFixed(2)).join('/')}); ` +
          `server CPU per checkout at ${EQUAL_RATE_CHECKOUTS} checkouts/s each: WeChat Pay ${equalWechatPay.toFixed(2)} ms, ` +
          `gateway ${equalGateway.toFixed(2)} ms (+${(equalWechatPay - equalGateway).toFixed(2)} ms)`,
        baseline:
          `RSA-2048 SHA-256 here: sign ${rsa.signMs.toFixed(2)} ms, verify ${rsa.verifyMs.toFixed(2)} ms, ` +
          `PEM key parse ${rsa.parseMs.toFixed(2)} ms; server 2 signs + 1 verify = ${(2 * rsa.signMs + rsa.verifyMs).toFixed(2)} ms, ` +
          `double 1 verify + parse + sign = ${(rsa.verifyMs + rsa.parseMs + rsa.signMs).toFixed(2)} ms`,
        ratio: median(sameRound),
        target: 'none (informative)',
        met: null,
      },
    ];
  } finally {
    for (const server of started.reverse()) await server.stop();
    for (const database of databases) await database.drop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

function throughputRow(
  caseText: string,
  result: SideBySideResult,
  cpu: string,
  target: string,
  met: (checkoutsPerSecond: number, healthy: boolean) => boolean | null,
): ResultRow {
  const { subject, baseline } = result;
  // Each checkout is two requests (create, pay), so checkouts/s is half the requests/s.
  const checkoutsPerSecond = subject.requestsPerSecond / 2;
  const healthy = subject.non2xx === 0 && subject.errors === 0;
  const bareHealthy = baseline.non2xx === 0 && baseline.errors === 0;
  return {
    benchmark: 'checkout throughput',
    case: caseText,
    measured: `${Math.round(checkoutsPerSecond)} checkouts/s; per request p50 ${subject.latencyP50Ms} ms, p99 ${subject.latencyP99Ms} ms${healthy ? '' : ` (${subject.non2xx} non-2xx, ${subject.errors} errors)`}; ${cpu}`,
    baseline: `bare Koa ${Math.round(baseline.requestsPerSecond / 2)} checkouts/s${bareHealthy ? '' : ` (${baseline.non2xx} non-2xx, ${baseline.errors} errors)`}; ${formatRatios(result.ratios)}`,
    ratio: result.medianRatio,
    target,
    met: met(checkoutsPerSecond, healthy),
  };
}

/**
 * What RSA-SHA256 with a 2048-bit key costs in this process, ms each (the mean of a few hundred):
 * a signature with a parsed key (the server's Authorization and paySign), a verification (the
 * server's check of an answer; the double's of a request) and parsing a PEM private key (the
 * sandbox parses its platform key for every answer it signs).
 */
function rsaCost(privatePem: string, publicPem: string): { signMs: number; verifyMs: number; parseMs: number } {
  const privateKey = createPrivateKey(privatePem);
  const publicKey = createPublicKey(publicPem);
  const timed = (times: number, work: (index: number) => void) => {
    const began = process.hrtime.bigint();
    for (let index = 0; index < times; index += 1) work(index);
    return Number(process.hrtime.bigint() - began) / 1e6 / times;
  };
  const message = (index: number) => `POST\n/v3/pay/transactions/jsapi\n${1_700_000_000 + index}\nnonce\n{}\n`;
  const signature = createSign('RSA-SHA256').update(message(0)).sign(privateKey, 'base64');
  return {
    signMs: timed(300, (index) => createSign('RSA-SHA256').update(message(index)).sign(privateKey, 'base64')),
    verifyMs: timed(300, () => createVerify('RSA-SHA256').update(message(0)).verify(publicKey, signature, 'base64')),
    parseMs: timed(100, () => createPrivateKey(privatePem)),
  };
}
