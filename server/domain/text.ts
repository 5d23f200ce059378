/**
 * What PostgreSQL can store exactly as JavaScript holds it. A `text` column refuses U+0000 (NUL);
 * `jsonb` refuses the `\u0000` escape and unpaired surrogates; a string with an unpaired surrogate
 * cannot even be encoded as UTF-8 (the driver silently writes U+FFFD). Deep nesting overflows
 * both `JSON.stringify` and PostgreSQL's JSON parser, which recurse.
 */

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
// eslint-disable-next-line no-control-regex -- NUL is the one control character storage refuses.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when `text` holds neither NUL nor an unpaired surrogate. */
export function isStorableText(text: string): boolean {
  return !UNSTORABLE.test(text);
}

/**
 * An identifier an upstream hands us (openid, unionid, session_key): a non-empty string of at
 * most 256 characters that storage can hold exactly. Anything else is an unreadable answer.
 */
export function isUsableIdentifier(value: unknown): value is string {
  return typeof value === 'string' && value !== '' && value.length <= 256 && isStorableText(value);
}

/** Where a JSON value first holds something storage cannot take, and what. */
export interface JsonProblem {
  /** Keys and indexes from the top of the value; for a bad key, the path of the object holding it. */
  path: Array<string | number>;
  problem: 'too_deep' | 'unstorable_text';
}

/**
 * The first place (depth first) where a value parsed from JSON nests deeper than `maxDepth`
 * objects/arrays, or holds a string or key with NUL or an unpaired surrogate; undefined when
 * there is none. Iterative, so it is safe on any depth `JSON.parse` accepts.
 */
export function findJsonProblem(value: unknown, maxDepth: number): JsonProblem | undefined {
  // Each entry links to its container, so no path is built unless one is reported.
  interface Entry {
    value: unknown;
    key?: string | number;
    parent?: Entry;
    /** Containers above this value. */
    depth: number;
  }
  const pathOf = (entry: Entry): Array<string | number> => {
    const path: Array<string | number> = [];
    for (let at: Entry | undefined = entry; at?.parent; at = at.parent) path.unshift(at.key as string | number);
    return path;
  };
  const pending: Entry[] = [{ value, depth: 0 }];
  for (let entry = pending.pop(); entry; entry = pending.pop()) {
    const current = entry.value;
    if (typeof current === 'string') {
      if (!isStorableText(current)) return { path: pathOf(entry), problem: 'unstorable_text' };
      continue;
    }
    if (typeof current !== 'object' || current === null) continue;
    const depth = entry.depth + 1;
    if (depth > maxDepth) return { path: pathOf(entry), problem: 'too_deep' };
    if (Array.isArray(current)) {
      for (let index = current.length - 1; index >= 0; index -= 1) {
        pending.push({ value: current[index], key: index, parent: entry, depth });
      }
      continue;
    }
    const keys = Object.keys(current);
    if (keys.some((key) => !isStorableText(key))) return { path: pathOf(entry), problem: 'unstorable_text' };
    for (let index = keys.length - 1; index >= 0; index -= 1) {
      const key = keys[index];
      pending.push({ value: (current as Record<string, unknown>)[key], key, parent: entry, depth });
    }
  }
  return undefined;
}

/**
 * `text` with each NUL and unpaired surrogate written as its JSON escape (`\u0000`, `\ud800`):
 * for text kept for people to read (an upstream's error, a channel's trade number) whose exact
 * form is kept elsewhere or does not matter.
 */
export function escapeUnstorable(text: string): string {
  return text.replace(
    new RegExp(UNSTORABLE.source, 'g'),
    (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The most characters of something a caller sent that an error message repeats. */
export const ECHO_LIMIT = 64;

/** The longest error message an answer carries, in characters. */
export const MESSAGE_LIMIT = 512;

/**
 * `value` (an identifier, a path, a header a caller sent) as an error message repeats it: whole
 * when it has at most `limit` characters (code points), else its first `limit` and
 * `…(N characters)`, so that an answer stays short whatever was sent and a pair is never split.
 */
export function echoed(value: string, limit = ECHO_LIMIT): string {
  // Code units bound code points from above: most values are short and need no counting.
  if (value.length <= limit) return value;
  const points = Array.from(value);
  if (points.length <= limit) return value;
  return `${points.slice(0, limit).join('')}…(${points.length} characters)`;
}
