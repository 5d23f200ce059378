import http from 'node:http';
import https from 'node:https';

/** JSON over HTTP for the upstream adapters, with a deadline on every call. */

export class UpstreamUnreachable extends Error {
  constructor(url: string, cause: unknown) {
    super(`${new URL(url).origin} unreachable: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'UpstreamUnreachable';
  }
}

/**
 * The upstream answered that it cannot serve now (HTTP 429, 502, 503, 504, typically from its
 * load balancer): as transient as no answer at all, so it is one kind with `UpstreamUnreachable`.
 */
export class UpstreamBusy extends UpstreamUnreachable {
  constructor(url: string, status: number) {
    super(url, new Error(`HTTP ${status}: busy or down, retry later`));
    this.name = 'UpstreamBusy';
  }
}

const BUSY_STATUSES = new Set([429, 502, 503, 504]);

export class UpstreamBadAnswer extends Error {
  constructor(url: string, status: number, body: string) {
    super(`${new URL(url).origin} answered HTTP ${status} with ${JSON.stringify(body.slice(0, 200))}`);
    this.name = 'UpstreamBadAnswer';
  }
}

export interface JsonRequest {
  method: 'GET' | 'POST';
  url: string;
  body?: unknown;
  timeoutMs: number;
}

// Upstreams are few and called often: keep their connections open between calls.
const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 64 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 64 }),
};

function send(request: JsonRequest): Promise<{ status: number; text: string }> {
  const url = new URL(request.url);
  const transport = url.protocol === 'https:' ? https : http;
  const body = request.body === undefined ? undefined : JSON.stringify(request.body);
  return new Promise((resolve, reject) => {
    const outgoing = transport.request(
      url,
      {
        method: request.method,
        agent: agents[url.protocol === 'https:' ? 'https:' : 'http:'],
        headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: request.timeoutMs,
      },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        incoming.on('error', reject);
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error(`no answer within ${request.timeoutMs} ms`)));
    // The socket timeout starts only once a pooled socket is free; a hung upstream can hold
    // them all, so the deadline runs from the call itself.
    const deadline = setTimeout(
      () => outgoing.destroy(new Error(`no answer within ${request.timeoutMs} ms`)),
      request.timeoutMs,
    );
    outgoing.on('close', () => clearTimeout(deadline));
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

export async function requestJson(request: JsonRequest): Promise<Record<string, unknown>> {
  let answer: { status: number; text: string };
  try {
    answer = await send(request);
  } catch (error) {
    throw new UpstreamUnreachable(request.url, error);
  }
  if (BUSY_STATUSES.has(answer.status)) throw new UpstreamBusy(request.url, answer.status);
  // Our upstreams answer their APIs' errors with HTTP 200 and an error code; a 5xx is a failure
  // in front of or inside them, whatever its body says, and says nothing about what was done.
  if (answer.status >= 500) throw new UpstreamBadAnswer(request.url, answer.status, answer.text);
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.text);
  } catch {
    throw new UpstreamBadAnswer(request.url, answer.status, answer.text);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UpstreamBadAnswer(request.url, answer.status, answer.text);
  }
  return parsed as Record<string, unknown>;
}
