import { BeeCloudGateway, appSign, webhookSignature } from '../../server/adapters/payments/gateway/beecloud';
import { gatewayAppSign } from '../../server/sandbox/shared/signing';
import { buildPaymentWebhook, buildRefundWebhook, signWebhook } from '../../server/sandbox/gateway/webhook-message';

const credentials = { appId: 'app-1', masterSecret: 'master-1' };
const gateway = new BeeCloudGateway({
  baseUrl: 'http://127.0.0.1:9',
  appId: credentials.appId,
  appSecret: 'secret-1',
  masterSecret: credentials.masterSecret,
  notifyUrl: 'http://127.0.0.1:9/api/gateway/webhook',
});
const read = (message: unknown) => gateway.readNotification({ rawBody: JSON.stringify(message), headers: {} });

describe('BeeCloud signatures', () => {
  it('should compute app_sign as the sandbox does independently', () => {
    expect(appSign('app-1', 1435890533866, 'secret')).toBe(gatewayAppSign('app-1', 1435890533866, 'secret'));
    expect(appSign('app-1', 1435890533866, 'secret')).toMatch(/^[0-9a-f]{32}$/);
  });

  it('should sign webhooks over app_id, id, type, channel, fee and master secret in that order', () => {
    const message = { transaction_id: 'B1', transaction_type: 'PAY', channel_type: 'WX', transaction_fee: 100 };
    const { createHash } = jest.requireActual<typeof import('node:crypto')>('node:crypto');
    expect(webhookSignature('app', message, 'ms')).toBe(createHash('md5').update('appB1PAYWX100ms').digest('hex'));
  });
});

describe('BeeCloudGateway.readNotification', () => {
  const webhook = (outcome: 'paid' | 'failed' | 'closed', channel = 'WX_MINI') =>
    buildPaymentWebhook({ ...credentials, billNo: 'B20261122000000000001', channel, totalFee: 6800, outcome });

  it.each(['WX_MINI', 'ALI_APP'])('should read a signed PAY message on %s as a claimed payment', async (channel) => {
    const event = await read(webhook('paid', channel));
    expect(event).toMatchObject({ type: 'payment.succeeded', billNo: 'B20261122000000000001', amount: 6800 });
  });

  it.each([
    ['trade_success false', { trade_success: false }],
    ['no trade_success', { trade_success: undefined }],
    ['a failure verdict in message_detail', { message_detail: { trade_state: 'PAYERROR', result_code: 'FAIL' } }],
  ])('should read a PAY message the same whatever its unsigned fields say: %s', async (_what, change) => {
    const signed = await read(webhook('paid'));
    const altered = await read({ ...webhook('paid'), ...change });
    expect(altered).toMatchObject({ type: signed.type, billNo: 'B20261122000000000001', amount: 6800 });
  });

  it('should read a signed REFUND message as a succeeded refund, and other kinds as not ours', async () => {
    const refund = buildRefundWebhook({
      ...credentials,
      refundNo: '20261122R000000000000001',
      billNo: 'B20261122000000000001',
      channel: 'ALI_APP',
      refundFee: 100,
      totalFee: 6800,
    });
    expect(await read(refund)).toMatchObject({
      type: 'refund.succeeded',
      refundNo: '20261122R000000000000001',
      amount: 100,
    });
    const { signature: _refundSignature, ...fields } = refund;
    const transfer = signWebhook(credentials, { ...fields, transaction_type: 'TRANSFER' as never });
    expect(await read(transfer)).toMatchObject({
      type: 'not_ours',
      kind: 'TRANSFER',
    });
  });

  it('should accept an uppercase signature and a fee written as a string', async () => {
    const message = webhook('paid');
    const variant = { ...message, signature: message.signature.toUpperCase(), transaction_fee: '6800' };
    expect(await read(variant)).toMatchObject({ type: 'payment.succeeded', amount: 6800 });
  });

  it.each([
    ['a wrong signature', { signature: '0'.repeat(32) }, 'WEBHOOK_SIGNATURE_INVALID'],
    ['a short signature', { signature: 'abc' }, 'WEBHOOK_SIGNATURE_INVALID'],
    ['another app id', { app_id: 'app-2' }, 'WEBHOOK_SIGNATURE_INVALID'],
    ['a changed bill', { transaction_id: 'B20261122000000000002' }, 'WEBHOOK_SIGNATURE_INVALID'],
    ['a negative fee', { transaction_fee: -1 }, 'WEBHOOK_INVALID'],
  ])('should refuse %s', async (_what, change, code) => {
    const tampered = { ...webhook('paid'), ...change };
    await expect(read(tampered)).rejects.toThrow(expect.objectContaining({ code }));
  });
});
