-- Orders a merchant's app creates belong to nobody until a shopper claims them.
ALTER TABLE orders ALTER COLUMN owner DROP NOT NULL;
ALTER TABLE orders ADD COLUMN app_user_id text;
ALTER TABLE orders ADD COLUMN attach jsonb;

CREATE TABLE checkout_tokens (
  token_hash  text PRIMARY KEY,
  order_no    text NOT NULL UNIQUE REFERENCES orders (order_no),
  expires_at  timestamptz NOT NULL,
  claimed_by  text,
  claimed_at  timestamptz
);

-- The outbox of final order states for MERCHANT_NOTIFY_URL: written in the transaction that
-- makes the state final, so a crash cannot lose one; delivered until the merchant answers 2xx.
CREATE TABLE merchant_notifications (
  id               integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  order_no         text NOT NULL REFERENCES orders (order_no),
  status           text NOT NULL,
  created_at       timestamptz NOT NULL,
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL,
  delivered_at     timestamptz,
  last_error       text,
  UNIQUE (order_no, status)
);
CREATE INDEX merchant_notifications_due ON merchant_notifications (next_attempt_at) WHERE delivered_at IS NULL;
