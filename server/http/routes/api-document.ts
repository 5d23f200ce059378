import Router from '@koa/router';
import { z } from 'zod';
import { describeRoutes, jsonAnswer } from '../../openapi/operations';
import type { OpenApiDocument } from '../api-document';
import { errorsOf } from '../contract';

/**
 * `GET /openapi.json`: this API's OpenAPI 3.1 document. `build` runs on the first request (the
 * routers it reads are all mounted by then) and its JSON is served from then on.
 */
export function apiDocumentRoutes(build: () => OpenApiDocument) {
  const router = new Router();
  // Serialised once too: the document is some tens of kilobytes.
  let text: string | undefined;
  router.get('/openapi.json', (ctx) => {
    text ??= JSON.stringify(build());
    ctx.type = 'application/json';
    ctx.body = text;
  });
  return describeRoutes(router, [
    {
      method: 'get',
      path: '/openapi.json',
      tags: ['operations'],
      summary: 'This document',
      description: 'OpenAPI 3.1: generate a client from it, or load it in Swagger UI or Redoc.',
      responses: {
        200: jsonAnswer(
          'The OpenAPI document.',
          z.looseObject({
            openapi: z.string().regex(/^3\.1\.\d+$/),
            info: z.looseObject({}),
            paths: z.looseObject({}),
          }),
        ),
        ...errorsOf(),
      },
    },
  ]);
}
