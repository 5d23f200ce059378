const CHINA_OFFSET_MS = 8 * 60 * 60 * 1000;

/** RFC 3339 in China time, `2026-11-01T10:00:00+08:00`: how APIv3 writes every time. */
export function rfc3339China(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000 + CHINA_OFFSET_MS).toISOString().slice(0, 19)}+08:00`;
}

/** Reads an RFC 3339 time with an explicit offset or `Z`; undefined when it is not one. */
export function parseRfc3339(text: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : undefined;
}
