import Router from '@koa/router';
import { z } from 'zod';
import { describeRoutes, jsonAnswer } from '../../openapi/operations';
import { errorsOf } from '../contract';

/** `GET /healthz`: answered once the server is wired, for load balancers and orchestrators. */
export function healthRoutes() {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  return describeRoutes(router, [
    {
      method: 'get',
      path: '/healthz',
      tags: ['operations'],
      summary: 'Readiness',
      responses: {
        200: jsonAnswer('The server is ready.', z.strictObject({ status: z.literal('ok') })),
        ...errorsOf(),
      },
    },
  ]);
}
