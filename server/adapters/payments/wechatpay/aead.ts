import { createDecipheriv } from 'node:crypto';
import { WechatPayVerificationError } from './errors';

/**
 * AEAD_AES_256_GCM, how WeChat Pay encrypts notification resources and platform certificates
 * (pay.weixin.qq.com, "证书和回调报文解密"; payments-beyond.md, "WeChat Pay APIv3"): the key is
 * the 32-byte APIv3 key, the IV the 12-byte `nonce`, the AAD `associated_data`, and
 * `ciphertext` is base64 of the ciphertext followed by the 16-byte tag.
 */

export const AEAD_ALGORITHM = 'AEAD_AES_256_GCM';
const TAG_BYTES = 16;

/** An encrypted resource as WeChat Pay sends it (`resource`, `encrypt_certificate`). */
export interface EncryptedResource {
  algorithm: string;
  ciphertext: string;
  associated_data?: string;
  nonce: string;
}

/**
 * Decrypts `resource` with the APIv3 key (32 ASCII characters) and returns the plaintext (UTF-8).
 * Throws `WechatPayVerificationError` `BAD_CIPHERTEXT` for another algorithm, a key or nonce of the
 * wrong size, or a tag that does not match (tampered ciphertext or AAD, wrong key).
 */
export function decryptResource(resource: EncryptedResource, apiV3Key: string): string {
  if (resource.algorithm !== AEAD_ALGORITHM) {
    throw new WechatPayVerificationError(
      'BAD_CIPHERTEXT',
      `unsupported algorithm ${JSON.stringify(resource.algorithm)}`,
    );
  }
  const key = Buffer.from(apiV3Key, 'utf8');
  const iv = Buffer.from(resource.nonce, 'utf8');
  const sealed = Buffer.from(resource.ciphertext, 'base64');
  if (key.length !== 32) throw new WechatPayVerificationError('BAD_CIPHERTEXT', 'the APIv3 key must be 32 bytes');
  if (iv.length !== 12) throw new WechatPayVerificationError('BAD_CIPHERTEXT', 'the nonce must be 12 bytes');
  if (sealed.length < TAG_BYTES)
    throw new WechatPayVerificationError('BAD_CIPHERTEXT', 'the ciphertext is shorter than its tag');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(Buffer.from(resource.associated_data ?? '', 'utf8'));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    throw new WechatPayVerificationError('BAD_CIPHERTEXT', 'AEAD_AES_256_GCM authentication failed');
  }
}
