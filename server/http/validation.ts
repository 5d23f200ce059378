import type { Context, Next } from 'koa';
import type { z } from 'zod';
import { AppError } from '../domain/errors';
import { echoed, findJsonProblem } from '../domain/text';

/** Request JSON nested deeper than this is refused: no request of ours needs more. */
export const MAX_INPUT_DEPTH = 32;

/**
 * Parses a request part with zod; a mismatch is the caller's mistake, named precisely. Text
 * storage cannot keep and deep nesting were already refused for the whole query and body by
 * `refuseUnstorableInput` (headers cannot carry either: Node's parser refuses NUL, and header
 * bytes are Latin-1, with no surrogates).
 */
export function parseInput<Schema extends z.ZodType>(schema: Schema, value: unknown, where: string): z.infer<Schema> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path.length ? fieldPath([where, ...issue.path]) : where;
  throw new AppError('VALIDATION_FAILED', `${path}: ${issue?.message ?? 'invalid'}`);
}

/**
 * The shopper and merchant APIs' one check of the whole query string and body, used or not,
 * before any route: a string or key with NUL or an unpaired surrogate, or nesting deeper than
 * MAX_INPUT_DEPTH, could be neither stored nor answered faithfully, so it is `400
 * VALIDATION_FAILED` (`query.x: …`, `body.why: …`), never half-kept. Mount it after the body is
 * parsed.
 */
export function refuseUnstorableInput() {
  return async (ctx: Context, next: Next) => {
    // Most requests (status polls) carry neither: parsing an empty query costs a status poll dearly.
    if (ctx.querystring !== '') refuseUnstorable(ctx.query, 'query');
    if (hasContent(ctx.request.body)) refuseUnstorable(ctx.request.body, 'body');
    await next();
  };
}

function hasContent(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return body !== undefined;
  for (const _key in body) return true;
  return false;
}

/** Throws VALIDATION_FAILED naming the first string or key storage cannot keep, or nesting too deep. */
function refuseUnstorable(value: unknown, where: string): void {
  const problem = findJsonProblem(value, MAX_INPUT_DEPTH);
  if (!problem) return;
  const path = fieldPath([where, ...problem.path]);
  throw new AppError(
    'VALIDATION_FAILED',
    problem.problem === 'too_deep'
      ? `${path}: nested deeper than ${MAX_INPUT_DEPTH} levels`
      : `${path}: must not contain NUL or unpaired surrogate characters`,
  );
}

/** A field's path as a message names it (`body.attach.cart`): a key the caller sent is cut to ECHO_LIMIT characters. */
function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  return path.map((key) => echoed(String(key))).join('.');
}
