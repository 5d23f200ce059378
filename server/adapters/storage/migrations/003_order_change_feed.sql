-- Every instance answers status polls from memory and forgets an order when this fires
-- (delivered on commit, to every instance listening on the database).
CREATE FUNCTION notify_order_changed() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('order_changed', NEW.order_no);
  RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER orders_changed
  AFTER UPDATE OF status, owner ON orders
  FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.owner IS DISTINCT FROM NEW.owner)
  EXECUTE FUNCTION notify_order_changed();
