import { z } from 'zod';
import type { ErrorBodyWriter } from '../errors';

/**
 * How both of Douyin's current payment systems read our answer to a callback (payments-beyond.md,
 * "Douyin mini-program payment"): `{"err_no":0,"err_tips":"success"}` takes it (the answer seen in
 * several integrations; Douyin's pages do not spell it out); anything else makes Douyin send it
 * again. Shared by ./douyin-ecpay-notify-contract.ts (担保支付) and ./douyin-trade-notify-contract.ts
 * (通用交易系统).
 */

/** What acknowledges a callback. */
export const DOUYIN_CALLBACK_ACK = Object.freeze({ err_no: 0, err_tips: 'success' } as const);

export const douyinCallbackAckSchema = z.strictObject({ err_no: z.literal(0), err_tips: z.literal('success') });

/**
 * Every refusal of ours: `err_no` 1, one of our `codes` leading `err_tips`. (What Node refuses
 * before any route is known is the common error body instead.)
 */
export function douyinCallbackFailureSchema(codes: readonly string[]): z.ZodType {
  return z.strictObject({
    err_no: z.literal(1),
    err_tips: z
      .string()
      .regex(new RegExp(`^(?:${codes.join('|')}): `))
      .meta({ description: 'Our error code, a colon, then for people (may change): `WEBHOOK_SIGNATURE_INVALID: …`.' }),
  });
}

/** Writes a refusal in Douyin's words, with the status of `code` (see `errorHandler`). */
export const douyinCallbackFailure: ErrorBodyWriter = (code, message) => ({
  err_no: 1,
  err_tips: `${code}: ${message}`,
});

/** What Node refuses before any route is known, said in a Douyin callback route's description. */
export const NODE_REFUSALS_IN_WORDS =
  'What Node refuses before any route is known (an unparsable request line or headers, headers over 16 KB, a ' +
  'request too slow to arrive, an `Expect` other than 100-continue, `CONNECT`) is the common ' +
  '`{"error": {"code", "message"}}`.';
