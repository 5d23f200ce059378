import type { z } from 'zod';
import { AppError } from '../domain/errors';

/** Parses a request part with zod; a mismatch is the caller's mistake, named precisely. */
export function parseInput<Schema extends z.ZodType>(schema: Schema, value: unknown, where: string): z.infer<Schema> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path.length ? `${where}.${issue.path.join('.')}` : where;
  throw new AppError('VALIDATION_FAILED', `${path}: ${issue?.message ?? 'invalid'}`);
}
