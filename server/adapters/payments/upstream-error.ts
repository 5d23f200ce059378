import { AppError } from '../../domain/errors';
import { UpstreamBadAnswer, UpstreamUnreachable } from '../http-json';

/** How one provider's adapter names itself and reads its own refusals. */
export interface UpstreamErrorRules {
  /** `details.provider` of the AppError, e.g. `douyin_trade`. */
  provider: string;
  /** The provider as the message names it, e.g. `Douyin 担保支付`. */
  name: string;
  /**
   * The AppError for an error of the provider's own kinds (a readable refusal, an answer that does
   * not verify); undefined for any other error.
   */
  own(error: unknown, what: string): AppError | undefined;
}

/**
 * The AppError for a failed upstream call of a payment adapter (`what`: the call, e.g. `refund`).
 * An AppError comes back as it is; the provider's own errors as `rules.own` maps them; no answer,
 * a 5xx or an answer that is not the documented JSON (`UpstreamUnreachable`, `UpstreamBadAnswer`)
 * is GATEWAY_UNAVAILABLE "<name> could not be heard (<what>): …" with `details.provider`.
 * Anything else is a bug and is rethrown.
 */
export function upstreamFailure(error: unknown, what: string, rules: UpstreamErrorRules): AppError {
  if (AppError.is(error)) return error;
  const own = rules.own(error, what);
  if (own) return own;
  if (error instanceof UpstreamUnreachable || error instanceof UpstreamBadAnswer) {
    return new AppError('GATEWAY_UNAVAILABLE', `${rules.name} could not be heard (${what}): ${error.message}`, {
      provider: rules.provider,
    });
  }
  throw error;
}

/** Whether a parsed JSON value is an object (not null, not an array). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
