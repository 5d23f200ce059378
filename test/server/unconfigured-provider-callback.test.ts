import { STORAGES, TestDatabase } from '../support/databases';
import { CheckoutHarness } from '../support/checkout-harness';
import { logLines } from '../support/observability';
import { startLoggedHarness } from '../support/provider-checkout';
import { REAL_DOUYIN } from '../support/real-upstreams';

/**
 * A provider's callback reaching an instance not configured for that provider (the console points
 * at it before its keys are set, or a load balancer sends it to an instance set up differently):
 * nothing is read or stored, the provider is told to send it again (503, so it retries), and the
 * operator sees an error naming the provider.
 */
describe.each(STORAGES)('a callback for a provider this instance lacks, on $name', (storage) => {
  let database: TestDatabase;
  let h: CheckoutHarness;
  const written: string[] = [];

  beforeAll(async () => {
    database = await storage.open();
    // Real Douyin (no 担保支付 SALT/token, no 通用交易系统 keys), the legacy cashier chosen.
    h = await startLoggedHarness(
      database.db,
      // Port 9 (discard) on loopback: nothing here is meant to reach Douyin.
      { ...REAL_DOUYIN, DOUYIN_API_BASE_URL: 'http://127.0.0.1:9', PUBLIC_BASE_URL: 'https://shop.example.com' },
      written,
    );
  });

  afterAll(async () => {
    await h?.close();
    await database?.dispose();
  });

  it.each([
    [
      'douyin_guaranteed',
      '/api/douyin/ecpay/notify',
      { timestamp: '1', nonce: '1', msg: '{}', type: 'payment', msg_signature: 'x' },
    ],
    ['douyin_trade', '/api/douyin/trade/notify', { version: '2.0', type: 'payment', msg: '{}' }],
  ])('should answer %s callbacks 503 in Douyin words and log an error naming it', async (provider, path, body) => {
    written.length = 0;
    const answer = await h.api.post(path).set('byte-timestamp', '1').send(body).expect(503);
    expect(answer.body).toEqual({
      err_no: 1,
      err_tips: expect.stringMatching(/^GATEWAY_UNAVAILABLE: /),
    });
    const failed = logLines(written).filter((line) => line.event === 'webhook.handled');
    expect(failed).toEqual([
      expect.objectContaining({ level: 'error', outcome: 'failed', code: 'GATEWAY_UNAVAILABLE' }),
    ]);
    expect(String(failed[0].reason)).toContain(provider);
    const unmatched = await database.db.query('SELECT count(*)::int AS n FROM unmatched_gateway_messages');
    expect(unmatched.rows[0]).toEqual({ n: 0 });
  });
});
