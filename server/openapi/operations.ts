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

/** The common error body `{"error": {"code", "message"}}`, its `code` one of `codes`. */
export function errorBodySchema(codes: readonly string[]): z.ZodType {
  return z.strictObject({
    error: z.strictObject({
      code: z.enum(codes as [string, ...string[]]),
      message: z.string().meta({ description: 'For people; may change. Decide on `code`.' }),
    }),
  });
}

/** RFC 9110 §15.5.6: a 405 names the methods the target does serve. */
const ALLOW_HEADER = z.object({
  Allow: z.string().meta({
    description: "The path's methods, e.g. `POST, OPTIONS` (empty for `CONNECT`: its target is no path of ours).",
  }),
});

/** What a route answers its own failures with: its own body (given its codes at one status) for `codes`. */
export interface OwnErrorBodies {
  codes: ReadonlyArray<readonly [code: string, status: number]>;
  schema: (codes: readonly string[]) => z.ZodType;
}

/**
 * The error answers of an operation, one per status listing the codes it stands for: `codes` in
 * the common body (`errorBodySchema`), and `own.codes` in the route's own body (a provider's
 * notification endpoint answers in the provider's words). A status with both is either body. A
 * 405 carries `Allow`.
 */
export function errorAnswers(
  codes: ReadonlyArray<readonly [code: string, status: number]>,
  own?: OwnErrorBodies,
): Record<string, ResponseConfig> {
  const common = codesByStatus(codes);
  const owned = codesByStatus(own?.codes ?? []);
  const statuses = [...new Set([...common.keys(), ...owned.keys()])].sort((a, b) => a - b);
  const answers: Record<string, ResponseConfig> = {};
  for (const status of statuses) {
    const schemas = [
      ...(owned.has(status) ? [own!.schema(owned.get(status)!)] : []),
      ...(common.has(status) ? [errorBodySchema(common.get(status)!)] : []),
    ];
    const listed = [...new Set([...(owned.get(status) ?? []), ...(common.get(status) ?? [])])];
    const answer = jsonAnswer(
      listed.map((code) => `\`${code}\``).join(', '),
      schemas.length === 1 ? schemas[0] : z.union(schemas as [z.ZodType, z.ZodType]),
    );
    answers[String(status)] = status === 405 ? { ...answer, headers: ALLOW_HEADER } : answer;
  }
  return answers;
}

function codesByStatus(codes: ReadonlyArray<readonly [code: string, status: number]>): Map<number, string[]> {
  const byStatus = new Map<number, string[]>();
  for (const [code, status] of codes) {
    const listed = byStatus.get(status) ?? [];
    if (!listed.includes(code)) listed.push(code);
    byStatus.set(status, listed);
  }
  return byStatus;
}
