import type Router from '@koa/router';
import type Koa from 'koa';
import type { Context, Next } from 'koa';
import { AppError } from '../domain/errors';
import { echoed } from '../domain/text';

// RFC 9110 §4.2.1/§7.2, RFC 3986 §3.2.2: uri-host [":" port], where uri-host is an IP-literal in
// brackets or a non-empty reg-name / IPv4address (unreserved, sub-delims, pct-encoded).
const HOST = /^(?:\[[0-9A-Za-z:.%~_-]+\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+)(?::[0-9]*)?$/;

/**
 * RFC 9112 §3.2: an HTTP/1.1 request without Host, and any request with more than one Host or a
 * Host that is no `host[:port]`, is `400 MALFORMED_REQUEST`. The server is created without
 * Node's own check (`requireHostHeader: false`), which would answer an empty 400, so that the
 * refusal is ours.
 */
export function requireHost() {
  // Not async, as refuseDeclaredOversizedBody: no promise of its own on every request.
  return (ctx: Context, next: Next) => {
    const hosts = hostHeaders(ctx.req.rawHeaders);
    if (hosts.length === 0 && ctx.req.httpVersion === '1.1') {
      throw new AppError('MALFORMED_REQUEST', 'An HTTP/1.1 request needs a Host header');
    }
    if (hosts.length > 1) throw new AppError('MALFORMED_REQUEST', 'A request takes one Host header');
    if (hosts.length === 1 && !HOST.test(hosts[0])) {
      throw new AppError('MALFORMED_REQUEST', 'The Host header is not a host[:port]');
    }
    return next();
  };
}

/** Every Host header of the request as sent (Node keeps only the first in `headers`). */
function hostHeaders(rawHeaders: string[]): string[] {
  const hosts: string[] = [];
  for (let index = 0; index < rawHeaders.length; index += 2) {
    const name = rawHeaders[index];
    if (name.length === 4 && name.toLowerCase() === 'host') hosts.push(rawHeaders[index + 1]);
  }
  return hosts;
}

/**
 * The last middleware: a request none of the app's routers served. From the routers' tables: a
 * path no route has is `404 NOT_FOUND`; a method the path's routes lack (TRACE, PROPFIND, DELETE
 * on a POST route, …) is `405 METHOD_NOT_ALLOWED` with `Allow`; `OPTIONS` is `204` with `Allow`.
 * No body was read for it (the routers read one only for a route of their own).
 */
export function refuseUnserved(app: Koa) {
  // The routers are mounted once, when the app is built, before this: look them up on first use.
  let routers: Router[] | undefined;
  return (ctx: Context, next: Next) => {
    routers ??= mountedRouters(app);
    const served = methodsServed(routers, ctx.path);
    if (served.length === 0) throw new AppError('NOT_FOUND', `No route for ${ctx.method} ${echoed(ctx.path)}`);
    const allow = [...served, 'OPTIONS'].join(', ');
    if (ctx.method === 'OPTIONS') {
      ctx.set('Allow', allow);
      ctx.status = 204;
      return;
    }
    if (!served.includes(ctx.method)) {
      ctx.set('Allow', allow);
      throw new AppError('METHOD_NOT_ALLOWED', `${ctx.method} is not served at ${echoed(ctx.path)}; allowed: ${allow}`);
    }
    return next();
  };
}

/** One route of the app: its path pattern (`/api/orders/:orderNo/pay`) and methods (GET routes serve HEAD too). */
export interface ServedRoute {
  path: string;
  methods: string[];
}

/** Every route of the routers mounted on `app`, in mounting order. */
export function servedRoutes(app: Koa): ServedRoute[] {
  return mountedRouters(app).flatMap((router) =>
    router.stack
      .filter((layer) => layer.methods.length > 0 && typeof layer.path === 'string')
      .map((layer) => ({ path: layer.path as string, methods: [...layer.methods] })),
  );
}

/** The routers mounted on `app`, in mounting order (@koa/router marks the middleware `router.routes()` returns with its router). */
export function mountedRouters(app: Koa): Router[] {
  return app.middleware.flatMap((middleware) => {
    const router = (middleware as { router?: Router }).router;
    return router ? [router] : [];
  });
}

/** The methods the routes of `routers` serve at `path` (GET routes serve HEAD too); none when no route has the path. */
export function methodsServed(routers: readonly Router[], path: string): string[] {
  const methods = new Set<string>();
  for (const router of routers) {
    for (const layer of router.match(path, 'GET').path) for (const method of layer.methods) methods.add(method);
  }
  return [...methods];
}
