import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DEVELOPMENT_SECRETS, loadConfig } from '../../server/config';
import { rsaPem, writeOtherKeyFiles } from '../support/key-files';
import { REAL_DOUYIN, REAL_GATEWAY, REAL_WECHAT, REAL_WECHATPAY } from '../support/real-upstreams';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems;
  }
}

/**
 * Writes a fresh 2048-bit RSA key pair into `dir` as `<name>_key.pem` (PKCS#8) and
 * `<name>_pub.pem` (SPKI), and returns both PEMs.
 */
function writeRsaPair(dir: string, name: string): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = rsaPem();
  writeFileSync(join(dir, `${name}_key.pem`), privateKey);
  writeFileSync(join(dir, `${name}_pub.pem`), publicKey);
  return { privateKey, publicKey };
}

describe('loadConfig', () => {
  it('should start with no configuration at all: sandbox, PGlite in ./.data, ports 3000/3100', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      sandboxPort: 3100,
      host: '127.0.0.1',
      dataDir: './.data',
      databaseUrl: undefined,
      sandboxEnabled: true,
      gateway: { appId: DEVELOPMENT_SECRETS.gatewayAppId, testMode: false },
      wechat: { appId: DEVELOPMENT_SECRETS.wechatAppId },
    });
  });

  it('should name every missing secret once a real gateway is configured', () => {
    expect(() => loadConfig({ GATEWAY_BASE_URL: 'https://payapi.example.com' })).toThrow(ConfigError);
    try {
      loadConfig({
        GATEWAY_BASE_URL: 'https://payapi.example.com',
        GATEWAY_APP_ID: 'app',
        PUBLIC_BASE_URL: 'https://shop.example.com',
      });
    } catch (error) {
      expect((error as ConfigError).problems).toEqual([
        'GATEWAY_APP_SECRET is required when GATEWAY_BASE_URL is set',
        'GATEWAY_MASTER_SECRET is required when GATEWAY_BASE_URL is set',
      ]);
    }
  });

  it('should require WeChat credentials once a real WeChat API is configured', () => {
    expect(() => loadConfig({ WECHAT_API_BASE_URL: 'https://api.weixin.qq.com' })).toThrow(/WECHAT_APPID is required/);
  });

  it('should turn the sandbox off only when every upstream is real', () => {
    const config = loadConfig({
      ...REAL_GATEWAY,
      ...REAL_WECHAT,
      ...REAL_DOUYIN,
      PUBLIC_BASE_URL: 'https://shop.example.com/',
    });
    expect(config.sandboxEnabled).toBe(false);
    expect(config.publicBaseUrl).toBe('https://shop.example.com');
  });

  it('should require every Douyin credential once a real Douyin API is configured', () => {
    expect(() => loadConfig({ DOUYIN_API_BASE_URL: 'https://developer.toutiao.com' })).toThrow(
      /DOUYIN_APPID is required[\s\S]*DOUYIN_SECRET[\s\S]*DOUYIN_PAY_APP_ID[\s\S]*DOUYIN_MERCHANT_ID[\s\S]*DOUYIN_PAY_SECRET/,
    );
  });

  it('should put bills in the gateway test mode when GATEWAY_TEST_SECRET is set', () => {
    expect(loadConfig({ GATEWAY_TEST_SECRET: 't' }).gateway).toMatchObject({ testMode: true, testSecret: 't' });
  });

  it('should default the order lifetime, the sweeper and the automatic return of second payments', () => {
    expect(loadConfig({})).toMatchObject({
      orderTtlSeconds: 900,
      autoRefundDuplicates: true,
      sweeper: { intervalSeconds: 5, concurrency: 32, gatewayCheckIntervalSeconds: 10, webhookGraceSeconds: 10 },
      gateway: { timeoutMs: 10_000 },
    });
  });

  it.each([
    ['false', false],
    ['0', false],
    ['true', true],
    ['1', true],
    ['', true],
  ])('should read AUTO_REFUND_DUPLICATES=%j as %s', (value, expected) => {
    expect(loadConfig({ AUTO_REFUND_DUPLICATES: value }).autoRefundDuplicates).toBe(expected);
  });

  it('should take the sweeper settings and the order lifetime from the environment', () => {
    const config = loadConfig({
      ORDER_TTL_SECONDS: '120',
      SWEEP_INTERVAL_SECONDS: '2',
      SWEEP_CONCURRENCY: '4',
      GATEWAY_CHECK_INTERVAL_SECONDS: '30',
      WEBHOOK_GRACE_SECONDS: '0',
      GATEWAY_TIMEOUT_MS: '2500',
    });
    expect(config).toMatchObject({
      orderTtlSeconds: 120,
      sweeper: { intervalSeconds: 2, concurrency: 4, gatewayCheckIntervalSeconds: 30, webhookGraceSeconds: 0 },
      gateway: { timeoutMs: 2500 },
    });
  });

  it.each([
    [{ PORT: 'eighty' }, /PORT/],
    [{ ORDER_TTL_SECONDS: '60' }, /ORDER_TTL_SECONDS/],
    [{ ORDER_TTL_SECONDS: '1.5' }, /ORDER_TTL_SECONDS/],
    [{ AUTO_REFUND_DUPLICATES: 'yes' }, /AUTO_REFUND_DUPLICATES/],
    [{ SWEEP_INTERVAL_SECONDS: '0' }, /SWEEP_INTERVAL_SECONDS/],
    [{ SWEEP_CONCURRENCY: '1000' }, /SWEEP_CONCURRENCY/],
    [{ GATEWAY_CHECK_INTERVAL_SECONDS: 'soon' }, /GATEWAY_CHECK_INTERVAL_SECONDS/],
    [{ WEBHOOK_GRACE_SECONDS: '-1' }, /WEBHOOK_GRACE_SECONDS/],
    [{ GATEWAY_TIMEOUT_MS: '10' }, /GATEWAY_TIMEOUT_MS/],
    [{ PORT: '70000' }, /PORT/],
    [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL/],
    [{ GATEWAY_BASE_URL: 'ftp://x' }, /GATEWAY_BASE_URL/],
  ])('should reject %j naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it.each([
    'GATEWAY_BASE_URL',
    'WECHAT_API_BASE_URL',
    'WECHATPAY_BASE_URL',
    'DOUYIN_API_BASE_URL',
    'DOUYIN_OPEN_API_BASE_URL',
  ])('should refuse a path, query or fragment in %s (its API paths would drop them), and take an origin', (name) => {
    for (const url of ['https://egress.example/wxpay', 'https://api.example/?x=1', 'https://api.example/#f']) {
      expect(problemsOf({ [name]: url })).toContainEqual(
        expect.stringMatching(new RegExp(`^${name}: must be an origin`)),
      );
    }
    for (const url of ['https://api.example', 'https://api.example/', 'http://127.0.0.1:3100']) {
      expect(problemsOf({ [name]: url }).filter((problem) => problem.startsWith(`${name}:`))).toEqual([]);
    }
  });

  it('should treat empty variables as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', GATEWAY_BASE_URL: ' ' }).sandboxEnabled).toBe(true);
  });

  describe('the address a real upstream calls back', () => {
    function problemsOf(env: Record<string, string>): string[] {
      try {
        loadConfig(env);
        return [];
      } catch (error) {
        return (error as ConfigError).problems;
      }
    }

    it.each([
      ['gateway', REAL_GATEWAY, /^PUBLIC_BASE_URL is required when GATEWAY_BASE_URL is set: the gateway will call/],
      ['Douyin', REAL_DOUYIN, /^PUBLIC_BASE_URL is required when DOUYIN_API_BASE_URL is set: Douyin will call/],
    ])('should refuse a real %s without PUBLIC_BASE_URL, saying why and how to start anyway', (_name, env, message) => {
      const problems = problemsOf(env);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(message);
      expect(problems[0]).toMatch(/ALLOW_UNREACHABLE_WEBHOOKS=true/);
    });

    it.each([
      'http://127.0.0.1:3000',
      'http://127.8.0.1',
      'http://localhost:3000',
      'http://LOCALHOST.',
      'http://shop.localhost',
      'http://[::1]:3000',
      'http://0.0.0.0:3000',
      'http://[::]',
      'http://2130706433', // 127.0.0.1 spelled as one number
      'http://[::ffff:127.0.0.1]',
      'http://10.1.2.3',
      'http://172.20.0.1',
      'http://192.168.1.10:8080',
      'http://100.64.0.1',
      'http://169.254.169.254',
      'http://[fd12:3456::1]',
      'http://[fe80::1]',
      'http://224.0.0.1',
      'http://checkout:3000',
      'https://shop.local',
      'https://pay.internal',
    ])('should refuse a real gateway calling back %s', (url) => {
      const problems = problemsOf({ ...REAL_GATEWAY, PUBLIC_BASE_URL: url });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^PUBLIC_BASE_URL cannot be reached from the internet \(.+\): the gateway will call/);
    });

    it.each([
      'https://shop.example.com',
      'http://203.0.113.10:8080',
      'https://[2001:db8::1]',
      'https://abc123.ngrok-free.app/',
    ])('should accept a real gateway calling back %s', (url) => {
      expect(loadConfig({ ...REAL_GATEWAY, PUBLIC_BASE_URL: url }).publicBaseUrl).toBe(url.replace(/\/$/, ''));
    });

    it.each(['https://shop.example.com/?a=1', 'https://shop.example.com/#top', 'http://127.0.0.1:3000?x'])(
      'should refuse PUBLIC_BASE_URL %s, whose query or fragment would land inside every notify URL',
      (url) => {
        for (const env of [REAL_GATEWAY, {}]) {
          expect(problemsOf({ ...env, PUBLIC_BASE_URL: url }).join('\n')).toMatch(
            /PUBLIC_BASE_URL.*must have no query string or fragment/,
          );
        }
      },
    );

    it('should start anyway with ALLOW_UNREACHABLE_WEBHOOKS=true', () => {
      expect(loadConfig({ ...REAL_GATEWAY, ALLOW_UNREACHABLE_WEBHOOKS: 'true' }).publicBaseUrl).toBeUndefined();
      expect(
        loadConfig({ ...REAL_DOUYIN, ALLOW_UNREACHABLE_WEBHOOKS: '1', PUBLIC_BASE_URL: 'http://127.0.0.1:3000' })
          .publicBaseUrl,
      ).toBe('http://127.0.0.1:3000');
      expect(problemsOf({ ...REAL_GATEWAY, ALLOW_UNREACHABLE_WEBHOOKS: 'false' })).toHaveLength(1);
      expect(() => loadConfig({ ALLOW_UNREACHABLE_WEBHOOKS: 'yes' })).toThrow(/ALLOW_UNREACHABLE_WEBHOOKS/);
    });

    it('should not ask for PUBLIC_BASE_URL when nothing real calls back (the sandbox, WeChat login)', () => {
      expect(() => loadConfig({})).not.toThrow();
      expect(() => loadConfig(REAL_WECHAT)).not.toThrow();
    });
  });

  it('should refuse one port for both the server and the sandbox', () => {
    expect(() => loadConfig({ PORT: '3000', SANDBOX_PORT: '3000' })).toThrow(/PORT and SANDBOX_PORT are both 3000/);
    expect(() => loadConfig({ SANDBOX_PORT: '3000' })).toThrow(/PORT and SANDBOX_PORT are both 3000/);
    expect(loadConfig({ PORT: '0', SANDBOX_PORT: '0' })).toMatchObject({ port: 0, sandboxPort: 0 });
  });

  it('should let PORT equal the unused SANDBOX_PORT once every upstream is real', () => {
    const config = loadConfig({
      PORT: '3100',
      ...REAL_GATEWAY,
      ...REAL_WECHAT,
      ...REAL_DOUYIN,
      PUBLIC_BASE_URL: 'https://shop.example.com',
    });
    expect(config).toMatchObject({ port: 3100, sandboxEnabled: false });
  });

  describe('WeChat Pay', () => {
    let dir: string;
    let merchantKey: string;
    let platformKey: string;
    let real: Record<string, string>;

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'config-wechatpay-'));
      merchantKey = writeRsaPair(dir, 'merchant').privateKey;
      platformKey = writeRsaPair(dir, 'platform').publicKey;
      real = { ...REAL_WECHATPAY, WECHATPAY_PRIVATE_KEY_FILE: join(dir, 'merchant_key.pem') };
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('should keep the gateway for mini-program payments by default, and need nothing for the WeChat Pay sandbox', () => {
      expect(loadConfig({})).toMatchObject({ weappPaymentProvider: 'gateway', wechatpay: { baseUrl: undefined } });
      expect(loadConfig({}).wechatpay.merchant).toBeUndefined();
      const sandboxed = loadConfig({ WEAPP_PAYMENT_PROVIDER: 'wechatpay' });
      expect(sandboxed).toMatchObject({ weappPaymentProvider: 'wechatpay', sandboxEnabled: true });
      expect(sandboxed.wechatpay).toEqual({ baseUrl: undefined, merchant: undefined });
      expect(problemsOf({ WEAPP_PAYMENT_PROVIDER: 'alipay' })).toEqual([
        expect.stringMatching(/^WEAPP_PAYMENT_PROVIDER: /),
      ]);
    });

    it('should keep the sandbox running for a WeChat Pay provider without a base URL, every other upstream real', () => {
      const config = loadConfig({
        ...REAL_GATEWAY,
        ...REAL_WECHAT,
        ...REAL_DOUYIN,
        PUBLIC_BASE_URL: 'https://shop.example.com',
        WEAPP_PAYMENT_PROVIDER: 'wechatpay',
      });
      expect(config.sandboxEnabled).toBe(true);
    });

    it('should name every missing credential once a real WeChat Pay is configured', () => {
      expect(problemsOf({ WECHATPAY_BASE_URL: 'https://api.mch.weixin.qq.com' })).toEqual([
        'WECHATPAY_MCHID is required when WECHATPAY_BASE_URL is set',
        'WECHATPAY_SERIAL_NO is required when WECHATPAY_BASE_URL is set',
        'WECHATPAY_APIV3_KEY is required when WECHATPAY_BASE_URL is set',
        'WECHATPAY_PRIVATE_KEY_FILE is required when WECHATPAY_BASE_URL is set',
      ]);
    });

    it('should read the merchant key and the 微信支付公钥 from their files', () => {
      const config = loadConfig({
        ...real,
        WECHATPAY_PUBLIC_KEY_ID: 'PUB_KEY_ID_0112300001092025010100000000000001',
        WECHATPAY_PUBLIC_KEY_FILE: join(dir, 'platform_pub.pem'),
      });
      expect(config.wechatpay).toEqual({
        baseUrl: 'https://api.mch.weixin.qq.com',
        merchant: {
          mchid: '1230000109',
          serialNo: real.WECHATPAY_SERIAL_NO,
          privateKeyPem: merchantKey,
          apiV3Key: 'a'.repeat(32),
          publicKey: { id: 'PUB_KEY_ID_0112300001092025010100000000000001', pem: platformKey },
        },
      });
      expect(loadConfig(real).wechatpay.merchant?.publicKey).toBeUndefined();
      // With the gateway still opening mini-program bills, WeChat Pay calls nothing back.
      expect(loadConfig(real).sandboxEnabled).toBe(true);
    });

    it.each([
      [
        { WECHATPAY_PRIVATE_KEY_FILE: '/no/such/apiclient_key.pem' },
        /^WECHATPAY_PRIVATE_KEY_FILE \/no\/such\/apiclient_key\.pem cannot be read: ENOENT$/,
      ],
      [
        { WECHATPAY_PRIVATE_KEY_FILE: 'platform_pub.pem' },
        /^WECHATPAY_PRIVATE_KEY_FILE .+ holds a 2048-bit RSA public key, not a private key: it must be the merchant's API private key/,
      ],
      [{ WECHATPAY_APIV3_KEY: 'a'.repeat(31) }, /^WECHATPAY_APIV3_KEY: must be 32 characters/],
      [{ WECHATPAY_MCHID: 'mch-1' }, /^WECHATPAY_MCHID: must be the 商户号/],
      [
        { WECHATPAY_PUBLIC_KEY_ID: 'PUB_KEY_ID_01' },
        /^WECHATPAY_PUBLIC_KEY_ID and WECHATPAY_PUBLIC_KEY_FILE go together/,
      ],
      [
        { WECHATPAY_PUBLIC_KEY_FILE: 'platform_pub.pem' },
        /^WECHATPAY_PUBLIC_KEY_ID and WECHATPAY_PUBLIC_KEY_FILE go together/,
      ],
      [
        { WECHATPAY_PUBLIC_KEY_ID: 'PUB_KEY_01', WECHATPAY_PUBLIC_KEY_FILE: 'platform_pub.pem' },
        /^WECHATPAY_PUBLIC_KEY_ID: must be the 微信支付公钥's id/,
      ],
      [
        { WECHATPAY_PUBLIC_KEY_ID: 'PUB_KEY_ID_01', WECHATPAY_PUBLIC_KEY_FILE: 'merchant_key.pem' },
        /^WECHATPAY_PUBLIC_KEY_FILE .+ holds a private key: it must be the 微信支付公钥/,
      ],
    ])('should refuse %o, saying what is wrong', (change, message) => {
      const env: Record<string, string> = { ...real, ...change };
      for (const name of ['WECHATPAY_PRIVATE_KEY_FILE', 'WECHATPAY_PUBLIC_KEY_FILE'] as const) {
        if (env[name] && !env[name].startsWith('/')) env[name] = join(dir, env[name]);
      }
      const problems = problemsOf(env);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(message);
    });

    it('should ask for a public https PUBLIC_BASE_URL once a real WeChat Pay opens mini-program bills', () => {
      const wechatpay = { ...real, WEAPP_PAYMENT_PROVIDER: 'wechatpay' };
      expect(problemsOf(wechatpay)).toEqual([
        expect.stringMatching(
          /^PUBLIC_BASE_URL is required when WECHATPAY_BASE_URL is set: WeChat Pay will call PUBLIC_BASE_URL\/api\/wechatpay\/notify/,
        ),
      ]);
      expect(problemsOf({ ...wechatpay, PUBLIC_BASE_URL: 'http://203.0.113.10' })).toEqual([
        expect.stringMatching(/^PUBLIC_BASE_URL must be https:\/\/ when WEAPP_PAYMENT_PROVIDER=wechatpay/),
      ]);
      expect(problemsOf({ ...wechatpay, PUBLIC_BASE_URL: 'http://10.0.0.1' })).toEqual([
        expect.stringMatching(/^PUBLIC_BASE_URL cannot be reached from the internet/),
      ]);
      expect(loadConfig({ ...wechatpay, PUBLIC_BASE_URL: 'https://shop.example.com' }).weappPaymentProvider).toBe(
        'wechatpay',
      );
      expect(loadConfig({ ...wechatpay, ALLOW_UNREACHABLE_WEBHOOKS: 'true' }).wechatpay.merchant?.mchid).toBe(
        '1230000109',
      );
    });
  });

  describe("Douyin's 通用交易系统", () => {
    let dir: string;
    let appKey: string;
    let platformKey: string;
    const douyin = { ...REAL_DOUYIN, ALLOW_UNREACHABLE_WEBHOOKS: 'true' };

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'config-douyin-trade-'));
      appKey = writeRsaPair(dir, 'app').privateKey;
      platformKey = writeRsaPair(dir, 'platform').publicKey;
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('should keep the cashier by default, and need nothing for the 通用交易系统 on the sandbox', () => {
      expect(loadConfig({})).toMatchObject({ ttPaymentProvider: 'cashier', douyinTrade: undefined });
      expect(loadConfig({ TT_PAYMENT_PROVIDER: 'trade' })).toMatchObject({
        ttPaymentProvider: 'trade',
        douyinTrade: undefined,
        sandboxEnabled: true,
      });
      expect(problemsOf({ TT_PAYMENT_PROVIDER: 'guaranteed-typo' })).toEqual([
        expect.stringMatching(/^TT_PAYMENT_PROVIDER: /),
      ]);
    });

    it('should require the keys against a real Douyin with the 通用交易系统 chosen, and read them', () => {
      expect(problemsOf({ ...douyin, TT_PAYMENT_PROVIDER: 'trade' })).toEqual([
        'DOUYIN_APP_PRIVATE_KEY_FILE is required when DOUYIN_API_BASE_URL is set and TT_PAYMENT_PROVIDER=trade',
        'DOUYIN_KEY_VERSION is required when DOUYIN_API_BASE_URL is set and TT_PAYMENT_PROVIDER=trade',
        'DOUYIN_PLATFORM_PUBLIC_KEY_FILE is required when DOUYIN_API_BASE_URL is set and TT_PAYMENT_PROVIDER=trade',
      ]);
      const keys = {
        DOUYIN_APP_PRIVATE_KEY_FILE: join(dir, 'app_key.pem'),
        DOUYIN_KEY_VERSION: '2',
        DOUYIN_PLATFORM_PUBLIC_KEY_FILE: join(dir, 'platform_pub.pem'),
      };
      expect(loadConfig({ ...douyin, ...keys, TT_PAYMENT_PROVIDER: 'trade' }).douyinTrade).toEqual({
        openApiBaseUrl: 'https://open.douyin.com',
        appPrivateKeyPem: appKey,
        keyVersion: '2',
        platformPublicKeyPem: platformKey,
      });
      // Kept after switching back to the cashier, so bills opened there are still found.
      expect(loadConfig({ ...douyin, ...keys }).douyinTrade).toMatchObject({ keyVersion: '2' });
      expect(problemsOf({ ...douyin, DOUYIN_KEY_VERSION: '2' })).toEqual([
        'DOUYIN_APP_PRIVATE_KEY_FILE goes with DOUYIN_KEY_VERSION and DOUYIN_PLATFORM_PUBLIC_KEY_FILE: set all three or none',
        'DOUYIN_PLATFORM_PUBLIC_KEY_FILE goes with DOUYIN_APP_PRIVATE_KEY_FILE and DOUYIN_KEY_VERSION: set all three or none',
      ]);
      expect(
        problemsOf({ ...douyin, ...keys, DOUYIN_PLATFORM_PUBLIC_KEY_FILE: join(dir, 'platform_key.pem') }),
      ).toEqual([expect.stringMatching(/^DOUYIN_PLATFORM_PUBLIC_KEY_FILE .* holds a private key: /)]);
      expect(problemsOf({ ...douyin, ...keys, DOUYIN_APP_PRIVATE_KEY_FILE: '/no/such/app_key.pem' })).toEqual([
        'DOUYIN_APP_PRIVATE_KEY_FILE /no/such/app_key.pem cannot be read: ENOENT',
      ]);
    });

    it('should ask Douyin to call /api/douyin/trade/notify with the 通用交易系统 chosen', () => {
      const { ALLOW_UNREACHABLE_WEBHOOKS: _allowed, ...unreachable } = douyin;
      expect(
        problemsOf({
          ...unreachable,
          TT_PAYMENT_PROVIDER: 'trade',
          DOUYIN_APP_PRIVATE_KEY_FILE: join(dir, 'app_key.pem'),
          DOUYIN_KEY_VERSION: '2',
          DOUYIN_PLATFORM_PUBLIC_KEY_FILE: join(dir, 'platform_pub.pem'),
        }),
      ).toEqual([expect.stringContaining('PUBLIC_BASE_URL/api/douyin/trade/notify')]);
    });
  });
});

describe('WeChat Pay key files at boot', () => {
  let dir: string;
  let real: Record<string, string>;
  /** Every PEM written, to check no message carries any of it. */
  const written: string[] = [];

  const write = (name: string, pem: string) => {
    writeFileSync(join(dir, name), pem);
    written.push(pem);
    return join(dir, name);
  };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'config-wechatpay-keys-'));
    const rsa = rsaPem(2048);
    write('apiclient_key.pem', rsa.privateKey);
    write('pub_key.pem', rsa.publicKey);
    await writeOtherKeyFiles(write, [512, 1024]);
    real = {
      ...REAL_WECHATPAY,
      WECHATPAY_PRIVATE_KEY_FILE: join(dir, 'apiclient_key.pem'),
      WECHATPAY_PUBLIC_KEY_ID: 'PUB_KEY_ID_0112300001092025010100000000000001',
      WECHATPAY_PUBLIC_KEY_FILE: join(dir, 'pub_key.pem'),
    };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const privateExpected =
    "it must be the merchant's API private key, apiclient_key.pem: an RSA private key of at least 2048 bits";
  const publicExpected =
    'it must be the 微信支付公钥, pub_key.pem: an RSA public key (BEGIN PUBLIC KEY) of at least 2048 bits';

  it('should refuse a device, a FIFO or a huge file as a key file without reading it', () => {
    const fifo = join(dir, 'fifo.pem');
    execFileSync('mkfifo', [fifo]);
    const huge = join(dir, 'huge.pem');
    writeFileSync(huge, 'A'.repeat(65 * 1024));
    expect(problemsOf({ ...real, WECHATPAY_PRIVATE_KEY_FILE: '/dev/zero', WECHATPAY_PUBLIC_KEY_FILE: fifo })).toEqual([
      `WECHATPAY_PRIVATE_KEY_FILE /dev/zero is not a regular file: ${privateExpected}`,
      `WECHATPAY_PUBLIC_KEY_FILE ${fifo} is not a regular file: ${publicExpected}`,
    ]);
    expect(problemsOf({ ...real, WECHATPAY_PRIVATE_KEY_FILE: huge })).toEqual([
      `WECHATPAY_PRIVATE_KEY_FILE ${huge} is 66560 bytes, more than a key file's 65536: ${privateExpected}`,
    ]);
  });

  it('should take a 2048-bit RSA private key, PKCS#8 or PKCS#1, and an SPKI RSA public key', () => {
    expect(loadConfig(real).wechatpay.merchant?.publicKey?.id).toBe(real.WECHATPAY_PUBLIC_KEY_ID);
    const pkcs1 = { ...real, WECHATPAY_PRIVATE_KEY_FILE: join(dir, 'pkcs1_key.pem') };
    expect(loadConfig(pkcs1).wechatpay.merchant?.privateKeyPem).toContain('BEGIN RSA PRIVATE KEY');
  });

  it.each([
    ['ec_key.pem', 'holds an EC (prime256v1) private key'],
    ['ed25519_key.pem', 'holds an Ed25519 private key'],
    ['rsa512_key.pem', 'holds a 512-bit RSA private key'],
    ['rsa1024_key.pem', 'holds a 1024-bit RSA private key'],
    ['pub_key.pem', 'holds a 2048-bit RSA public key, not a private key'],
    ['ec_pub.pem', 'holds an EC (prime256v1) public key, not a private key'],
    ['cert.pem', 'holds an X.509 certificate (apiclient_cert.pem?), not the private key'],
    ['encrypted_key.pem', 'holds an encrypted private key (the server takes it unencrypted)'],
  ])('should refuse %s as WECHATPAY_PRIVATE_KEY_FILE, saying what it holds and what it must be', (file, found) => {
    const path = join(dir, file);
    expect(problemsOf({ ...real, WECHATPAY_PRIVATE_KEY_FILE: path })).toEqual([
      `WECHATPAY_PRIVATE_KEY_FILE ${path} ${found}: ${privateExpected}`,
    ]);
  });

  it.each([
    ['cert.pem', 'holds an X.509 certificate, not a public key'],
    ['ec_pub.pem', 'holds an EC (prime256v1) public key'],
    ['rsa512_pub.pem', 'holds a 512-bit RSA public key'],
    ['rsa1024_pub.pem', 'holds a 1024-bit RSA public key'],
    ['pkcs1_pub.pem', 'holds a 2048-bit RSA public key in another form (BEGIN RSA PUBLIC KEY)'],
    ['ec_key.pem', 'holds a private key'],
  ])('should refuse %s as WECHATPAY_PUBLIC_KEY_FILE, saying what it holds and what it must be', (file, found) => {
    const path = join(dir, file);
    expect(problemsOf({ ...real, WECHATPAY_PUBLIC_KEY_FILE: path })).toEqual([
      `WECHATPAY_PUBLIC_KEY_FILE ${path} ${found}: ${publicExpected}`,
    ]);
  });

  it('should name both files when both are wrong, in messages that carry no key material', () => {
    const problems = problemsOf({
      ...real,
      WECHATPAY_PRIVATE_KEY_FILE: join(dir, 'ec_key.pem'),
      WECHATPAY_PUBLIC_KEY_FILE: join(dir, 'cert.pem'),
    });
    expect(problems).toEqual([
      expect.stringMatching(/^WECHATPAY_PRIVATE_KEY_FILE .+ holds an EC/),
      expect.stringMatching(/^WECHATPAY_PUBLIC_KEY_FILE .+ holds an X\.509 certificate/),
    ]);
    const text = problems.join('\n');
    expect(text).not.toContain('-----BEGIN');
    for (const file of written) {
      const body = file.split('\n').filter((line) => line !== '' && !line.startsWith('-----'));
      for (const line of body) expect(text).not.toContain(line);
    }
  });
});

describe('TT_PAYMENT_PROVIDER', () => {
  const realDouyin = { ...REAL_DOUYIN, PUBLIC_BASE_URL: 'https://shop.example.com' };

  it('should keep the cashier by default, and need nothing else for 担保支付 on the sandbox', () => {
    expect(loadConfig({})).toMatchObject({ ttPaymentProvider: 'cashier', douyinGuaranteed: undefined });
    const sandboxed = loadConfig({ TT_PAYMENT_PROVIDER: 'guaranteed' });
    expect(sandboxed).toMatchObject({ ttPaymentProvider: 'guaranteed', sandboxEnabled: true });
    expect(sandboxed.douyinGuaranteed).toBeUndefined();
    expect(problemsOf({ TT_PAYMENT_PROVIDER: 'trade-ish' })).toEqual([expect.stringMatching(/^TT_PAYMENT_PROVIDER: /)]);
  });

  it('should ask for the legacy cashier settings only when the cashier takes Douyin payments, all three or none otherwise', () => {
    const { DOUYIN_PAY_APP_ID: _a, DOUYIN_MERCHANT_ID: _m, DOUYIN_PAY_SECRET: _s, ...withoutCashier } = realDouyin;
    expect(problemsOf(withoutCashier)).toEqual([
      'DOUYIN_PAY_APP_ID is required when DOUYIN_API_BASE_URL is set and TT_PAYMENT_PROVIDER=cashier (the default)',
      'DOUYIN_MERCHANT_ID is required when DOUYIN_API_BASE_URL is set and TT_PAYMENT_PROVIDER=cashier (the default)',
      'DOUYIN_PAY_SECRET is required when DOUYIN_API_BASE_URL is set and TT_PAYMENT_PROVIDER=cashier (the default)',
    ]);
    const guaranteed = {
      ...withoutCashier,
      TT_PAYMENT_PROVIDER: 'guaranteed',
      DOUYIN_PAY_SALT: 'salt',
      DOUYIN_PAY_TOKEN: 'token',
    };
    expect(loadConfig(guaranteed).douyin.cashier).toBeUndefined();
    expect(problemsOf({ ...guaranteed, DOUYIN_PAY_SECRET: 'p' })).toEqual([
      'DOUYIN_PAY_APP_ID goes with DOUYIN_MERCHANT_ID and DOUYIN_PAY_SECRET: set all three or none',
      'DOUYIN_MERCHANT_ID goes with DOUYIN_PAY_APP_ID and DOUYIN_PAY_SECRET: set all three or none',
    ]);
    expect(
      loadConfig({
        ...realDouyin,
        TT_PAYMENT_PROVIDER: 'guaranteed',
        DOUYIN_PAY_SALT: 'salt',
        DOUYIN_PAY_TOKEN: 'token',
      }).douyin.cashier,
    ).toEqual({
      payAppId: '800000000001',
      merchantId: '1900000001',
      paySecret: 'p',
    });
    expect(loadConfig({}).douyin.cashier).toEqual({
      payAppId: expect.any(String),
      merchantId: expect.any(String),
      paySecret: expect.any(String),
    });
  });

  it.each([
    ['DOUYIN_PAY_SALT', 'DOUYIN_API_BASE_URL', '/sandbox/douyin/keys'],
    ['DOUYIN_PAY_TOKEN', 'DOUYIN_API_BASE_URL', '/sandbox/douyin/keys'],
    ['DOUYIN_OPEN_API_BASE_URL', 'DOUYIN_API_BASE_URL', '/sandbox/douyin/keys'],
    ['DOUYIN_APP_PRIVATE_KEY_FILE', 'DOUYIN_API_BASE_URL', '/sandbox/douyin/keys'],
    ['DOUYIN_KEY_VERSION', 'DOUYIN_API_BASE_URL', '/sandbox/douyin/keys'],
    ['DOUYIN_PLATFORM_PUBLIC_KEY_FILE', 'DOUYIN_API_BASE_URL', '/sandbox/douyin/keys'],
    ['WECHATPAY_MCHID', 'WECHATPAY_BASE_URL', '/sandbox/wechatpay/keys'],
    ['WECHATPAY_SERIAL_NO', 'WECHATPAY_BASE_URL', '/sandbox/wechatpay/keys'],
    ['WECHATPAY_PRIVATE_KEY_FILE', 'WECHATPAY_BASE_URL', '/sandbox/wechatpay/keys'],
    ['WECHATPAY_APIV3_KEY', 'WECHATPAY_BASE_URL', '/sandbox/wechatpay/keys'],
    ['WECHATPAY_PUBLIC_KEY_ID', 'WECHATPAY_BASE_URL', '/sandbox/wechatpay/keys'],
    ['WECHATPAY_PUBLIC_KEY_FILE', 'WECHATPAY_BASE_URL', '/sandbox/wechatpay/keys'],
  ] as const)(
    'should refuse %s on the sandbox, where it would be silently unused, naming %s',
    (name, baseUrl, keysPath) => {
      const value =
        {
          DOUYIN_OPEN_API_BASE_URL: 'https://open.douyin.com',
          WECHATPAY_MCHID: '1230000109',
          WECHATPAY_SERIAL_NO: 'ABC123',
          WECHATPAY_APIV3_KEY: '0123456789abcdef0123456789abcdef',
          WECHATPAY_PUBLIC_KEY_ID: 'PUB_KEY_ID_0001',
        }[name as string] ?? 'x';
      const instead = name.endsWith('_BASE_URL')
        ? 'the sandbox serves that API instead'
        : `the sandbox's development keys (GET ${keysPath}) are used instead`;
      expect(problemsOf({ [name]: value })).toEqual([
        `${name} is used only with ${baseUrl} set: without it ${instead}; set ${baseUrl} or unset ${name}`,
      ]);
    },
  );

  it('should ask for the SALT and token against the real Douyin once 担保支付 is chosen, and for its callback URL', () => {
    const guaranteed = { ...realDouyin, TT_PAYMENT_PROVIDER: 'guaranteed' };
    expect(problemsOf(guaranteed)).toEqual([
      'DOUYIN_PAY_SALT is required when TT_PAYMENT_PROVIDER=guaranteed and DOUYIN_API_BASE_URL are set',
      'DOUYIN_PAY_TOKEN is required when TT_PAYMENT_PROVIDER=guaranteed and DOUYIN_API_BASE_URL are set',
    ]);
    const complete = { ...guaranteed, DOUYIN_PAY_SALT: 'salt', DOUYIN_PAY_TOKEN: 'token' };
    expect(loadConfig(complete).douyinGuaranteed).toEqual({ salt: 'salt', token: 'token' });
    const { PUBLIC_BASE_URL: _unused, ...withoutPublicUrl } = complete;
    expect(problemsOf(withoutPublicUrl)).toEqual([
      expect.stringMatching(
        /^PUBLIC_BASE_URL is required when DOUYIN_API_BASE_URL is set: Douyin will call PUBLIC_BASE_URL\/api\/douyin\/ecpay\/notify/,
      ),
    ]);
    // Back on the cashier, the secrets still let 担保支付's bills be finished; one alone is a mistake.
    expect(loadConfig({ ...realDouyin, DOUYIN_PAY_SALT: 'salt', DOUYIN_PAY_TOKEN: 'token' }).douyinGuaranteed).toEqual({
      salt: 'salt',
      token: 'token',
    });
    expect(loadConfig(realDouyin).douyinGuaranteed).toBeUndefined();
    expect(problemsOf({ ...realDouyin, DOUYIN_PAY_SALT: 'salt' })).toEqual([
      'DOUYIN_PAY_TOKEN is required when DOUYIN_PAY_SALT is set',
    ]);
  });
});
