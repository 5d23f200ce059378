import type { Context } from 'koa';
import { echoed, MESSAGE_LIMIT } from '../../domain/text';

export { echoed, MESSAGE_LIMIT };

/** Small transport helpers shared by the sandbox's routes. */

const BODY_LIMIT = 1024 * 1024;

export class BodyTooLargeError extends Error {
  constructor() {
    super(`request body larger than ${BODY_LIMIT} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/** The raw request body as UTF-8, whatever its content type (the gateway parses JSON regardless). */
export async function readBody(ctx: Context): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > BODY_LIMIT) throw new BodyTooLargeError();
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export type ParsedObject = { ok: true; value: Record<string, unknown> } | { ok: false; error: string };

/** Parses text that must hold a JSON object. */
export function parseJsonObject(text: string, what: string): ParsedObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `${what} is not valid JSON (${(error as Error).message})` };
  }
  if (!isPlainObject(value)) return { ok: false, error: `${what} must be a JSON object` };
  return { ok: true, value };
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The control API's error shape: `{error: {code, message}}`, the message cut to MESSAGE_LIMIT characters. */
export function sendError(ctx: Context, status: number, code: string, message: string): void {
  ctx.status = status;
  ctx.body = { error: { code, message: echoed(message, MESSAGE_LIMIT) } };
}

/** The origin this request reached the sandbox at, e.g. `http://127.0.0.1:3100`. */
export function requestOrigin(ctx: Context): string {
  return `${ctx.protocol}://${ctx.host || '127.0.0.1'}`;
}
