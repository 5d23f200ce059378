import { generateKeyPair } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeDirectory } from '../../make-directory';
import { randomString } from '../shared/random';

/**
 * The development keys of the emulated Douyin payment systems (payments-beyond.md, "Douyin
 * mini-program payment"): 担保支付's SALT (request `sign`) and token (callback `msg_signature`),
 * and 通用交易系统's two RSA-2048 pairs — the app's (the merchant signs `byteAuthorization` with its
 * private half and uploads the public half in the developer console) and the platform's (Douyin
 * signs callbacks and answers with its private half; merchants download the public half).
 * Development keys only: generated once per data directory (`douyin-pay-keys.json`) or once per
 * sandbox in memory, and handed to anyone who asks `GET /sandbox/douyin/keys`.
 */
export interface DouyinPaySandboxKeys {
  /** 担保支付 SALT (控制台 → 支付 → 担保配置). */
  salt: string;
  /** 担保支付 callback token. */
  token: string;
  /** SPKI PEM. */
  appPublicKey: string;
  /** PKCS#8 PEM. */
  appPrivateKey: string;
  /** SPKI PEM. */
  platformPublicKey: string;
  /** PKCS#8 PEM. */
  platformPrivateKey: string;
  /** The version number the app key was uploaded under (`key_version` in `byteAuthorization`). */
  keyVersion: string;
}

const KEYS_FILE = 'douyin-pay-keys.json';
const generateRsa = promisify(generateKeyPair);

async function rsaPair(): Promise<{ privateKey: string; publicKey: string }> {
  return generateRsa('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

/** A fresh set of development keys. */
export async function generateDouyinPayKeys(): Promise<DouyinPaySandboxKeys> {
  const [app, platform] = await Promise.all([rsaPair(), rsaPair()]);
  return {
    salt: randomString(40),
    token: randomString(24),
    appPublicKey: app.publicKey,
    appPrivateKey: app.privateKey,
    platformPublicKey: platform.publicKey,
    platformPrivateKey: platform.privateKey,
    keyVersion: '1',
  };
}

/**
 * Holds the keys: made on first use (RSA generation takes a moment and most sandboxes never
 * serve Douyin's payment systems), read from `directory` when it has them, written back once.
 */
export class DouyinPayKeyRing {
  private loading?: Promise<DouyinPaySandboxKeys>;

  constructor(
    private readonly directory?: string,
    private readonly given?: DouyinPaySandboxKeys,
  ) {}

  /** The keys, generated (or read from the data directory) the first time. */
  get(): Promise<DouyinPaySandboxKeys> {
    this.loading ??= this.load();
    return this.loading;
  }

  private async load(): Promise<DouyinPaySandboxKeys> {
    if (this.given) return structuredClone(this.given);
    const file = this.directory ? join(this.directory, KEYS_FILE) : undefined;
    if (file && existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DouyinPaySandboxKeys;
    const keys = await generateDouyinPayKeys();
    if (this.directory && file) {
      makeDirectory(this.directory);
      writeFileSync(`${file}.tmp`, JSON.stringify(keys, null, 2), { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
    }
    return keys;
  }
}
