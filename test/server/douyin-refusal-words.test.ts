import { saysRecordMissing } from '../../server/adapters/payments/douyin-refusal-words';
import { EcpayRefusal } from '../../server/adapters/payments/douyin-guaranteed/client';
import { DouyinTradeRefusal } from '../../server/adapters/payments/douyin-trade/client';

/**
 * "Not found" lets the sweeper give a bill up and a refund be asked again, so only words that name
 * the order or refund as missing count; a refusal naming a missing setting stays an error.
 */
describe('saysRecordMissing', () => {
  const recordMissing = [
    '订单不存在',
    '退款单不存在',
    '订单号不存在',
    '不存在该订单',
    '查询不到该退款',
    'order not exist',
    'Order does not exist',
    'refund record not found',
    'no such order',
    '记录不存在',
    'record not found',
  ];
  const settingMissing = [
    'app_id不存在',
    'appid not exist',
    '商户不存在',
    '小程序不存在',
    '应用不存在',
    'access-token not exist',
    'client_key not found',
    'key_version 不存在',
    '密钥不存在',
    '订单不存在或app_id错误',
    'thirdparty_id not found for this order',
    '参数错误',
    '系统繁忙，请稍后再试',
    '订单已支付，退款不可用',
    '',
  ];

  it.each(recordMissing)('should read %j as the record missing', (words) => {
    expect(saysRecordMissing(words)).toBe(true);
    expect(new EcpayRefusal(2008, words, 'query an order').notFound).toBe(true);
    expect(new DouyinTradeRefusal(28001004, words, '/order_query/').saysNotFound).toBe(true);
  });

  it.each(settingMissing)('should not read %j as the record missing', (words) => {
    expect(saysRecordMissing(words)).toBe(false);
    expect(new EcpayRefusal(2008, words, 'query an order').notFound).toBe(false);
    expect(new DouyinTradeRefusal(28001004, words, '/order_query/').saysNotFound).toBe(false);
  });

  it('should not join a subject and a missing setting across a clause', () => {
    expect(saysRecordMissing('订单查询失败：接口不存在')).toBe(false);
    expect(saysRecordMissing('order query failed. endpoint not found')).toBe(false);
  });
});
