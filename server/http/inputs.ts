import { z } from 'zod';
import { AppError } from '../domain/errors';
import { echoed } from '../domain/text';

/** Request parts more than one route takes. */

export const orderItemsSchema = z
  .array(
    z.object({
      sku: z.string().min(1).max(64),
      quantity: z.number().int().min(1).max(999),
    }),
  )
  .min(1)
  .max(50);

/** An order number as a path parameter: 8–32 letters or digits. */
export const orderNoSchema = z.string().regex(/^[A-Za-z0-9]{8,32}$/);

/** The `Idempotency-Key` header: 1–128 visible ASCII characters. */
export const idempotencyKeySchema = z.string().regex(/^[\x21-\x7e]{1,128}$/, 'must be 1-128 visible ASCII characters');

/** A malformed order number cannot name an order: it answers like a missing one. */
export function orderNoParam(value: string | undefined): string {
  const parsed = orderNoSchema.safeParse(value);
  if (!parsed.success) throw new AppError('ORDER_NOT_FOUND', `No order ${echoed(value ?? '')}`);
  return parsed.data;
}
