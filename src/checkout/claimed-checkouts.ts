import { isRecord } from '../api/errors';
import { Order } from '../api/types';
import { KeyValueStorage } from '../session/storage';

export const CLAIMED_CHECKOUTS_STORAGE_KEY = 'checkout.claimed.v1';

/** Enough for every checkout a shopper could re-open; older entries are dropped first. */
const MAX_ENTRIES = 20;
/** Orders expire after 15 minutes; a paid one is still worth showing again for a day. */
const MAX_AGE_MS = 24 * 60 * 60 * 1000;

interface ClaimedCheckout {
  checkoutToken: string;
  order: Order;
  /** Epoch milliseconds. */
  claimedAt: number;
}

/**
 * The orders this client claimed, by launch token. A token is spent by its first claim, so when
 * the shopper re-opens the same launch path (WeChat restores the page, or the app is tapped again)
 * the server answers CHECKOUT_TOKEN_USED: with this record the page resumes the order instead.
 * The token is worthless once claimed, so keeping it in local storage gives nothing away.
 */
export interface ClaimedCheckouts {
  remember(checkoutToken: string, order: Order): void;
  /** The order claimed with this token on this client, as it was when claimed (its status may have changed since). */
  recall(checkoutToken: string): Order | undefined;
}

export interface ClaimedCheckoutsOptions {
  storage: KeyValueStorage;
  /** @default Date.now */
  now?: () => number;
}

export function createClaimedCheckouts({ storage, now = Date.now }: ClaimedCheckoutsOptions): ClaimedCheckouts {
  function read(): ClaimedCheckout[] {
    const stored = storage.getItem(CLAIMED_CHECKOUTS_STORAGE_KEY);
    if (!Array.isArray(stored)) return [];
    const oldest = now() - MAX_AGE_MS;
    return stored.filter((entry): entry is ClaimedCheckout => isClaimedCheckout(entry) && entry.claimedAt >= oldest);
  }

  return {
    remember(checkoutToken, order) {
      const others = read().filter((entry) => entry.checkoutToken !== checkoutToken);
      const entries = [...others, { checkoutToken, order, claimedAt: now() }].slice(-MAX_ENTRIES);
      storage.setItem(CLAIMED_CHECKOUTS_STORAGE_KEY, entries);
    },
    recall(checkoutToken) {
      return read().find((entry) => entry.checkoutToken === checkoutToken)?.order;
    },
  };
}

function isClaimedCheckout(value: unknown): value is ClaimedCheckout {
  return (
    isRecord(value) &&
    typeof value.checkoutToken === 'string' &&
    typeof value.claimedAt === 'number' &&
    isRecord(value.order) &&
    typeof value.order.orderNo === 'string' &&
    typeof value.order.amount === 'number' &&
    Array.isArray(value.order.items)
  );
}
