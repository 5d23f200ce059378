/**
 * What every provider whose notifications are signed in headers (WeChat Pay's `Wechatpay-*`,
 * Douyin 通用交易系统's `Byte-*`) must read the same way.
 */

/**
 * Headers by name, as a message brought them: a header that came more than once is the list of
 * its values (Node's `headersDistinct`), never joined into one.
 */
export type MessageHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

/** The signing headers of a message: each one's value, and which came twice or not at all. */
export interface SigningHeaders<Name extends string> {
  /** Trimmed; '' when absent. */
  values: Record<Name, string>;
  /** Sent more than once (a list of values, or one name in two cases): a signature covers one value. */
  repeated: Name[];
  /** Absent or empty. */
  missing: Name[];
}

/** Reads `names` (lower case) from headers keyed in any case. */
export function readSigningHeaders<Name extends string>(
  headers: MessageHeaders,
  names: readonly Name[],
): SigningHeaders<Name> {
  const lower = new Map<string, string>();
  const repeated = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const key = name.toLowerCase();
    const values: readonly string[] = typeof value === 'string' ? [value] : value;
    if (values.length === 0) continue;
    if (values.length > 1 || lower.has(key)) repeated.add(key);
    lower.set(key, values[0]);
  }
  const values = Object.fromEntries(names.map((name) => [name, lower.get(name)?.trim() ?? ''])) as Record<Name, string>;
  return {
    values,
    repeated: names.filter((name) => repeated.has(name)),
    missing: names.filter((name) => values[name] === ''),
  };
}

/**
 * Canonical base64 (RFC 4648 §4, padded): Node's decoder stops at the first `=` and skips what it
 * cannot read, so `<signature>, <anything>` would otherwise verify as the signature alone.
 */
export const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
