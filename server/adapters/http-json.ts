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

/**
 * A request whose body is sent byte for byte as given, with extra headers: for upstreams that
 * sign the exact text of a request (WeChat Pay APIv3's `Authorization`).
 */
export interface RawRequest {
  method: 'GET' | 'POST';
  url: string;
  /** Sent as is, with `content-type: application/json` when present. */
  body?: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  /**
   * Statuses returned as answers although `requestRaw` would throw for them (e.g. 429 from an
   * upstream that signs its refusals: only the caller can tell its own refusal from a proxy's).
   */
  readStatuses?: readonly number[];
}

/**
 * An answer as it came: the status, the headers (names in lower case, as Node gives them) and the
 * body text untouched, so a signature over it can be checked. A header that came more than once
 * is the list of its values, never joined: a verifier must be able to tell two signatures from one.
 */
export interface RawAnswer {
  status: number;
  headers: Record<string, string | readonly string[] | undefined>;
  text: string;
}

// Upstreams are few and called often: keep their connections open between calls.
const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 64 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 64 }),
};

function send(request: RawRequest): Promise<RawAnswer> {
  const url = new URL(request.url);
  const transport = url.protocol === 'https:' ? https : http;
  const body = request.body;
  const headers: Record<string, string | number> = { ...request.headers };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = Buffer.byteLength(body);
  }
  return new Promise((resolve, reject) => {
    const outgoing = transport.request(
      url,
      {
        method: request.method,
        agent: agents[url.protocol === 'https:' ? 'https:' : 'http:'],
        headers,
        timeout: request.timeoutMs,
      },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () =>
          resolve({
            status: incoming.statusCode ?? 0,
            headers: distinctHeaders(incoming.headersDistinct),
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
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

/**
 * Headers by lower-case name from Node's `headersDistinct` (every header line kept, unlike
 * `headers`, which joins or drops repeats): one value as a string, repeats as the list.
 */
function distinctHeaders(
  headers: Record<string, string[] | undefined>,
): Record<string, string | readonly string[] | undefined> {
  const out: Record<string, string | readonly string[] | undefined> = {};
  for (const [name, values] of Object.entries(headers)) {
    if (values !== undefined) out[name] = values.length === 1 ? values[0] : values;
  }
  return out;
}

/**
 * Sends `request` and returns the answer untouched when it is one the caller must read: any
 * status below 500 except 429, and any status in `readStatuses`. Throws `UpstreamUnreachable` (no answer within `timeoutMs`),
 * `UpstreamBusy` (429, 502, 503, 504) or `UpstreamBadAnswer` (any other 5xx: a failure in front
 * of or inside the upstream, whatever its body says, which says nothing about what was done).
 */
export async function requestRaw(request: RawRequest): Promise<RawAnswer> {
  let answer: RawAnswer;
  try {
    answer = await send(request);
  } catch (error) {
    throw new UpstreamUnreachable(request.url, error);
  }
  if (request.readStatuses?.includes(answer.status)) return answer;
  if (BUSY_STATUSES.has(answer.status)) throw new UpstreamBusy(request.url, answer.status);
  if (answer.status >= 500) throw new UpstreamBadAnswer(request.url, answer.status, answer.text);
  return answer;
}

/**
 * Sends `request` with its body as JSON and returns the JSON object answered. Our JSON upstreams
 * answer their APIs' errors with HTTP 200 and an error code, so any readable object is returned
 * whatever its status below 500. Throws as `requestRaw` does, and `UpstreamBadAnswer` when the
 * answer is not a JSON object.
 */
export async function requestJson(request: JsonRequest): Promise<Record<string, unknown>> {
  const answer = await requestRaw({
    method: request.method,
    url: request.url,
    body: request.body === undefined ? undefined : JSON.stringify(request.body),
    timeoutMs: request.timeoutMs,
  });
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
