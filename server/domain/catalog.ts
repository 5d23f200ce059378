import { z } from 'zod';
import { AppError } from './errors';
import { Fen, MAX_ORDER_AMOUNT } from './money';

export interface CatalogItem {
  sku: string;
  title: string;
  price: Fen;
}

export const catalogSchema = z.object({
  items: z
    .array(
      z.object({
        sku: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'sku: 1-64 letters, digits, dot, dash or underscore'),
        title: z.string().trim().min(1).max(64),
        price: z.number().int().positive().max(MAX_ORDER_AMOUNT),
      }),
    )
    .min(1)
    .refine((items) => new Set(items.map((item) => item.sku)).size === items.length, 'skus must be unique'),
});

export const DEMO_CATALOG: CatalogItem[] = [
  { sku: 'coffee-beans-250g', title: '云南小粒咖啡豆 250g', price: 6800 },
  { sku: 'drip-coffee-10', title: '挂耳咖啡 10 袋装', price: 3900 },
  { sku: 'ceramic-mug', title: '陶瓷马克杯', price: 4500 },
];

export interface OrderLine {
  sku: string;
  title: string;
  unitPrice: Fen;
  quantity: number;
  amount: Fen;
}

export interface PricedOrder {
  lines: OrderLine[];
  amount: Fen;
  /** What the gateway shows the shopper; at most 32 bytes of UTF-8 (seed 001 §4.2.1). */
  title: string;
}

export class Catalog {
  private readonly bySku: Map<string, CatalogItem>;

  constructor(readonly items: readonly CatalogItem[]) {
    this.bySku = new Map(items.map((item) => [item.sku, item]));
  }

  /** Prices a cart from the catalogue alone: the client never sends a price. Repeated skus are merged. */
  price(requested: ReadonlyArray<{ sku: string; quantity: number }>): PricedOrder {
    const quantities = new Map<string, number>();
    for (const { sku, quantity } of requested) {
      if (!this.bySku.has(sku)) {
        throw new AppError('UNKNOWN_SKU', `Unknown sku "${sku}"`, { sku });
      }
      quantities.set(sku, (quantities.get(sku) ?? 0) + quantity);
    }
    const lines: OrderLine[] = [...quantities].map(([sku, quantity]) => {
      const item = this.bySku.get(sku)!;
      return { sku, title: item.title, unitPrice: item.price, quantity, amount: item.price * quantity };
    });
    const amount = lines.reduce((sum, line) => sum + line.amount, 0);
    if (amount > MAX_ORDER_AMOUNT) {
      throw new AppError('ORDER_TOO_LARGE', `Order total ${amount} fen exceeds the limit of ${MAX_ORDER_AMOUNT} fen`);
    }
    return { lines, amount, title: gatewayTitle(lines) };
  }
}

function gatewayTitle(lines: OrderLine[]): string {
  const first = lines[0].title;
  const suffix = lines.length > 1 ? `等${lines.length}件` : '';
  return truncateUtf8(first, 32 - Buffer.byteLength(suffix)) + suffix;
}

export function truncateUtf8(text: string, maxBytes: number): string {
  let result = '';
  for (const char of text) {
    if (Buffer.byteLength(result + char) > maxBytes) break;
    result += char;
  }
  return result;
}
