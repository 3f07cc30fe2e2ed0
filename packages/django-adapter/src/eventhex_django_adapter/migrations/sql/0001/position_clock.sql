-- Positions in commit order that survive a move to another cluster (ADR 0003, ADR 0010).
--
-- Every event row records its writer's transaction id plus a stored *shift* (tx_id); readers add
-- the same shift to their horizon. The shift lives in the one-row table eventhex_position_shift,
-- next to the PostgreSQL system identifier it was checked against.
--
-- * eventhex_position_shift(): the shift, cached for the session in the setting
--   eventhex.position_shift; a session's first call runs eventhex_check_positions().
-- * eventhex_check_positions(force): when the store finds itself on another cluster (the system
--   identifier changed) or behind its own events (as after pg_dump/pg_restore into a new
--   cluster), it raises the shift so that new tx_ids land 2^32 past every stored one. In a
--   read-only transaction or on a standby it refuses, naming manage.py eventhex_rebase. force
--   rebases anyway (after a physical restore to an earlier point) once no one else is connected.
-- * eventhex_position_state(): the same diagnosis, read-only (system check, commands).
-- * eventhex_tx_id(): the stamp, used as the column default; the BEFORE INSERT trigger stamps
--   rows that arrive without a tx_id (an ORM insert of an explicit NULL), and rows copied in
--   (pg_restore --data-only) keep theirs.

CREATE TABLE eventhex_position_shift (
    id smallint PRIMARY KEY CHECK (id = 1),
    shift bigint NOT NULL DEFAULT 0 CHECK (shift >= 0),
    system_identifier bigint,
    rebased_at timestamptz,
    rebases integer NOT NULL DEFAULT 0
);
INSERT INTO eventhex_position_shift (id) VALUES (1) ON CONFLICT DO NOTHING;

CREATE FUNCTION eventhex_system_identifier() RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT system_identifier FROM pg_control_system());
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;  -- some managed services hide it: the transaction id test still applies
END;
$$;

CREATE FUNCTION eventhex_position_state(
    OUT shift bigint, OUT stored_system_identifier bigint, OUT system_identifier bigint,
    OUT next_xid bigint, OUT newest_tx_id bigint, OUT moved boolean, OUT behind boolean)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT s.shift, s.system_identifier INTO shift, stored_system_identifier
    FROM eventhex_position_shift s WHERE s.id = 1;
    shift := COALESCE(shift, 0);
    system_identifier := eventhex_system_identifier();
    -- past every committed transaction, and past this one (its own events are visible to it)
    next_xid := GREATEST(pg_snapshot_xmax(pg_current_snapshot())::text::bigint,
                         pg_current_xact_id_if_assigned()::text::bigint + 1);
    newest_tx_id := (SELECT max(e.tx_id) FROM eventhex_event e);
    moved := COALESCE(stored_system_identifier <> system_identifier, FALSE);
    behind := COALESCE(next_xid + shift <= newest_tx_id, FALSE);
END;
$$;

CREATE FUNCTION eventhex_check_positions(force boolean DEFAULT false)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    state record;
    others bigint;
    floor_tx_id bigint;
    new_shift bigint;
BEGIN
    SELECT * INTO state FROM eventhex_position_state();
    IF force OR state.moved OR state.behind THEN
        IF pg_is_in_recovery() OR current_setting('transaction_read_only')::boolean THEN
            RAISE EXCEPTION 'eventhex positions must be rebased: this database moved to '
                'another PostgreSQL cluster, and a read-only transaction cannot rebase them. '
                'Run "python manage.py eventhex_rebase" against the primary.'
                USING ERRCODE = 'read_only_sql_transaction',
                      HINT = 'Any append or read through eventhex in a read-write transaction '
                             'rebases them too.';
        END IF;
        IF force THEN  -- other sessions keep the shift they cached: they must be gone
            SELECT count(*) INTO others FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
              AND backend_type = 'client backend';
            IF others > 0 THEN
                RAISE EXCEPTION USING ERRCODE = 'object_in_use',
                    MESSAGE = 'a forced rebase needs the application stopped: ' || others
                        || ' other session(s) are connected to this database',
                    HINT = 'Stop the application, relays and workers (and close other '
                           'sessions), then run "python manage.py eventhex_rebase --force".';
            END IF;
        END IF;
        INSERT INTO eventhex_position_shift (id) VALUES (1) ON CONFLICT DO NOTHING;
        -- One session rebases; the others wait here, then see its result (a new statement
        -- takes a new snapshot; under REPEATABLE READ a concurrent rebase is an error).
        PERFORM 1 FROM eventhex_position_shift WHERE id = 1 FOR UPDATE;
        SELECT * INTO state FROM eventhex_position_state();
    END IF;
    IF force OR state.moved OR state.behind THEN
        floor_tx_id := GREATEST(
            state.newest_tx_id,
            (SELECT div(max(o.position), 18446744073709551616)::bigint
             FROM eventhex_outboxentry o));
        new_shift := GREATEST(
            state.shift,
            COALESCE(floor_tx_id, 0) + 4294967296
                - pg_snapshot_xmin(pg_current_snapshot())::text::bigint);
        UPDATE eventhex_position_shift
        SET shift = new_shift, system_identifier = state.system_identifier,
            rebased_at = now(), rebases = rebases + 1
        WHERE id = 1;
        RAISE WARNING USING MESSAGE = 'eventhex: positions rebased (shift ' || state.shift
            || ' -> ' || new_shift || '): this database moved to another PostgreSQL cluster'
            || CASE WHEN force THEN ', or an operator forced it' ELSE '' END;
        state.shift := new_shift;
    ELSIF state.stored_system_identifier IS NULL AND state.system_identifier IS NOT NULL
          AND NOT (pg_is_in_recovery() OR current_setting('transaction_read_only')::boolean) THEN
        UPDATE eventhex_position_shift SET system_identifier = state.system_identifier
        WHERE id = 1 AND system_identifier IS NULL;
    END IF;
    PERFORM set_config('eventhex.position_shift', state.shift::text, false);
    RETURN state.shift;
END;
$$;

-- SQL, so that the planner inlines it: the hot path is a setting read, no function call
-- (COALESCE evaluates the check only when the session has no shift yet).
CREATE FUNCTION eventhex_position_shift() RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    SELECT COALESCE(NULLIF(current_setting('eventhex.position_shift', true), '')::bigint,
                    eventhex_check_positions())
$$;

CREATE FUNCTION eventhex_tx_id() RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    SELECT pg_current_xact_id()::text::bigint + eventhex_position_shift()
$$;

CREATE FUNCTION eventhex_stamp_tx_id() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.tx_id IS NULL THEN  -- a row copied in (pg_restore --data-only) keeps its tx_id
        NEW.tx_id := pg_current_xact_id()::text::bigint + eventhex_position_shift();
    END IF;
    RETURN NEW;
END;
$$;
ALTER TABLE eventhex_event ALTER COLUMN tx_id SET DEFAULT eventhex_tx_id();

CREATE TRIGGER eventhex_event_tx_id
    BEFORE INSERT ON eventhex_event
    FOR EACH ROW EXECUTE FUNCTION eventhex_stamp_tx_id();
