import { createHash, randomBytes, randomInt } from 'node:crypto';

const ALPHANUMERIC = '0123456789ABCDEFGHJKLMNPQRSTUVWXYZ';

function randomAlphanumeric(length: number): string {
  let text = '';
  for (let i = 0; i < length; i += 1) text += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return text;
}

function compactTimestamp(at: Date): string {
  return at.toISOString().replace(/\D/g, '').slice(0, 14);
}

/** 24 letters/digits: sortable by time, unguessable enough that order numbers are not enumerable. */
export function newOrderNo(at: Date): string {
  return compactTimestamp(at) + randomAlphanumeric(10);
}

/**
 * A gateway bill number (8-32 letters/digits). Every bill gets a fresh one: the gateway never
 * accepts a bill_no twice, even after a failure.
 */
export function newBillNo(at: Date): string {
  return `B${compactTimestamp(at)}${randomAlphanumeric(13)}`;
}

const CHINA_OFFSET_MS = 8 * 60 * 60 * 1000;

/** `YYYYMMDD` of this instant in China Standard Time (UTC+8, no daylight saving). */
export function chinaDate8(at: Date): string {
  return new Date(at.getTime() + CHINA_OFFSET_MS).toISOString().slice(0, 10).replace(/-/g, '');
}

/**
 * The instants a China day (`YYYY-MM-DD`, China Standard Time) spans: from its midnight
 * (`start`, included) to the next (`end`, excluded). Throws RangeError for text that is no
 * such day (e.g. `2024-02-30`).
 */
export function chinaDayBounds(day: string): { start: Date; end: Date } {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  const utcMidnight = match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : NaN;
  if (!match || Number.isNaN(utcMidnight) || new Date(utcMidnight).toISOString().slice(0, 10) !== day) {
    throw new RangeError(`${day} is not a day (YYYY-MM-DD)`);
  }
  const start = utcMidnight - CHINA_OFFSET_MS;
  return { start: new Date(start), end: new Date(start + 24 * 60 * 60 * 1000) };
}

/**
 * A gateway `refund_no`: the day it is sent (China time) + 16 letters/digits. The gateway takes
 * the date + 3–24 letters/digits, the date must be the day of the request, and a serial of
 * `000` is refused (seed 001 §4.3.1).
 */
export function newRefundNo(at: Date): string {
  return `${chinaDate8(at)}R${randomAlphanumeric(15)}`;
}

export function newSessionToken(): string {
  return randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function hashRequest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}
