import { runScript } from './processes';

export interface LoadResult {
  requests: number;
  durationSeconds: number;
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  non2xx: number;
  errors: number;
  /** The slowest request, ms (a request that never answered counts as autocannon's maximum). */
  latencyMaxMs: number;
  /** Requests slower than `LoadSpec.slowerThanMs`; 0 when it is not set. */
  slowerThan: number;
}

export interface LoadSpec {
  url: string;
  connections: number;
  durationSeconds?: number;
  amount?: number;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** At most this many requests per second over all connections (autocannon's `overallRate`); unset: as fast as answered. */
  requestsPerSecond?: number;
  /** A JSON file of request bodies, sent round-robin (each connection takes the next one). */
  bodiesFile?: string;
  /**
   * A JSON file of POSTs, each `{headers, body}`, sent round-robin like `bodiesFile`, each with
   * its own headers (signed notifications).
   */
  messagesFile?: string;
  /** Checkout flow: create an order, then pay it with the number from the answer. */
  checkoutFlow?: { token: string; items: unknown };
  /** GETs of these paths in turn (each request takes the next one), instead of `url`'s path. */
  rotatingPaths?: string[];
  /** Count the requests slower than this, ms (every response's time is watched). */
  slowerThanMs?: number;
}

/** autocannon, in a process of its own so that it never shares an event loop with a server. */
export function generateLoad(spec: LoadSpec): Promise<LoadResult> {
  return runScript<LoadResult>('lib/load-generator.ts', [JSON.stringify(spec)]);
}
