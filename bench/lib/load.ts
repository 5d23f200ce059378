import { runScript } from './processes';

export interface LoadResult {
  requests: number;
  durationSeconds: number;
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  non2xx: number;
  errors: number;
}

export interface LoadSpec {
  url: string;
  connections: number;
  durationSeconds?: number;
  amount?: number;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** A JSON file of request bodies, sent round-robin (each connection takes the next one). */
  bodiesFile?: string;
  /** Checkout flow: create an order, then pay it with the number from the answer. */
  checkoutFlow?: { token: string; items: unknown };
}

/** autocannon, in a process of its own so that it never shares an event loop with a server. */
export function generateLoad(spec: LoadSpec): Promise<LoadResult> {
  return runScript<LoadResult>('lib/load-generator.ts', [JSON.stringify(spec)]);
}
