import { performance } from 'node:perf_hooks';
import { AppError } from '../../domain/errors';
import type { PaymentChannel, PaymentProvider } from '../../domain/payment-provider';
import type { LoginProvider } from '../../domain/ports';
import type { RootLogger } from './logger';
import type { CheckoutMetrics, UpstreamOutcome } from './metrics';

/** Told of every upstream call once it ended. */
export type UpstreamObserver = (upstream: string, operation: string, outcome: UpstreamOutcome, seconds: number) => void;

/** Each upstream call as a sample of `checkout_upstream_request_duration_seconds` and a debug line. */
export function upstreamObserver(logger: RootLogger, metrics: CheckoutMetrics): UpstreamObserver {
  return (upstream, operation, outcome, seconds) => {
    metrics.observeUpstream(upstream, operation, outcome, seconds);
    if (logger.isLevelEnabled('debug')) {
      logger.debug({ upstream, operation, outcome, durationMs: Math.round(seconds * 1e5) / 100 }, 'upstream call');
    }
  };
}

/**
 * How a call that threw ended: the adapters say `*_UNAVAILABLE` for no answer (unreachable, timed
 * out, busy), and carry the upstream's own error code (`resultCode`, `errcode`, `errNo`) or a
 * `LOGIN_*` code when it answered no.
 */
export function outcomeOfError(error: unknown): UpstreamOutcome {
  if (!AppError.is(error)) return 'failed';
  if (error.code.endsWith('_UNAVAILABLE')) return 'unavailable';
  const details = error.details ?? {};
  if (error.code.startsWith('LOGIN_') || 'resultCode' in details || 'errcode' in details || 'errNo' in details)
    return 'refused';
  return 'failed';
}

async function timed<T>(
  observe: UpstreamObserver,
  upstream: string,
  operation: string,
  call: () => Promise<T>,
  outcomeOf: (result: T) => UpstreamOutcome,
): Promise<T> {
  const started = performance.now();
  try {
    const result = await call();
    observe(upstream, operation, outcomeOf(result), (performance.now() - started) / 1000);
    return result;
  } catch (error) {
    observe(upstream, operation, outcomeOfError(error), (performance.now() - started) / 1000);
    throw error;
  }
}

const ok = (): UpstreamOutcome => 'ok';

/**
 * A payment provider with each call timed and classified under its id as the upstream
 * (`create_bill`, `query_bill`, `close_bill`, `create_refund`, `query_refund`,
 * `list_transactions`); it answers exactly what `provider` answers, and has `closeBill` only
 * when `provider` has. A bill or refund whose outcome is unknown counts as `unavailable` when the
 * provider could not be reached, else `failed`. Reading a notification makes no upstream call.
 */
export function observedProvider(provider: PaymentProvider, observe: UpstreamObserver): PaymentProvider {
  const upstream = provider.id;
  const closeBill = provider.closeBill?.bind(provider);
  const reissueClientParams = provider.reissueClientParams?.bind(provider);
  return {
    id: provider.id,
    channels: provider.channels,
    openBill: (request) =>
      timed(
        observe,
        upstream,
        'create_bill',
        () => provider.openBill(request),
        (creation) =>
          creation.outcome === 'created'
            ? 'ok'
            : creation.outcome === 'refused'
              ? 'refused'
              : outcomeOfError(creation.error),
      ),
    // Local signing, no upstream call: nothing to time.
    ...(reissueClientParams && { reissueClientParams }),
    queryBill: (billNo, channel) =>
      timed(observe, upstream, 'query_bill', () => provider.queryBill(billNo, channel), ok),
    ...(closeBill && {
      closeBill: (billNo: string, channel: PaymentChannel) =>
        timed(observe, upstream, 'close_bill', () => closeBill(billNo, channel), ok),
    }),
    createRefund: (request) =>
      timed(
        observe,
        upstream,
        'create_refund',
        () => provider.createRefund(request),
        (submission) =>
          submission.outcome === 'accepted' ? 'ok' : submission.outcome === 'refused' ? 'refused' : 'failed',
      ),
    queryRefund: (refundNo, channel) =>
      timed(observe, upstream, 'query_refund', () => provider.queryRefund(refundNo, channel), ok),
    readNotification: (message) => provider.readNotification(message),
    listTransactions: (day) => timed(observe, upstream, 'list_transactions', () => provider.listTransactions(day), ok),
  };
}

/** A login provider (`wechat` or `douyin`) with each `code2session` call timed and classified. */
export function observedLogin(upstream: string, provider: LoginProvider, observe: UpstreamObserver): LoginProvider {
  return {
    exchangeCode: (codes) => timed(observe, upstream, 'code2session', () => provider.exchangeCode(codes), ok),
  };
}
