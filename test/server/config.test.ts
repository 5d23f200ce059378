import { ConfigError, DEVELOPMENT_SECRETS, loadConfig } from '../../server/config';

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
      loadConfig({ GATEWAY_BASE_URL: 'https://payapi.example.com', GATEWAY_APP_ID: 'app' });
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
      GATEWAY_BASE_URL: 'https://payapi.example.com',
      GATEWAY_APP_ID: 'a',
      GATEWAY_APP_SECRET: 'b',
      GATEWAY_MASTER_SECRET: 'c',
      WECHAT_API_BASE_URL: 'https://api.weixin.qq.com',
      WECHAT_APPID: 'wx1',
      WECHAT_SECRET: 's',
      DOUYIN_API_BASE_URL: 'https://developer.toutiao.com',
      DOUYIN_APPID: 'tt1',
      DOUYIN_SECRET: 's',
      DOUYIN_PAY_APP_ID: '800000000001',
      DOUYIN_MERCHANT_ID: '1900000001',
      DOUYIN_PAY_SECRET: 'p',
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

  it('should treat empty variables as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', GATEWAY_BASE_URL: ' ' }).sandboxEnabled).toBe(true);
  });
});
