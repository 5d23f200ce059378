import type { Context, Next } from 'koa';
import type { SessionService, Shopper } from '../domain/sessions';

export interface ShopperState {
  shopper: Shopper;
}

/** The token of `Authorization: Bearer <token>`; undefined when the header is missing or malformed. */
export function bearerToken(ctx: Context): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(ctx.get('authorization'))?.[1];
}

/** `Authorization: Bearer <token>` from `POST /api/session` → `ctx.state.shopper`. */
export function requireShopper(sessions: SessionService) {
  return async (ctx: Context, next: Next) => {
    ctx.state.shopper = await sessions.authenticate(bearerToken(ctx));
    await next();
  };
}
