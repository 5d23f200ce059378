/**
 * Whether an answer acknowledges a callback of an emulated Douyin payment system: HTTP 200 whose
 * JSON body is an object with `err_no` 0, the answer `{"err_no":0,"err_tips":"success"}` of both
 * 担保支付 and 通用交易系统 (payments-beyond.md, "Douyin mini-program payment": for 担保支付 seen
 * in integrations rather than on the official page). Anything else (another status, no JSON,
 * another `err_no`) asks for a retry.
 */
export function isCallbackAcknowledged(status: number | null, body: string): boolean {
  if (status !== 200) return false;
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null && (parsed as { err_no?: unknown }).err_no === 0;
  } catch {
    return false;
  }
}
