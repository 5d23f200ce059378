/** Reading what the server logs and what `/metrics` serves, for tests. */

/** One JSON log line as pino writes it. */
export interface LogLine {
  level: string;
  time: number;
  msg: string;
  reqId?: string;
  [field: string]: unknown;
}

/** The JSON lines in what a logger wrote, chunk by chunk. */
export function logLines(written: readonly string[]): LogLine[] {
  return written
    .join('')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as LogLine);
}

/**
 * The value of the first sample `name{…}` in Prometheus text whose labels include `labels` (in
 * any order); 0 when there is none.
 */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, value]) => [key, value]),
    );
    if (Object.entries(labels).every(([key, value]) => present[key] === value)) return Number(match[3]);
  }
  return 0;
}
