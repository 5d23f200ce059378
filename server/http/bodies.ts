import { bodyParser } from '@koa/bodyparser';
import type { Context, Next } from 'koa';
import { AppError } from '../domain/errors';
import { echoed } from '../domain/text';
import type { ProviderMessage } from '../domain/payment-provider';
import { bodyError, clientError } from './errors';

/** The largest request body any route reads, in bytes. */
export const BODY_LIMIT = 64 * 1024;

/**
 * A body declared (`Content-Length`) over BODY_LIMIT is `413 BODY_TOO_LARGE` on every route,
 * before anything else looks at the request and without reading the body.
 */
export function refuseDeclaredOversizedBody() {
  // Not async: a check that awaits nothing costs every request no promise of its own (koa-compose
  // turns the throw into a rejection for the error handler).
  return (ctx: Context, next: Next) => {
    const length = ctx.request.length;
    if (length !== undefined && length > BODY_LIMIT) {
      throw clientError(413, `body: Content-Length ${length} is larger than the ${BODY_LIMIT} bytes accepted here`);
    }
    return next();
  };
}

/**
 * A provider notification's body, for every content type (or none), as the text of
 * `ctx.request.rawBody`: never parsed here, so that the verifier alone decides what the bytes
 * mean and nothing in an unsigned field (`__proto__` included) can refuse a verified message.
 */
export function rawTextBody() {
  const parse = bodyParser({
    enableTypes: ['text'],
    extendTypes: { text: ['*/*'] },
    textLimit: BODY_LIMIT,
    onError: (error) => {
      throw bodyError(error);
    },
  });
  return async (ctx: Context, next: Next) => {
    // Without a usable Content-Type a recipient may take the body as application/octet-stream (RFC 9110 §8.3).
    if (ctx.is('*/*') === false) ctx.req.headers['content-type'] = 'application/octet-stream';
    await parse(ctx, next);
  };
}

/**
 * A provider's notification as the domain verifies it: the exact text `rawTextBody` read, and
 * the request's headers by lower-case name, every header line kept (`headersDistinct`, from the
 * raw header lines): a header sent more than once is the list of its values, not the joined text
 * (or the first value) Node's `headers` would give, so a verifier can refuse two signatures.
 */
export function providerMessageOf(ctx: Context): ProviderMessage {
  const headers: Record<string, string | readonly string[]> = {};
  for (const [name, values] of Object.entries(ctx.req.headersDistinct)) {
    if (values !== undefined) headers[name] = values.length === 1 ? values[0] : values;
  }
  return { rawBody: typeof ctx.request.rawBody === 'string' ? ctx.request.rawBody : '', headers };
}

/**
 * The JSON body of the shopper and merchant APIs, whatever the method, as `ctx.request.body`
 * (`{}` when there is none). A body of any other type is `400 VALIDATION_FAILED` without being
 * read; JSON that is not well-formed is `400 VALIDATION_FAILED`; a `__proto__` key is refused
 * the same way by the parser.
 */
export function jsonBody() {
  const parse = bodyParser({
    enableTypes: ['json'],
    parsedMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    jsonLimit: BODY_LIMIT,
    onError: (error) => {
      throw bodyError(error);
    },
  });
  return async (ctx: Context, next: Next) => {
    if (!hasBody(ctx)) {
      // Nothing to read (every status poll): the parser would only find that out more slowly.
      ctx.request.body = {};
      return next();
    }
    if (!ctx.is('application/json')) {
      throw new AppError(
        'VALIDATION_FAILED',
        `body: must be application/json, not ${echoed(ctx.get('content-type')) || 'untyped'}`,
      );
    }
    await parse(ctx, next);
  };
}

/** A body is coming: chunked, or a Content-Length above zero. */
function hasBody(ctx: Context): boolean {
  return ctx.get('transfer-encoding') !== '' || (ctx.request.length ?? 0) > 0;
}
