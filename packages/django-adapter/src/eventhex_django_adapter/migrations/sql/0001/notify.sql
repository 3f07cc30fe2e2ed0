-- Wake-ups: statement-level AFTER INSERT triggers call pg_notify once per appending statement.
-- PostgreSQL delivers them when the transaction commits (never on rollback) and folds duplicates
-- within a transaction, so a listener gets one wake-up per appending commit. An append of a
-- backend configured with DjangoConfig(notifications=False) sets eventhex.notify to 'off' and the
-- triggers skip pg_notify: subscribers and relays find those events by polling.

CREATE FUNCTION eventhex_notify_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('eventhex.notify', true) IS DISTINCT FROM 'off' THEN
        PERFORM pg_notify('eventhex_events', '');
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION eventhex_notify_outbox() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('eventhex.notify', true) IS DISTINCT FROM 'off' THEN
        PERFORM pg_notify('eventhex_outbox', '');
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER eventhex_event_notify
    AFTER INSERT ON eventhex_event
    FOR EACH STATEMENT EXECUTE FUNCTION eventhex_notify_events();

CREATE TRIGGER eventhex_outbox_notify
    AFTER INSERT ON eventhex_outboxentry
    FOR EACH STATEMENT EXECUTE FUNCTION eventhex_notify_outbox();
