import { createCipheriv, createSign, createVerify, randomBytes } from 'node:crypto';
import { privateKeyOf, publicKeyOf } from '../shared/parsed-keys';
import { nonceStr, randomString } from '../shared/random';
import type { WechatPaySandboxKeys } from './keys';

/**
 * The emulated WeChat Pay's side of the APIv3 crypto (pay.weixin.qq.com, "签名生成", "签名验证",
 * "证书和回调报文解密"; payments-beyond.md, "WeChat Pay APIv3"), written apart from the
 * merchant-side adapter so that each checks the other.
 */

/** How far a request's `timestamp` may be from the sandbox clock, s (WeChat refuses older requests). */
const REQUEST_SKEW_SECONDS = 300;

const lines = (...parts: string[]) => parts.map((part) => `${part}\n`).join('');

/** Why a request's `Authorization` was refused (answered 401 `SIGN_ERROR`), or undefined when it verifies. */
export function requestSignatureProblem(
  keys: WechatPaySandboxKeys,
  request: { method: string; pathWithQuery: string; body: string; authorization: string | undefined },
  nowMs: number,
): string | undefined {
  const header = request.authorization ?? '';
  const match = /^WECHATPAY2-SHA256-RSA2048\s+(.+)$/.exec(header.trim());
  if (!match) return 'Authorization is not WECHATPAY2-SHA256-RSA2048';
  const fields = new Map<string, string>();
  for (const part of match[1].matchAll(/([a-z_]+)="([^"]*)"/g)) fields.set(part[1], part[2]);
  const [mchid, serial, timestamp, nonce, signature] = [
    'mchid',
    'serial_no',
    'timestamp',
    'nonce_str',
    'signature',
  ].map((name) => fields.get(name) ?? '');
  if (!mchid || !serial || !timestamp || !nonce || !signature) {
    return 'Authorization lacks one of mchid, serial_no, timestamp, nonce_str, signature';
  }
  if (mchid !== keys.mchid) return `mchid ${mchid} is not this merchant`;
  if (serial.toUpperCase() !== keys.serialNo.toUpperCase())
    return `serial_no ${serial} is not the merchant's certificate`;
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(Math.floor(nowMs / 1000) - Number(timestamp)) > REQUEST_SKEW_SECONDS) {
    return `timestamp ${timestamp} is too far from now`;
  }
  const message = lines(request.method, request.pathWithQuery, timestamp, nonce, request.body);
  let valid: boolean;
  try {
    valid = createVerify('RSA-SHA256')
      .update(message, 'utf8')
      .verify(publicKeyOf(keys.merchantPublicKey), signature, 'base64');
  } catch {
    valid = false;
  }
  return valid ? undefined : 'signature does not verify with the merchant key';
}

/**
 * The serial and private key that sign: the 微信支付公钥 when the merchant's request names its id
 * in `Wechatpay-Serial` (WeChat then answers with that key, which is how a merchant moves its
 * answers off the platform certificates: "如何从平台证书切换成微信支付公钥"), else what the mode says —
 * the newest certificate, or the 微信支付公钥 in public-key mode. Notifications name no request.
 */
function signer(keys: WechatPaySandboxKeys, requestedSerial?: string): { serial: string; privateKeyPem: string } {
  if (keys.mode === 'public_key' || (requestedSerial !== undefined && requestedSerial === keys.platformPublicKeyId)) {
    return { serial: keys.platformPublicKeyId, privateKeyPem: keys.platformPrivateKey };
  }
  const current = keys.certificates[keys.certificates.length - 1];
  return { serial: current.serialNo, privateKeyPem: current.privateKeyPem };
}

/**
 * The `Wechatpay-*` headers of an answer or notification carrying `body`, signed at `nowMs`;
 * `requestedSerial` is the `Wechatpay-Serial` of the request being answered, if any.
 */
export function signatureHeaders(
  keys: WechatPaySandboxKeys,
  body: string,
  nowMs: number,
  requestedSerial?: string,
): Record<string, string> {
  const { serial, privateKeyPem } = signer(keys, requestedSerial);
  const timestamp = String(Math.floor(nowMs / 1000));
  const nonce = nonceStr();
  const signature = createSign('RSA-SHA256')
    .update(lines(timestamp, nonce, body), 'utf8')
    .sign(privateKeyOf(privateKeyPem), 'base64');
  return {
    'Wechatpay-Timestamp': timestamp,
    'Wechatpay-Nonce': nonce,
    'Wechatpay-Signature': signature,
    'Wechatpay-Serial': serial,
    'Request-ID': randomString(32, '0123456789abcdef'),
  };
}

/** An AEAD_AES_256_GCM resource: base64(ciphertext ‖ 16-byte tag) under the APIv3 key. */
export function encryptResource(
  plaintext: string,
  apiV3Key: string,
  associatedData: string,
): { algorithm: 'AEAD_AES_256_GCM'; ciphertext: string; associated_data: string; nonce: string } {
  const nonce = randomBytes(6).toString('hex');
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(apiV3Key, 'utf8'), Buffer.from(nonce, 'utf8'));
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return {
    algorithm: 'AEAD_AES_256_GCM',
    ciphertext: sealed.toString('base64'),
    associated_data: associatedData,
    nonce,
  };
}
