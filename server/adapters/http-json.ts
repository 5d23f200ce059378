/** JSON over HTTP for the upstream adapters, with a deadline on every call. */

export class UpstreamUnreachable extends Error {
  constructor(url: string, cause: unknown) {
    super(`${new URL(url).origin} unreachable: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'UpstreamUnreachable';
  }
}

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

export async function requestJson(request: JsonRequest): Promise<Record<string, unknown>> {
  let response: Response;
  let text: string;
  try {
    response = await fetch(request.url, {
      method: request.method,
      headers: request.body === undefined ? undefined : { 'content-type': 'application/json' },
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
      signal: AbortSignal.timeout(request.timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    throw new UpstreamUnreachable(request.url, error);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UpstreamBadAnswer(request.url, response.status, text);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UpstreamBadAnswer(request.url, response.status, text);
  }
  return parsed as Record<string, unknown>;
}
