-- Wake-ups: statement-level AFTER INSERT triggers call pg_notify once per appending statement.
-- PostgreSQL delivers them when the transaction commits (never on rollback) and folds duplicates
-- within a transaction, so a listener gets one wake-up per appending commit.
--
-- Quiet appends (DjangoConfig(notifications=False)) silence only themselves. Each trigger has a
-- switch of its own, eventhex.quiet_events and eventhex.quiet_outbox:
--   'once': the appending statement sets it before it inserts; the trigger that fires at the end
--           of that statement skips pg_notify and clears it, so the next statement notifies;
--   'held': the trigger skips pg_notify and leaves it set until the appender clears it (the
--           slow path, which inserts through the ORM in several statements).
-- A statement that fails takes its setting with it: set_config(..., true) in a savepoint is
-- undone when the savepoint rolls back.

CREATE FUNCTION eventhex_notify_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    CASE current_setting('eventhex.quiet_events', true)
        WHEN 'once' THEN
            PERFORM set_config('eventhex.quiet_events', '', true);
        WHEN 'held' THEN
            NULL;
        ELSE
            PERFORM pg_notify('eventhex_events', '');
    END CASE;
    RETURN NULL;
END;
$$;

CREATE FUNCTION eventhex_notify_outbox() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    CASE current_setting('eventhex.quiet_outbox', true)
        WHEN 'once' THEN
            PERFORM set_config('eventhex.quiet_outbox', '', true);
        WHEN 'held' THEN
            NULL;
        ELSE
            PERFORM pg_notify('eventhex_outbox', '');
    END CASE;
    RETURN NULL;
END;
$$;

CREATE TRIGGER eventhex_event_notify
    AFTER INSERT ON eventhex_event
    FOR EACH STATEMENT EXECUTE FUNCTION eventhex_notify_events();

CREATE TRIGGER eventhex_outbox_notify
    AFTER INSERT ON eventhex_outboxentry
    FOR EACH STATEMENT EXECUTE FUNCTION eventhex_notify_outbox();
