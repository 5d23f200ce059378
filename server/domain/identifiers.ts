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

export function newSessionToken(): string {
  return randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function hashRequest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}
