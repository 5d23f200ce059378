import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Context, Next } from 'koa';

/** One answered request, as logged and counted. */
export interface ServedRequest {
  requestId: string;
  method: string;
  /** The router's pattern (`/api/orders/:orderNo/status`), or `unmatched` when no route served it. */
  route: string;
  /** The path as sent, cut to `MAX_LOGGED_PATH` characters. */
  path: string;
  status: number;
  durationSeconds: number;
}

/** What the app tells about every request (implemented by the observability adapter). */
export interface RequestObserver {
  /** Runs `work` as part of request `requestId`: every log line written meanwhile carries the id. */
  within<T>(requestId: string, work: () => Promise<T>): Promise<T>;
  /** The request was answered. */
  served(request: ServedRequest): void;
}

/** The route label of a request no route served (404, 405, OPTIONS, a refusal before routing). */
export const UNMATCHED_ROUTE = 'unmatched';
const MAX_LOGGED_PATH = 200;

/**
 * Reads change nothing: the domain writes no line of its own while serving them (what they start
 * in the background is not theirs), so they need no request context, whose cost (see
 * `withRequestId`) would fall on every status poll. Their request line and error lines carry the id.
 */
const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

// A caller's id is taken as sent when it is 1-128 visible ASCII characters: anything else (too
// long, spaces, control characters, two headers joined by Node with ", ") is replaced, so that
// an id can never break a log line or a header, nor flood either.
const SANE_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** The request's id: its `X-Request-Id` when that is sane, else a new UUID. */
export function requestIdOf(sent: string | undefined): string {
  return sent !== undefined && SANE_REQUEST_ID.test(sent) ? sent : randomUUID();
}

/**
 * The outermost middleware: gives every request an id (its sane `X-Request-Id`, or a new UUID),
 * keeps it in `ctx.state.requestId`, echoes it in `X-Request-Id` on every answer (errors
 * included: the error handler runs inside), runs the rest of the handling of a request that may
 * change something under that id, and reports the answer's route pattern, status and duration
 * once it is known. `routePatterns` lists the patterns of the app's routes (read on first use,
 * once the routers are mounted): any other matched path is labelled `unmatched`.
 */
export function observeRequests(observer: RequestObserver, routePatterns: () => Iterable<string>) {
  // @koa/router also names the path of `router.use` middleware (a regular expression, e.g. the
  // merchant API's key check) as the matched route: only a served route's pattern is a label.
  let patterns: Set<string> | undefined;
  const labelOf = (matched: unknown): string => {
    patterns ??= new Set(routePatterns());
    return typeof matched === 'string' && patterns.has(matched) ? matched : UNMATCHED_ROUTE;
  };
  return async (ctx: Context, next: Next) => {
    const started = performance.now();
    const requestId = requestIdOf(ctx.get('x-request-id') || undefined);
    ctx.set('X-Request-Id', requestId);
    ctx.state.requestId = requestId;
    let status: number | undefined;
    try {
      await (READS.has(ctx.method) ? next() : observer.within(requestId, next));
    } catch (error) {
      // Past the error handler only a bug gets here; Koa answers it 500.
      status = 500;
      throw error;
    } finally {
      observer.served({
        requestId,
        method: ctx.method,
        route: labelOf((ctx as { _matchedRoute?: unknown })._matchedRoute),
        path: ctx.path.length > MAX_LOGGED_PATH ? `${ctx.path.slice(0, MAX_LOGGED_PATH)}…` : ctx.path,
        status: status ?? ctx.status,
        durationSeconds: (performance.now() - started) / 1000,
      });
    }
  };
}
