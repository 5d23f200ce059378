import {
  buildPaymentWebhook,
  buildRefundWebhook,
  gatewayAppSign,
  gatewayWebhookSignature,
  isWebhookAcknowledged,
  webhookAttemptOffsetsMs,
  wechatPaySign,
} from '../../server/sandbox';
import { md5 } from './helpers';

describe('wechatPaySign(params, key)', () => {
  // The worked example of WeChat Pay's v2 signing guide.
  const example = {
    appid: 'wxd930ea5d5a258f4f',
    mch_id: '10000100',
    device_info: '1000',
    body: 'test',
    nonce_str: 'ibuaiVcKdpRxkhJA',
  };
  const key = '192006250b4c09247ec02edce69f6a2d';

  it('should reproduce the public MD5 example', () => {
    expect(wechatPaySign(example, key)).toBe('9A0A8659F005D6984697E2CA0A9CF3B7');
  });

  it('should reproduce the public HMAC-SHA256 example', () => {
    expect(wechatPaySign(example, key, 'HMAC-SHA256')).toBe(
      '6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6',
    );
  });

  it('should leave out empty values and the sign itself', () => {
    expect(wechatPaySign({ ...example, sign: 'X', attach: '', detail: undefined }, key)).toBe(
      '9A0A8659F005D6984697E2CA0A9CF3B7',
    );
  });
});

describe('gatewayAppSign(appId, timestamp, secret)', () => {
  it('should be md5(app_id + timestamp + secret) in lowercase hex', () => {
    expect(gatewayAppSign('app', 1435890533866, 'secret')).toBe(md5('app1435890533866secret'));
    expect(gatewayAppSign('app', 1, 's')).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('gatewayWebhookSignature(input)', () => {
  it('should concatenate app_id, transaction_id, type, channel, integer fee and master_secret', () => {
    const signature = gatewayWebhookSignature({
      appId: 'app',
      transactionId: 'bill0001',
      transactionType: 'PAY',
      channelType: 'WX',
      transactionFee: 100,
      masterSecret: 'master',
    });
    expect(signature).toBe(md5('appbill0001PAYWX100master'));
  });
});

describe('buildPaymentWebhook(input)', () => {
  const base = { appId: 'app', masterSecret: 'master', billNo: 'bill0001', totalFee: 100, timestamp: 1700000000000 };

  it('should build a signed, WeChat-shaped PAY message for a paid bill', () => {
    const message = buildPaymentWebhook({ ...base, channel: 'WX_MINI', outcome: 'paid', openid: 'oX' });
    expect(message).toMatchObject({
      signature: md5('appbill0001PAYWX100master'),
      timestamp: 1700000000000,
      channel_type: 'WX',
      sub_channel_type: 'WX_MINI',
      transaction_type: 'PAY',
      transaction_id: 'bill0001',
      transaction_fee: 100,
      trade_success: true,
      optional: {},
      message_detail: {
        out_trade_no: 'bill0001',
        total_fee: '100',
        openid: 'oX',
        result_code: 'SUCCESS',
        trade_state: 'SUCCESS',
      },
    });
    // 1700000000000 is 2023-11-15 06:13:20 in China.
    expect(message.message_detail.time_end).toBe('20231115061320');
  });

  it('should mark failed and closed bills as unsuccessful', () => {
    expect(buildPaymentWebhook({ ...base, channel: 'WX_MINI', outcome: 'failed' })).toMatchObject({
      trade_success: false,
      message_detail: { result_code: 'FAIL', trade_state: 'PAYERROR' },
    });
    expect(buildPaymentWebhook({ ...base, channel: 'WX_JSAPI', outcome: 'closed' })).toMatchObject({
      trade_success: false,
      message_detail: { result_code: 'SUCCESS', trade_state: 'CLOSED' },
    });
    expect(buildPaymentWebhook({ ...base, channel: 'ALI_APP', outcome: 'closed' })).toMatchObject({
      channel_type: 'ALI',
      signature: md5('appbill0001PAYALI100master'),
      message_detail: { trade_status: 'TRADE_CLOSED', total_fee: '1.00' },
    });
  });
});

describe('buildRefundWebhook(input)', () => {
  it('should sign with the refund number and refund fee', () => {
    const message = buildRefundWebhook({
      appId: 'app',
      masterSecret: 'master',
      refundNo: '20250116001',
      billNo: 'bill0001',
      channel: 'WX_MINI',
      refundFee: 40,
      totalFee: 100,
    });
    expect(message).toMatchObject({ transaction_type: 'REFUND', transaction_id: '20250116001', transaction_fee: 40 });
    expect(message.signature).toBe(md5('app20250116001REFUNDWX40master'));
  });
});

describe('webhookAttemptOffsetsMs(timeScale)', () => {
  it('should schedule 18 attempts, retries 2^1 … 2^17 seconds after the first', () => {
    const offsets = webhookAttemptOffsetsMs(1);
    expect(offsets).toHaveLength(18);
    expect(offsets.slice(0, 4)).toEqual([0, 2000, 4000, 8000]);
    expect(offsets[17]).toBe(131_072_000);
    expect(webhookAttemptOffsetsMs(0.001)[1]).toBe(2);
  });
});

describe('isWebhookAcknowledged(body)', () => {
  it('should accept only the string success', () => {
    expect(isWebhookAcknowledged('success')).toBe(true);
    expect(isWebhookAcknowledged('success\n')).toBe(true);
    expect(isWebhookAcknowledged('{"ok":true}')).toBe(false);
    expect(isWebhookAcknowledged('"success"')).toBe(false);
    expect(isWebhookAcknowledged('SUCCESS')).toBe(false);
    expect(isWebhookAcknowledged('')).toBe(false);
  });
});
