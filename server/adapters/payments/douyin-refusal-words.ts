/**
 * How a Douyin refusal is read when its `err_no` is not one this project could confirm: by its
 * words (`err_tips` of 担保支付, `err_msg` of 通用交易系统), narrowly, because each reading lets
 * money or an order move.
 */

/**
 * Whether a Douyin refusal's words (`err_tips` of 担保支付, `err_msg` of 通用交易系统) say that
 * the order or refund asked about does not exist.
 *
 * Douyin's pages give no err_no for "no such order" that this project could confirm, so the words
 * decide, and they decide narrowly: "not found" is what lets the sweeper give an unpaid bill up
 * and a refund be asked again, so a refusal saying that something else is missing — "app_id不存在",
 * "商户不存在", "access-token not exist", a key or certificate — must stay an error that a human
 * sees, or a misconfigured instance would retire every bill it asks about. The words must name an
 * order, refund or record as the missing thing (订单不存在, 退款单不存在, 不存在该订单, 记录不存在, "order not exist",
 * "refund record not found"), and must not name any setting besides.
 */
export function saysRecordMissing(words: string): boolean {
  if (NAMES_A_SETTING.test(words)) return false;
  return MISSING_AFTER_SUBJECT.test(words) || MISSING_BEFORE_SUBJECT.test(words);
}

const SUBJECT = '(?:订单|退款|交易|记录|order|refund|trade|record)';
const MISSING = '(?:不存在|未找到|查询不到|查不到|does\\s*not\\s*exist|not\\s*exists?|not\\s*found|no\\s*such)';
/** Within one clause: no punctuation between the subject and the words saying it is missing. */
const SAME_CLAUSE = '[^,，;；。.!！:：]{0,24}?';

const MISSING_AFTER_SUBJECT = new RegExp(`${SUBJECT}${SAME_CLAUSE}${MISSING}`, 'i');
const MISSING_BEFORE_SUBJECT = new RegExp(`${MISSING}${SAME_CLAUSE}${SUBJECT}`, 'i');

/** A setting's name in the words: then something other than the record is what is missing. */
const NAMES_A_SETTING =
  /app_?id|appid|client_?key|access[-_ ]?token|client[-_ ]?token|token|secret|salt|密钥|公钥|私钥|key_?version|证书|cert|商户|merchant|应用|小程序|签名|sign|权限|permission|thirdparty/i;

/**
 * Whether a Douyin refusal's words say that Douyin itself failed (系统错误, 系统异常, 内部错误,
 * 服务异常, 超时, "system error", "internal error", "timeout") rather than refusing the request.
 * Such an answer says nothing of how far the call got: a refund answered so may have been made,
 * so it is settled by query, never failed at once (a refund failed at once frees its amount for
 * another, and the shopper could be paid twice).
 */
export function saysProviderFailed(words: string): boolean {
  return PROVIDER_FAILED.test(words);
}

const PROVIDER_FAILED =
  /系统错误|系统异常|内部错误|服务异常|服务错误|超时|system\s*error|internal\s*(server\s*)?error|time\s*out|timeout/i;
