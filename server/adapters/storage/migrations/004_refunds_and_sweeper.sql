-- A payment is counted once per bill, but a message with another fee (kept for review) must never
-- shadow the bill's true payment: deduplicate by what a message says, not only by its bill.
ALTER TABLE payments DROP CONSTRAINT payments_pkey;
ALTER TABLE payments ADD COLUMN id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
ALTER TABLE payments DROP CONSTRAINT payments_disposition_check;
ALTER TABLE payments ADD CONSTRAINT payments_disposition_check
  CHECK (disposition IN ('applied', 'refund_due', 'refunded', 'amount_mismatch'));
CREATE UNIQUE INDEX payments_counted_once ON payments (bill_no) WHERE disposition <> 'amount_mismatch';
CREATE UNIQUE INDEX payments_mismatch_once ON payments (bill_no, amount) WHERE disposition = 'amount_mismatch';
-- The operators' lists and the sweeper's search for second payments; applied payments (nearly
-- all of them) stay out of it, so recording one costs no entry here.
CREATE INDEX payments_for_review ON payments (disposition, received_at) WHERE disposition <> 'applied';
-- A fee is whatever a signed message says, not what we asked for: room for any of them.
ALTER TABLE payments ALTER COLUMN amount TYPE bigint;

-- What has been refunded of the order's payment (succeeded merchant refunds), in fen.
ALTER TABLE orders ADD COLUMN refunded_amount bigint NOT NULL DEFAULT 0;
-- The sweeper walks orders that can still be paid; paid and expired ones are final.
CREATE INDEX orders_unsettled ON orders (expires_at) WHERE status IN ('pending', 'failed', 'closed');
-- The sweeper's lease reads the pending orders least recently asked about, in this order.
CREATE INDEX orders_check_due ON orders (gateway_checked_at NULLS FIRST, expires_at) WHERE status = 'pending';
-- Bills still open: the sweeper also asks about those of paid orders (a second payment).
CREATE INDEX bills_open ON bills (updated_at) WHERE status IN ('creating', 'open');

-- Refunds at the gateway: a merchant's, or the automatic return of a second payment.
-- `submitted_at` is written before the request leaves: from then on the outcome is learned from
-- the gateway (webhook or query), and the request is never sent again.
CREATE TABLE refunds (
  refund_no        text PRIMARY KEY,
  order_no         text NOT NULL REFERENCES orders (order_no),
  bill_no          text NOT NULL REFERENCES bills (bill_no),
  channel          text NOT NULL,
  amount           bigint NOT NULL CHECK (amount > 0),
  reason           text,
  kind             text NOT NULL CHECK (kind IN ('merchant', 'duplicate')),
  idempotency_key  text,
  request_hash     text,
  status           text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
  submitted_at     timestamptz,
  accepted_at      timestamptz,
  gateway_id       text,
  failure          text,
  detail           jsonb,
  created_at       timestamptz NOT NULL,
  finished_at      timestamptz,
  next_check_at    timestamptz NOT NULL,
  UNIQUE (order_no, idempotency_key)
);
CREATE INDEX refunds_order ON refunds (order_no, created_at);
CREATE INDEX refunds_due ON refunds (next_check_at) WHERE status = 'pending';
-- A second payment is returned once, whatever crashes or instances come between.
CREATE UNIQUE INDEX refunds_one_per_duplicate ON refunds (bill_no) WHERE kind = 'duplicate';

-- The outbox also carries final refunds (one notification per refund).
ALTER TABLE merchant_notifications ADD COLUMN refund_no text REFERENCES refunds (refund_no) ON UPDATE CASCADE;
ALTER TABLE merchant_notifications DROP CONSTRAINT merchant_notifications_order_no_status_key;
CREATE UNIQUE INDEX merchant_notifications_order_state ON merchant_notifications (order_no, status) WHERE refund_no IS NULL;
CREATE UNIQUE INDEX merchant_notifications_refund ON merchant_notifications (refund_no) WHERE refund_no IS NOT NULL;

-- Verified gateway messages that match nothing we can apply (an unknown refund, a refund with
-- another fee): kept for a person, acknowledged so the gateway stops retrying.
CREATE TABLE unmatched_gateway_messages (
  id                integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  transaction_type  text NOT NULL,
  transaction_id    text NOT NULL,
  amount            bigint NOT NULL,
  reason            text NOT NULL,
  received_at       timestamptz NOT NULL,
  body              jsonb,
  UNIQUE (transaction_type, transaction_id, amount)
);

-- A refund changes what the shopper's status shows: instances forget it like a status change.
DROP TRIGGER orders_changed ON orders;
CREATE TRIGGER orders_changed
  AFTER UPDATE OF status, owner, refunded_amount ON orders
  FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.owner IS DISTINCT FROM NEW.owner
        OR OLD.refunded_amount IS DISTINCT FROM NEW.refunded_amount)
  EXECUTE FUNCTION notify_order_changed();
