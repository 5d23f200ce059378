import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse, STATUS_CODES } from 'node:http';
import { finished, type Duplex } from 'node:stream';
import type { ErrorCode } from '../domain/errors';
import { echoed } from '../domain/text';
import { clientError, errorBody, HTTP_STATUS } from './errors';
import { requestIdOf } from './request-observer';

/**
 * Node's parser errors that are not plain malformed requests, as the status Node itself would
 * answer (`_http_server.js` `socketOnError`); every other `HPE_*` is 400 MALFORMED_REQUEST.
 */
const PARSER_STATUS: Record<string, number> = {
  HPE_HEADER_OVERFLOW: 431,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};

/**
 * The codes the server answers itself, before any app runs (see `createCheckoutServer`), each
 * with its status: whatever the request's path, these are the common `{"error"}` body, since no
 * route is known yet. `METHOD_NOT_ALLOWED` is CONNECT's.
 */
export const NODE_REFUSALS: ReadonlyArray<readonly [code: ErrorCode, status: number]> = (
  [
    'MALFORMED_REQUEST',
    'METHOD_NOT_ALLOWED',
    'REQUEST_TIMEOUT',
    'BODY_TOO_LARGE',
    'EXPECTATION_FAILED',
    'HEADERS_TOO_LARGE',
  ] as const
).map((code) => [code, HTTP_STATUS[code]] as const);

/**
 * How often Node looks for requests past `headersTimeout` (60 s) or `requestTimeout` (5 min):
 * its default, 30 s, would let a stalled request wait up to 90 s for its 408.
 */
const TIMEOUT_CHECK_MS = 1000;

/** A request the server answered itself, before the app: what it was answered, under which id. */
export interface ServerRefusal {
  requestId: string;
  status: number;
  code: ErrorCode;
  message: string;
}

/**
 * The checkout server's Node HTTP server: the requests Node refuses before any handler runs get
 * the error contract's JSON too, instead of Node's empty answers.
 *
 * - `clientError` (unparseable request line or headers, a method token Node does not know,
 *   duplicate Content-Length, headers over 16 KB, a request too slow to arrive): our JSON
 *   answer, then the connection is closed, since the parser cannot go on. HTTP answers in
 *   order: when requests before it on the connection are still being answered (pipelining),
 *   the refusal waits until the last of them is sent. Nothing is written when the socket is no
 *   longer writable (the client went, or an earlier answer closed the connection).
 * - `checkExpectation` (an `Expect` other than `100-continue`): 417 EXPECTATION_FAILED.
 * - `connect` (CONNECT: this is no proxy): 405 METHOD_NOT_ALLOWED with an empty `Allow`: its
 *   target is no path of ours, so no method serves it.
 * - A missing Host header is left to the app (`requireHostHeader: false`, see `requireHost`).
 *
 * Each of these answers carries an `X-Request-Id` (the request's sane one where its headers could
 * be read, else a new UUID), as the app's do, and is reported to `onRefused` (the log).
 * Attach the app with `server.on('request', app.callback())`.
 */
export function createCheckoutServer(onRefused: (refusal: ServerRefusal) => void = () => undefined): Server {
  const server = createServer({ requireHostHeader: false, connectionsCheckingInterval: TIMEOUT_CHECK_MS });
  // Node keeps the answers queued behind the one being written out of reach: the latest
  // request's answer, once finished, means every earlier one on the connection is sent too.
  const latestAnswer = new WeakMap<Duplex, ServerResponse>();
  server.on('request', (request: IncomingMessage, response: ServerResponse) =>
    latestAnswer.set(request.socket, response),
  );
  const refused = new WeakSet<Duplex>();
  server.on('clientError', (error: Error & { code?: string }, socket: Duplex) => {
    // The parser stays broken: what else arrives on the connection is not answered again.
    if (refused.has(socket)) return;
    refused.add(socket);
    const pending = latestAnswer.get(socket);
    if (!pending || pending.writableFinished) {
      answerClientError(error, socket, onRefused);
      return;
    }
    // The client may go meanwhile: the answer then never finishes, and the socket is destroyed.
    finished(pending, (failure) => (failure ? socket.destroy() : answerClientError(error, socket, onRefused)));
  });
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    const requestId = requestIdOf(sentRequestId(request));
    const message = `Expect: ${echoed(request.headers.expect ?? '')} cannot be met; only 100-continue is`;
    const body = JSON.stringify(errorBody('EXPECTATION_FAILED', message));
    response.shouldKeepAlive = false;
    response.writeHead(HTTP_STATUS.EXPECTATION_FAILED, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'x-request-id': requestId,
    });
    response.end(body);
    onRefused({ requestId, status: HTTP_STATUS.EXPECTATION_FAILED, code: 'EXPECTATION_FAILED', message });
  });
  server.on('connect', (request: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => undefined);
    const requestId = requestIdOf(sentRequestId(request));
    const message = `CONNECT ${echoed(request.url ?? '')} is not served: this is no proxy`;
    closeWith(socket, rawAnswer('METHOD_NOT_ALLOWED', message, ['Allow: ', `X-Request-Id: ${requestId}`]));
    onRefused({ requestId, status: HTTP_STATUS.METHOD_NOT_ALLOWED, code: 'METHOD_NOT_ALLOWED', message });
  });
  return server;
}

function sentRequestId(request: IncomingMessage): string | undefined {
  const sent = request.headers['x-request-id'];
  return typeof sent === 'string' ? sent : undefined;
}

/**
 * Once no answer is outstanding on `socket`: our refusal of what Node could not parse. Its
 * headers are out of reach, so its id is always a new one.
 */
function answerClientError(
  error: Error & { code?: string },
  socket: Duplex,
  onRefused: (refusal: ServerRefusal) => void,
): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = PARSER_STATUS[error.code ?? ''] ?? 400;
  const refusal = clientError(
    status,
    `${status === 400 ? 'Malformed HTTP request' : STATUS_CODES[status]}: ${error.message}`,
  );
  const requestId = randomUUID();
  closeWith(socket, rawAnswer(refusal.code, refusal.message, [`X-Request-Id: ${requestId}`]));
  onRefused({ requestId, status: HTTP_STATUS[refusal.code], code: refusal.code, message: refusal.message });
}

/** Writes the answer after whatever is still queued on the socket, then closes the connection. */
function closeWith(socket: Duplex, answer: string): void {
  socket.end(answer, () => socket.destroy());
}

/** A whole HTTP/1.1 answer for a socket no ServerResponse owns; the connection closes after it. */
function rawAnswer(code: ErrorCode, message: string, headers: string[] = []): string {
  const status = HTTP_STATUS[code];
  const body = JSON.stringify(errorBody(code, message));
  return [
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...headers,
    '',
    body,
  ].join('\r\n');
}
