import type { Context, Next } from 'koa';
import type { SessionService, Shopper } from '../domain/sessions';

export interface ShopperState {
  shopper: Shopper;
}

/** `Authorization: Bearer <token>` from `POST /api/session` → `ctx.state.shopper`. */
export function requireShopper(sessions: SessionService) {
  return async (ctx: Context, next: Next) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(ctx.get('authorization'));
    ctx.state.shopper = await sessions.authenticate(match?.[1]);
    await next();
  };
}
