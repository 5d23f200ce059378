CREATE TABLE sessions (
  token_hash   text PRIMARY KEY,
  platform     text NOT NULL,
  openid       text NOT NULL,
  session_key  text NOT NULL,
  unionid      text,
  created_at   timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE orders (
  order_no            text PRIMARY KEY,
  owner               text NOT NULL,
  status              text NOT NULL CHECK (status IN ('pending', 'paid', 'expired', 'failed', 'closed')),
  amount              integer NOT NULL CHECK (amount > 0),
  currency            text NOT NULL,
  items               jsonb NOT NULL,
  title               text NOT NULL,
  idempotency_key     text,
  request_hash        text,
  created_at          timestamptz NOT NULL,
  expires_at          timestamptz NOT NULL,
  status_changed_at   timestamptz NOT NULL,
  paid_at             timestamptz,
  gateway_checked_at  timestamptz,
  UNIQUE (owner, idempotency_key)
);
CREATE INDEX orders_owner_created ON orders (owner, created_at);

CREATE TABLE bills (
  bill_no        text PRIMARY KEY,
  order_no       text NOT NULL REFERENCES orders (order_no),
  channel        text NOT NULL,
  amount         integer NOT NULL CHECK (amount > 0),
  status         text NOT NULL CHECK (status IN ('creating', 'open', 'paid', 'failed', 'closed', 'rejected', 'abandoned')),
  payer          text,
  gateway_id     text,
  client_params  jsonb,
  error          text,
  created_at     timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL
);
CREATE INDEX bills_order ON bills (order_no, created_at);
-- One attempt in flight per order and channel: concurrent "pay" taps cannot open two bills.
CREATE UNIQUE INDEX bills_one_active_per_channel ON bills (order_no, channel) WHERE status IN ('creating', 'open');

-- One row per bill the gateway reported paid: the primary key is what makes a payment count once.
CREATE TABLE payments (
  bill_no           text PRIMARY KEY REFERENCES bills (bill_no),
  order_no          text NOT NULL REFERENCES orders (order_no),
  amount            integer NOT NULL,
  channel           text NOT NULL,
  source            text NOT NULL CHECK (source IN ('webhook', 'query')),
  disposition       text NOT NULL CHECK (disposition IN ('applied', 'refund_due', 'amount_mismatch')),
  gateway_trade_no  text,
  received_at       timestamptz NOT NULL,
  detail            jsonb
);
CREATE INDEX payments_order ON payments (order_no);
