-- Every bill records the payment provider it was opened at, and everything about it (queries,
-- closing, refunds) goes there, whatever the configuration opens new bills at later: switching
-- providers never strands an open order. Bills, refunds and kept messages from before this were
-- all the aggregate gateway's. The default stays: an instance still running the previous version
-- during a rolling upgrade inserts without the column, and it only ever talks to the gateway.
ALTER TABLE bills ADD COLUMN provider text NOT NULL DEFAULT 'gateway';

-- A refund goes back through the provider of the bill it returns money from.
ALTER TABLE refunds ADD COLUMN provider text NOT NULL DEFAULT 'gateway';

-- A message nothing here can apply is kept once per provider: two providers may name one number.
-- (The name PostgreSQL gave the constraint of 004, cut to 63 bytes.)
ALTER TABLE unmatched_gateway_messages ADD COLUMN provider text NOT NULL DEFAULT 'gateway';
ALTER TABLE unmatched_gateway_messages
  DROP CONSTRAINT unmatched_gateway_messages_transaction_type_transaction_id__key;
ALTER TABLE unmatched_gateway_messages
  ADD CONSTRAINT unmatched_gateway_messages_once UNIQUE (provider, transaction_type, transaction_id, amount);
