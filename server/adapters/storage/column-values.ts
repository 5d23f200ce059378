import { createHash } from 'node:crypto';
import { escapeUnstorable, findJsonProblem } from '../../domain/text';

/**
 * How values cross into and out of columns when PostgreSQL could not hold them as JavaScript
 * does: JSON with NUL, unpaired surrogates or deep nesting, free text with NUL, and int8.
 */

/** Nesting deeper than this goes in as JSON text: PostgreSQL's jsonb parser recurses. */
const MAX_JSONB_DEPTH = 256;

/**
 * A value parsed from JSON as a jsonb parameter (JSON text); null for undefined. A value jsonb
 * cannot hold exactly (a NUL or an unpaired surrogate anywhere, nesting deeper than 256) and a
 * bare string are written as a jsonb string holding the value's JSON text, where NUL and unpaired
 * surrogates are `\u` escapes: nothing is lost, and `fromJsonb` (or `JSON.parse`) reads it back.
 */
export function toJsonb(value: unknown): string | null {
  if (value === undefined) return null;
  if (typeof value !== 'string' && !findJsonProblem(value, MAX_JSONB_DEPTH)) return JSON.stringify(value);
  return JSON.stringify(jsonText(value));
}

/** What `toJsonb` was given, from the column's value as the driver parsed it. */
export function fromJsonb<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

/** Free text for people (an upstream's error, a channel's trade number): NUL and unpaired surrogates as `\u` escapes. */
export function storableText<T extends string | null | undefined>(text: T): T {
  return (typeof text === 'string' ? escapeUnstorable(text) : text) as T;
}

/** Longer keys are shortened: a btree index entry must fit in about 2.7 KB. */
const MAX_KEY_LENGTH = 256;

/**
 * Text from outside that is part of a unique key (an unmatched message's signed type and number):
 * as `storableText`, and beyond 256 characters its first 200 and the SHA-256 of all of it, so
 * that it fits an index entry and still tells different values apart. The whole value is kept
 * with the message.
 */
export function storableKey(text: string): string {
  const escaped = escapeUnstorable(text);
  if (escaped.length <= MAX_KEY_LENGTH) return escaped;
  return `${escaped.slice(0, 200)}…sha256:${createHash('sha256').update(escaped).digest('hex')}`;
}

/** A money column (int8) read back; throws when it is beyond exact JavaScript integers (never written so). */
export function safeInteger(value: unknown): number {
  const number = typeof value === 'bigint' || typeof value === 'string' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number)) {
    throw new Error(`stored integer ${String(value)} is beyond Number.MAX_SAFE_INTEGER`);
  }
  return number;
}

/**
 * `JSON.stringify` for values parsed from JSON, with an explicit stack instead of recursion, so
 * that any depth `JSON.parse` accepted can be written back (`JSON.stringify` overflows the call
 * stack at a few thousand levels).
 */
function jsonText(value: unknown): string {
  type Step = { token: string } | { value: unknown };
  const out: string[] = [];
  const steps: Step[] = [{ value }];
  for (let step = steps.pop(); step; step = steps.pop()) {
    if ('token' in step) {
      out.push(step.token);
      continue;
    }
    const current = step.value;
    if (typeof current !== 'object' || current === null) {
      // Strings come out well-formed: unpaired surrogates as escapes. undefined in an array is null.
      out.push(JSON.stringify(current) ?? 'null');
      continue;
    }
    const parts: Step[] = [];
    if (Array.isArray(current)) {
      parts.push({ token: '[' });
      current.forEach((item, index) => parts.push(...(index ? [{ token: ',' }] : []), { value: item }));
      parts.push({ token: ']' });
    } else {
      parts.push({ token: '{' });
      Object.entries(current)
        .filter(([, item]) => item !== undefined)
        .forEach(([key, item], index) =>
          parts.push({ token: `${index ? ',' : ''}${JSON.stringify(key)}:` }, { value: item }),
        );
      parts.push({ token: '}' });
    }
    for (let index = parts.length - 1; index >= 0; index -= 1) steps.push(parts[index]);
  }
  return out.join('');
}
