/**
 * Formats an amount of integer fen (1/100 yuan) as yuan with two decimals, e.g. 1999 → "19.99".
 * The only place money is converted for display; everything else stays in integer fen.
 */
export function formatFen(fen: number): string {
  if (!Number.isSafeInteger(fen)) {
    throw new RangeError(`formatFen expects an integer amount of fen, got ${fen}`);
  }
  const sign = fen < 0 ? '-' : '';
  const absolute = Math.abs(fen);
  const yuan = Math.floor(absolute / 100);
  const cents = absolute % 100;
  return `${sign}${yuan}.${cents < 10 ? '0' : ''}${cents}`;
}
