import Router from '@koa/router';
import { createHash, timingSafeEqual } from 'node:crypto';
import { AppError } from '../../domain/errors';
import { z } from 'zod';
import { describeRoutes } from '../../openapi/operations';
import { bearerToken } from '../auth';
import { errorsOf } from '../contract';

/** What `/metrics` serves: Prometheus' text format and its Content-Type. */
export interface MetricsSource {
  readonly contentType: string;
  render(): Promise<string>;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * `GET /metrics`: every metric in Prometheus' text format. With `token` (METRICS_TOKEN) set it
 * needs `Authorization: Bearer <token>`, compared in constant time; else `401 METRICS_UNAUTHORIZED`.
 */
export function metricsRoutes(metrics: MetricsSource, token?: string) {
  const expected = token === undefined ? undefined : digest(token);
  const router = new Router();
  router.get('/metrics', async (ctx) => {
    if (expected) {
      const presented = bearerToken(ctx);
      // Comparing digests keeps the comparison constant-time whatever the presented length.
      if (!presented || !timingSafeEqual(digest(presented), expected)) {
        throw new AppError('METRICS_UNAUTHORIZED', 'Missing or wrong METRICS_TOKEN bearer');
      }
    }
    ctx.set('Content-Type', metrics.contentType);
    ctx.body = await metrics.render();
  });
  return describeRoutes(router, [
    {
      method: 'get',
      path: '/metrics',
      tags: ['operations'],
      summary: 'Prometheus metrics',
      description: 'Every metric in Prometheus\' text format (listed in the README, "Logs and metrics").',
      // The empty requirement: no token needed unless METRICS_TOKEN is set.
      security: [{ metricsToken: [] }, {}],
      responses: {
        200: {
          description: 'Prometheus text exposition format 0.0.4.',
          content: { 'text/plain': { schema: z.string() } },
        },
        ...errorsOf('METRICS_UNAUTHORIZED'),
      },
    },
  ]);
}
