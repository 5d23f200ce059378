import { z } from 'zod';
import { AppError } from '../domain/errors';

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

const orderNo = z.string().regex(/^[A-Za-z0-9]{8,32}$/);

/** A malformed order number cannot name an order: it answers like a missing one. */
export function orderNoParam(value: string | undefined): string {
  const parsed = orderNo.safeParse(value);
  if (!parsed.success) throw new AppError('ORDER_NOT_FOUND', `No order ${value}`);
  return parsed.data;
}
