import { BeeCloudGateway, appSign, webhookSignature } from '../../server/adapters/gateway/beecloud';
import { gatewayAppSign } from '../../server/sandbox/signing';
import { buildPaymentWebhook } from '../../server/sandbox/webhook-message';

const credentials = { appId: 'app-1', masterSecret: 'master-1' };
const gateway = new BeeCloudGateway({
  baseUrl: 'http://127.0.0.1:9',
  appId: credentials.appId,
  appSecret: 'secret-1',
  masterSecret: credentials.masterSecret,
});

describe('BeeCloud signatures', () => {
  it('should compute app_sign as the sandbox does independently', () => {
    expect(appSign('app-1', 1435890533866, 'secret')).toBe(gatewayAppSign('app-1', 1435890533866, 'secret'));
    expect(appSign('app-1', 1435890533866, 'secret')).toMatch(/^[0-9a-f]{32}$/);
  });

  it('should sign webhooks over app_id, id, type, channel, fee and master secret in that order', () => {
    const message = { transaction_id: 'B1', transaction_type: 'PAY', channel_type: 'WX', transaction_fee: 100 };
    const { createHash } = jest.requireActual<typeof import('node:crypto')>('node:crypto');
    expect(webhookSignature('app', message, 'ms')).toBe(
      createHash('md5').update('appB1PAYWX100ms').digest('hex'),
    );
  });
});

describe('BeeCloudGateway.parseWebhook', () => {
  const webhook = (outcome: 'paid' | 'failed' | 'closed', channel = 'WX_MINI') =>
    buildPaymentWebhook({ ...credentials, billNo: 'B20261122000000000001', channel, totalFee: 6800, outcome });

  it.each([
    ['paid', 'WX_MINI', 'paid'],
    ['failed', 'WX_MINI', 'failed'],
    ['closed', 'WX_MINI', 'closed'],
    ['paid', 'ALI_APP', 'paid'],
    ['closed', 'ALI_APP', 'closed'],
  ] as const)('should read a %s %s message as %s', (outcome, channel, expected) => {
    const event = gateway.parseWebhook(JSON.stringify(webhook(outcome, channel)));
    expect(event).toMatchObject({
      transactionType: 'PAY',
      transactionId: 'B20261122000000000001',
      amount: 6800,
      outcome: expected,
      channel,
    });
  });

  it('should not read trade_success false without a channel verdict as a failure', () => {
    const message = webhook('failed');
    const signedWithoutVerdict = { ...message, message_detail: {} };
    expect(gateway.parseWebhook(JSON.stringify(signedWithoutVerdict)).outcome).toBe('unknown');
  });

  it('should accept an uppercase signature and a fee written as a string', () => {
    const message = webhook('paid');
    const variant = { ...message, signature: message.signature.toUpperCase(), transaction_fee: '6800' };
    expect(gateway.parseWebhook(JSON.stringify(variant)).amount).toBe(6800);
  });

  it.each([
    ['a wrong signature', { signature: '0'.repeat(32) }, 'WEBHOOK_SIGNATURE_INVALID'],
    ['a short signature', { signature: 'abc' }, 'WEBHOOK_SIGNATURE_INVALID'],
    ['another app id', { app_id: 'app-2' }, 'WEBHOOK_SIGNATURE_INVALID'],
    ['a changed bill', { transaction_id: 'B20261122000000000002' }, 'WEBHOOK_SIGNATURE_INVALID'],
    ['a negative fee', { transaction_fee: -1 }, 'WEBHOOK_INVALID'],
    ['no trade_success', { trade_success: undefined }, 'WEBHOOK_INVALID'],
  ])('should refuse %s', (_what, change, code) => {
    const tampered = { ...webhook('paid'), ...change };
    expect(() => gateway.parseWebhook(JSON.stringify(tampered))).toThrow(expect.objectContaining({ code }));
  });
});
