/** Money is integer fen everywhere; this is the one place that turns it into yuan text. */
export type Fen = number;

export const MAX_ORDER_AMOUNT: Fen = 2_000_000_000;

export function isFen(value: unknown): value is Fen {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

export function formatYuan(amount: Fen): string {
  const sign = amount < 0 ? '-' : '';
  const abs = Math.abs(amount);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}
