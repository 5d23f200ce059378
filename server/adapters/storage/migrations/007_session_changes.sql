-- Every instance remembers the sessions it verified until they expire, and forgets one when this
-- fires (delivered on commit, to every instance listening on the database): a session logged out,
-- deleted or cut short anywhere is refused everywhere. The payload is the token's hash; '*' means
-- every session (TRUNCATE). Pruning sessions long expired notifies too: no instance still holds
-- them, and the notices cost a map lookup each.
CREATE FUNCTION notify_session_changed() RETURNS trigger AS $$
BEGIN
  IF TG_LEVEL = 'STATEMENT' THEN
    PERFORM pg_notify('session_changed', '*');
    RETURN NULL;
  END IF;
  PERFORM pg_notify('session_changed', OLD.token_hash);
  RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER sessions_removed
  AFTER DELETE ON sessions
  FOR EACH ROW
  EXECUTE FUNCTION notify_session_changed();

-- Only what decides who the session is and until when: session_key or unionid changing matters
-- to no remembered entry.
CREATE TRIGGER sessions_changed
  AFTER UPDATE OF token_hash, platform, openid, expires_at ON sessions
  FOR EACH ROW
  WHEN (OLD.token_hash IS DISTINCT FROM NEW.token_hash
        OR OLD.platform IS DISTINCT FROM NEW.platform
        OR OLD.openid IS DISTINCT FROM NEW.openid
        OR OLD.expires_at IS DISTINCT FROM NEW.expires_at)
  EXECUTE FUNCTION notify_session_changed();

CREATE TRIGGER sessions_truncated
  AFTER TRUNCATE ON sessions
  FOR EACH STATEMENT
  EXECUTE FUNCTION notify_session_changed();
