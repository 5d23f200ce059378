import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatByteAuthorization, signRequestOrder } from '../../server/adapters/payments/douyin-trade/signing';
import { ConfigError, loadConfig } from '../../server/config';
import { ecPem, ed25519Pem, rsaPem, writeOtherKeyFiles } from '../support/key-files';
import { REAL_DOUYIN } from '../support/real-upstreams';

/**
 * What boot takes for Douyin's 通用交易系统 against the real Douyin (`DOUYIN_API_BASE_URL` with
 * `TT_PAYMENT_PROVIDER=trade`): RSA keys of at least 2048 bits (byteAuthorization says
 * `SHA256-RSA2048`; Node would sign with an EC key under `RSA-SHA256` without a word), a key
 * version that reads back the same from byteAuthorization, and an `https://` PUBLIC_BASE_URL
 * (payNotifyUrl is HTTPS only). The signer refuses the same values itself.
 */

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems;
  }
}

describe("the 通用交易系统's settings against the real Douyin", () => {
  let dir: string;
  let real: Record<string, string>;
  const file = (name: string) => join(dir, name);
  const write = (name: string, text: string) => writeFileSync(file(name), text);

  const appExpected =
    'it must be the app private key whose public half is uploaded in 开发设置 → 密钥设置: ' +
    'an RSA private key of at least 2048 bits (byteAuthorization is SHA256-RSA2048)';
  const platformExpected =
    "it must be Douyin's platform public key: an RSA public key of at least 2048 bits (callbacks are signed RSA-SHA256)";

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'douyin-trade-config-'));
    write('app_key.pem', rsaPem().privateKey);
    write('platform_pub.pem', rsaPem().publicKey);
    await writeOtherKeyFiles(write, [1024]);
    real = {
      ...REAL_DOUYIN,
      PUBLIC_BASE_URL: 'https://shop.example.com',
      TT_PAYMENT_PROVIDER: 'trade',
      DOUYIN_APP_PRIVATE_KEY_FILE: file('app_key.pem'),
      DOUYIN_KEY_VERSION: '1',
      DOUYIN_PLATFORM_PUBLIC_KEY_FILE: file('platform_pub.pem'),
    };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('should take 2048-bit RSA keys, PKCS#8 or PKCS#1 private and SPKI or PKCS#1 public', () => {
    expect(loadConfig(real).douyinTrade).toMatchObject({ keyVersion: '1' });
    const pkcs1 = {
      ...real,
      DOUYIN_APP_PRIVATE_KEY_FILE: file('pkcs1_key.pem'),
      DOUYIN_PLATFORM_PUBLIC_KEY_FILE: file('pkcs1_pub.pem'),
    };
    expect(loadConfig(pkcs1).douyinTrade?.platformPublicKeyPem).toContain('BEGIN RSA PUBLIC KEY');
  });

  it.each([
    ['ec_key.pem', 'holds an EC (prime256v1) private key'],
    ['ed25519_key.pem', 'holds an Ed25519 private key'],
    ['rsa1024_key.pem', 'holds a 1024-bit RSA private key'],
    ['platform_pub.pem', 'holds a 2048-bit RSA public key, not a private key'],
    ['cert.pem', 'holds an X.509 certificate, not the private key'],
    ['encrypted_key.pem', 'holds an encrypted private key (the server takes it unencrypted)'],
  ])('should refuse %s as DOUYIN_APP_PRIVATE_KEY_FILE, saying what it holds and what it must be', (name, found) => {
    expect(problemsOf({ ...real, DOUYIN_APP_PRIVATE_KEY_FILE: file(name) })).toEqual([
      `DOUYIN_APP_PRIVATE_KEY_FILE ${file(name)} ${found}: ${appExpected}`,
    ]);
  });

  it.each([
    ['ec_pub.pem', 'holds an EC (prime256v1) public key'],
    ['ed25519_pub.pem', 'holds an Ed25519 public key'],
    ['rsa1024_pub.pem', 'holds a 1024-bit RSA public key'],
    ['cert.pem', 'holds an X.509 certificate, not a public key'],
    ['ec_key.pem', 'holds a private key'],
  ])('should refuse %s as DOUYIN_PLATFORM_PUBLIC_KEY_FILE, saying what it holds and what it must be', (name, found) => {
    expect(problemsOf({ ...real, DOUYIN_PLATFORM_PUBLIC_KEY_FILE: file(name) })).toEqual([
      `DOUYIN_PLATFORM_PUBLIC_KEY_FILE ${file(name)} ${found}: ${platformExpected}`,
    ]);
  });

  it('should check the keys kept after switching back to the cashier as well', () => {
    const { TT_PAYMENT_PROVIDER: _trade, ...cashier } = real;
    expect(problemsOf({ ...cashier, DOUYIN_APP_PRIVATE_KEY_FILE: file('ec_key.pem') })).toEqual([
      expect.stringMatching(/^DOUYIN_APP_PRIVATE_KEY_FILE .+ holds an EC \(prime256v1\) private key: /),
    ]);
  });

  it.each(['1,signature=x', '1=2', '1 2', 'v\t1', '1;2', '版本1', 'x'.repeat(65)])(
    'should refuse the key version %j, which would not read back the same from byteAuthorization',
    (keyVersion) => {
      expect(problemsOf({ ...real, DOUYIN_KEY_VERSION: keyVersion })).toEqual([
        `DOUYIN_KEY_VERSION ${JSON.stringify(keyVersion.slice(0, 80))} cannot go into byteAuthorization: it must be ` +
          "the version the console gave the uploaded app public key, e.g. 1 (1 to 64 letters, digits, '.', '_' or '-')",
      ]);
    },
  );

  it.each(['1', '12', '2024.01', 'v_1-a'])('should take the plain key version %j', (keyVersion) => {
    expect(loadConfig({ ...real, DOUYIN_KEY_VERSION: keyVersion }).douyinTrade?.keyVersion).toBe(keyVersion);
  });

  it('should refuse an AppID that byteAuthorization would not carry as it is', () => {
    expect(problemsOf({ ...real, DOUYIN_APPID: 'tt1,key_version=9' })).toEqual([
      expect.stringMatching(/^DOUYIN_APPID "tt1,key_version=9" cannot go into byteAuthorization: /),
    ]);
  });

  it('should require an https:// PUBLIC_BASE_URL, as payNotifyUrl must be HTTPS', () => {
    expect(problemsOf({ ...real, PUBLIC_BASE_URL: 'http://shop.example.com' })).toEqual([
      'PUBLIC_BASE_URL must be https:// when TT_PAYMENT_PROVIDER=trade and DOUYIN_API_BASE_URL are set: ' +
        "Douyin's 通用交易系统 takes an HTTPS payNotifyUrl only (ALLOW_UNREACHABLE_WEBHOOKS=true starts anyway)",
    ]);
    // 担保支付 and the legacy cashier ask nothing of the scheme; the sandbox calls back over plain HTTP.
    const { TT_PAYMENT_PROVIDER: _trade, ...cashier } = real;
    expect(loadConfig({ ...cashier, PUBLIC_BASE_URL: 'http://shop.example.com' }).publicBaseUrl).toBe(
      'http://shop.example.com',
    );
    expect(loadConfig({ TT_PAYMENT_PROVIDER: 'trade', PUBLIC_BASE_URL: 'http://127.0.0.1:3000' }).douyinTrade).toBe(
      undefined,
    );
    expect(
      loadConfig({ ...real, PUBLIC_BASE_URL: 'http://shop.example.com', ALLOW_UNREACHABLE_WEBHOOKS: 'true' })
        .douyinTrade,
    ).toMatchObject({ keyVersion: '1' });
  });

  it('should refuse to boot with an EC app key, a bad key version and an http:// PUBLIC_BASE_URL, naming each', async () => {
    const root = join(__dirname, '..', '..');
    // Node itself, with tsx as a loader: the tsx command runs the server as its child, which a
    // kill of the command would leave running.
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        ...real,
        DATA_DIR: join(dir, 'data'),
        PORT: '0',
        SANDBOX_PORT: '0',
        PUBLIC_BASE_URL: 'http://shop.example.com',
        DOUYIN_APP_PRIVATE_KEY_FILE: file('ec_key.pem'),
        DOUYIN_KEY_VERSION: '1,signature=x',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    try {
      const code = await new Promise<number | null>((resolve) => {
        child.on('exit', resolve);
        // A start that goes through would run until killed.
        child.stdout.on('data', () => /Checkout server/.test(output) && resolve(-1));
      });
      expect(code).toBe(1);
    } finally {
      child.kill('SIGKILL');
    }
    expect(output).toMatch(/DOUYIN_KEY_VERSION "1,signature=x" cannot go into byteAuthorization/);
    expect(output).toMatch(/DOUYIN_APP_PRIVATE_KEY_FILE .+ holds an EC \(prime256v1\) private key: it must be/);
    expect(output).toMatch(/PUBLIC_BASE_URL must be https:\/\/ when TT_PAYMENT_PROVIDER=trade/);
  }, 30_000);
});

describe("byteAuthorization's signer", () => {
  const rsa = rsaPem();
  const base = {
    data: '{"outOrderNo":"B1"}',
    appid: 'tt1',
    keyVersion: '1',
    privateKey: rsa.privateKey,
    nowSeconds: 1,
  };

  it('should sign with a plain key version and an RSA key', () => {
    expect(signRequestOrder(base)).toMatch(
      /^SHA256-RSA2048 appid=tt1,nonce_str=[0-9a-f]+,timestamp=1,key_version=1,signature=/,
    );
  });

  it.each([
    ['key_version', { keyVersion: '1,signature=x' }],
    ['key_version', { keyVersion: '1=2' }],
    ['key_version', { keyVersion: '1 2' }],
    ['key_version', { keyVersion: '' }],
    ['appid', { appid: 'tt1,nonce_str=x' }],
    ['nonce_str', { nonceStr: 'a,b' }],
  ])('should refuse to write a %s that would be read as other parts: %j', (part, change) => {
    expect(() => signRequestOrder({ ...base, ...change })).toThrow(
      expect.objectContaining({ code: 'INTERNAL', details: expect.objectContaining({ parts: [part] }) }),
    );
  });

  it('should refuse a signature that is not base64 when formatting', () => {
    expect(() =>
      formatByteAuthorization({ appid: 'tt1', nonceStr: 'n', timestamp: '1', keyVersion: '1', signature: 'a,b=c' }),
    ).toThrow(
      expect.objectContaining({ code: 'INTERNAL', details: expect.objectContaining({ parts: ['signature'] }) }),
    );
  });

  it('should refuse to sign SHA256-RSA2048 with an EC or Ed25519 key', () => {
    for (const key of [ecPem().privateKey, ed25519Pem().privateKey]) {
      expect(() => signRequestOrder({ ...base, privateKey: key })).toThrow(
        expect.objectContaining({ code: 'INTERNAL', message: expect.stringMatching(/RSA private key/) }),
      );
    }
  });
});
