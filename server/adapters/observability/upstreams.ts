import { performance } from 'node:perf_hooks';
import { AppError } from '../../domain/errors';
import type { PaymentChannel, PaymentProvider } from '../../domain/payment-provider';
import type { LoginProvider } from '../../domain/ports';
import type { CertificateDownloadReport } from '../payments/wechatpay/client';
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
 * out, busy, an answer that cannot be trusted, or one asking to wait), and carry the upstream's own
 * error code (the gateway's `resultCode`, WeChat Pay's `code`, WeChat's `errcode`, Douyin's
 * `errNo`) or a `LOGIN_*` code when it answered no. Every operation of every upstream is
 * classified by this one rule, so one upstream's answer counts the same whichever call got it.
 */
export function outcomeOfError(error: unknown): UpstreamOutcome {
  if (!AppError.is(error)) return 'failed';
  if (error.code.endsWith('_UNAVAILABLE')) return 'unavailable';
  const details = error.details ?? {};
  if (
    error.code.startsWith('LOGIN_') ||
    'resultCode' in details ||
    'code' in details ||
    'errcode' in details ||
    'errNo' in details
  )
    return 'refused';
  return 'failed';
}

/**
 * A bill or refund request the provider refused: `refused`, unless its error says the provider
 * only asked to wait (`*_UNAVAILABLE`, e.g. WeChat Pay's FREQUENCY_LIMITED), which counts as
 * `unavailable` as it does when a query gets it.
 */
function outcomeOfRefusal(error: AppError): UpstreamOutcome {
  return outcomeOfError(error) === 'unavailable' ? 'unavailable' : 'refused';
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
 * when `provider` has. A bill or refund request that did not succeed is classified by the error
 * the provider gave with it, as a query that threw that error would be (`outcomeOfError`; a
 * refusal is `refused` unless it only asked to wait). Reading a notification makes no upstream call.
 */
export function observedProvider(provider: PaymentProvider, observe: UpstreamObserver): PaymentProvider {
  const upstream = provider.id;
  const closeBill = provider.closeBill?.bind(provider);
  const reissueClientParams = provider.reissueClientParams?.bind(provider);
  return {
    id: provider.id,
    channels: provider.channels,
    idempotentRefunds: provider.idempotentRefunds,
    clientParamsValidMs: provider.clientParamsValidMs,
    payerMadeBills: provider.payerMadeBills,
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
              ? outcomeOfRefusal(creation.error)
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
          submission.outcome === 'accepted'
            ? 'ok'
            : submission.outcome === 'refused'
              ? outcomeOfRefusal(submission.error)
              : outcomeOfError(submission.error),
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

/**
 * WeChat Pay's platform-certificate downloads (`GET /v3/certificates`, made when a message names a
 * serial not held) as upstream calls (`wechatpay`, `download_certificates`), with a line: info
 * naming the serials a download brought that were not held (a rotated certificate), warn naming
 * why one failed (notifications signed with a new certificate are refused until one succeeds).
 */
export function observedCertificateDownloads(
  logger: RootLogger,
  observe: UpstreamObserver,
): (report: CertificateDownloadReport) => void {
  return (report) => {
    observe('wechatpay', 'download_certificates', report.outcome, report.seconds);
    const fields = {
      upstream: 'wechatpay',
      operation: 'download_certificates',
      outcome: report.outcome,
      durationMs: Math.round(report.seconds * 1e5) / 100,
    };
    if (report.outcome !== 'ok') {
      logger.warn({ ...fields, error: report.error }, 'WeChat Pay platform certificates could not be downloaded');
    } else if (report.learned.length > 0) {
      logger.info(
        { ...fields, learned: report.learned, listed: report.listed },
        'WeChat Pay platform certificate learned',
      );
    }
  };
}
