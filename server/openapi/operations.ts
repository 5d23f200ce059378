import type { ResponseConfig, RouteConfig } from '@asteasolutions/zod-to-openapi';
import type Router from '@koa/router';
import { z } from 'zod';

/**
 * One documented operation (OpenAPI 3.1): `method`, `path` in OpenAPI syntax
 * (`/api/orders/{orderNo}/pay`, the router's `:orderNo`), the zod schemas of its request (the
 * very ones the route validates with) and its answers by status. `@asteasolutions/zod-to-openapi`
 * turns these into the document.
 */
export type ApiOperation = RouteConfig;

const described = new WeakMap<Router, ApiOperation[]>();

/**
 * Attaches the documentation of a router's routes to the router, where the routes are defined:
 * the OpenAPI document is built from the routers an app mounts (./document.ts), so a route is
 * documented by describing it next to its handler, and nowhere else. Calling it again adds more.
 */
export function describeRoutes<R extends Router>(router: R, operations: ApiOperation[]): R {
  described.set(router, [...(described.get(router) ?? []), ...operations]);
  return router;
}

/** The operations described on `router` (none when it was never described). */
export function describedOperations(router: Router): readonly ApiOperation[] {
  return described.get(router) ?? [];
}

/** A JSON answer with the schema of its body. */
export function jsonAnswer(description: string, schema: z.ZodType): ResponseConfig {
  return { description, content: { 'application/json': { schema } } };
}

/**
 * The error answers `{"error": {"code", "message"}}` of an operation, one per status: its `code`
 * is one of the codes listed for that status (`codes` maps each code to its status).
 */
export function errorAnswers(
  codes: ReadonlyArray<readonly [code: string, status: number]>,
): Record<string, ResponseConfig> {
  const byStatus = new Map<number, string[]>();
  for (const [code, status] of codes) {
    const listed = byStatus.get(status) ?? [];
    if (!listed.includes(code)) listed.push(code);
    byStatus.set(status, listed);
  }
  const answers: Record<string, ResponseConfig> = {};
  for (const [status, listed] of [...byStatus].sort(([a], [b]) => a - b)) {
    const schema = z.strictObject({
      error: z.strictObject({
        code: z.enum(listed as [string, ...string[]]),
        message: z.string().meta({ description: 'For people; may change. Decide on `code`.' }),
      }),
    });
    answers[String(status)] = jsonAnswer(listed.map((code) => `\`${code}\``).join(', '), schema);
  }
  return answers;
}
