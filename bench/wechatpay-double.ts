import { readFileSync } from 'node:fs';
import { DEVELOPMENT_SECRETS } from '../server/config';
import { createSandbox } from '../server/sandbox';
import type { WechatPaySandboxKeys } from '../server/sandbox/wechatpay';

/**
 * WeChat Pay for the benchmarks: the project's offline sandbox (`server/sandbox`), in memory, in
 * a process of its own, answering at once with the real crypto: it verifies the merchant's
 * `WECHATPAY2-SHA256-RSA2048` Authorization on every request and signs every answer with the
 * platform certificate's key (`Wechatpay-*` headers), serves `/v3/certificates`, and, as the
 * same sandbox, the WeChat login the shopper's session starts with. Its keys are the JSON file
 * `BENCH_WECHATPAY_KEYS_FILE` names (`generateSandboxKeys`), so that the benchmark can hand the
 * merchant's half to the server and sign notifications with the platform's half.
 */
const keysFile = process.env.BENCH_WECHATPAY_KEYS_FILE;
if (!keysFile) throw new Error('BENCH_WECHATPAY_KEYS_FILE must name the sandbox keys (JSON)');
const keys = JSON.parse(readFileSync(keysFile, 'utf8')) as WechatPaySandboxKeys;

const sandbox = createSandbox({
  gateway: {
    appId: DEVELOPMENT_SECRETS.gatewayAppId,
    appSecret: DEVELOPMENT_SECRETS.gatewayAppSecret,
    masterSecret: DEVELOPMENT_SECRETS.gatewayMasterSecret,
    testSecret: DEVELOPMENT_SECRETS.gatewayTestSecret,
  },
  wechat: { appId: keys.appid, secret: DEVELOPMENT_SECRETS.wechatSecret },
  wechatpay: { mchid: keys.mchid, keys },
});
const server = sandbox.app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address === 'object') {
    process.stdout.write(`Checkout server  http://127.0.0.1:${address.port}\nSandbox          off\n`);
  }
});
process.on('SIGTERM', () => {
  void sandbox.close().finally(() => server.close(() => process.exit(0)));
});
