-- Every money column is int8: an order's and a bill's amount join payments and refunds, so any
-- fee the gateway can sign fits wherever an amount is compared or kept.
ALTER TABLE orders ALTER COLUMN amount TYPE bigint;
ALTER TABLE bills ALTER COLUMN amount TYPE bigint;
