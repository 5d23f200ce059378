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

/**
 * The HTTP layer's request observer: each answered request is one sample of
 * `checkout_http_request_duration_seconds` and one `request` line (info; warn for a 5xx) with
 * `reqId`, `method`, `route`, `path`, `status` and `durationMs`; the handling runs under its id.
 */
export function requestObserver(logger: RootLogger, metrics: CheckoutMetrics) {
  return {
    within: withRequestId,
    served(request: ServedRequest): void {
      metrics.observeRequest(request.method, request.route, request.status, request.durationSeconds);
      const level = request.status >= 500 ? 'warn' : 'info';
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
