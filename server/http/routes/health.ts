import Router from '@koa/router';

/** `GET /healthz`: answered once the server is wired, for load balancers and orchestrators. */
export function healthRoutes() {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  return router;
}
