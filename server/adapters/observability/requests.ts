import type { CheckoutMetrics } from './metrics';
import type { RootLogger } from './logger';
import { withRequestId } from './request-context';

/** An answered request, as the HTTP layer reports it (see `server/http/request-observer.ts`). */
interface ServedRequest {
  requestId: string;
  method: string;
  route: string;
  path: string;
  status: number;
  durationSeconds: number;
}

/** Reads: answered without a client or server error, their lines are routine. */
const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The level of a request's line: warn for a 5xx; debug for a read that succeeded (status polls
 * come by the thousand a second: at info they would be most of the log and a third of the CPU of
 * a poll, measured on the status-polling benchmark); info for everything else, so that every
 * request that may change something, and every refusal, is in the log at the default level.
 */
function levelOf(method: string, status: number): 'debug' | 'info' | 'warn' {
  if (status >= 500) return 'warn';
  return READS.has(method) && status < 400 ? 'debug' : 'info';
}

/**
 * The HTTP layer's request observer: each answered request is one sample of
 * `checkout_http_request_duration_seconds` and one `request` line (see `levelOf`) with `reqId`,
 * `method`, `route`, `path`, `status` and `durationMs`; the handling runs under its id.
 */
export function requestObserver(logger: RootLogger, metrics: CheckoutMetrics) {
  return {
    within: withRequestId,
    served(request: ServedRequest): void {
      metrics.observeRequest(request.method, request.route, request.status, request.durationSeconds);
      const level = levelOf(request.method, request.status);
      if (!logger.isLevelEnabled(level)) return;
      logger[level](
        {
          reqId: request.requestId,
          method: request.method,
          route: request.route,
          path: request.path,
          status: request.status,
          durationMs: Math.round(request.durationSeconds * 1e5) / 100,
        },
        'request',
      );
    },
  };
}
