import { z } from 'zod';
import { requestJson } from '../../http-json';
import type { WechatPayClientOptions } from './client';

/**
 * Development credentials from the offline sandbox, so the server and the sandbox share WeChat
 * Pay keys without configuration (as `DEVELOPMENT_SECRETS` does for the other secrets). RSA keys
 * and certificates cannot be constants in the code without every checkout sharing one private
 * key, so the sandbox generates them once per data directory and hands them out at
 * `GET /sandbox/wechatpay/keys`; when `WECHATPAY_BASE_URL` is unset the server reads them there
 * (or, in process, from `sandbox.wechatpay.keys()` through `clientOptionsFromSandboxKeys`).
 */

const keysSchema = z.object({
  mchid: z.string(),
  appid: z.string(),
  serialNo: z.string(),
  merchantPrivateKey: z.string(),
  apiV3Key: z.string(),
  platformPublicKeyId: z.string(),
  platformPublicKey: z.string(),
});

/** The sandbox keys `clientOptionsFromSandboxKeys` needs (a subset of `GET /sandbox/wechatpay/keys`). */
export type SandboxKeysAnswer = z.infer<typeof keysSchema>;

/**
 * Client options for the sandbox at `sandboxUrl` from its keys: certificate download enabled and
 * the 微信支付公钥 configured, so either signing mode of the sandbox verifies.
 */
export function clientOptionsFromSandboxKeys(sandboxUrl: string, keys: SandboxKeysAnswer): WechatPayClientOptions {
  return {
    baseUrl: sandboxUrl,
    mchid: keys.mchid,
    appid: keys.appid,
    merchantSerialNo: keys.serialNo,
    merchantPrivateKey: keys.merchantPrivateKey,
    apiV3Key: keys.apiV3Key,
    platformPublicKey: { id: keys.platformPublicKeyId, pem: keys.platformPublicKey },
    platformCertificates: true,
  };
}

/**
 * Asks the sandbox at `sandboxUrl` for its development keys. Throws `UpstreamUnreachable` /
 * `UpstreamBadAnswer` as `requestJson` does, and `UpstreamBadAnswer`-like `Error` when the answer
 * lacks a key.
 */
export async function fetchSandboxClientOptions(
  sandboxUrl: string,
  timeoutMs = 10_000,
): Promise<WechatPayClientOptions> {
  const answer = await requestJson({
    method: 'GET',
    url: new URL('/sandbox/wechatpay/keys', sandboxUrl).toString(),
    timeoutMs,
  });
  const parsed = keysSchema.safeParse(answer);
  if (!parsed.success) throw new Error(`${sandboxUrl} answered /sandbox/wechatpay/keys without the keys`);
  return clientOptionsFromSandboxKeys(sandboxUrl, parsed.data);
}
