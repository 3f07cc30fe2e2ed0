-- Reads through functions whose plan does not depend on statistics (ADR 0015).
--
-- Every function fixes its planner settings (no sequential or bitmap scans, no sorts, hash or
-- merge joins, no JIT); what is left to the planner is an index walk in the order the read needs,
-- stopped by its limit, and a primary-key lookup per row. PL/pgSQL keeps each plan per session.
--
-- * eventhex_read_all / eventhex_read_category / eventhex_read_names(after_tx, after_id, batch):
--   a subscription page, the next `batch` readable events after the position, in commit order,
--   with their stream's uuid and name. Readable: committed below the oldest running transaction
--   (the snapshot's xmin, shifted), or written by the reader's own transaction.
-- * eventhex_newest_position(): the (tx_id, id) of the newest readable event.
-- * eventhex_load_stream(tenant, category, stream, start, stop): the stream's head row (name,
--   version, the newest snapshot in [start, stop)), then its events after it, in order.

CREATE FUNCTION eventhex_read_all(after_tx bigint, after_id bigint, batch integer)
RETURNS TABLE (
    id bigint, tx_id bigint, uuid uuid, name varchar, data jsonb, context jsonb,
    created_at timestamptz, version integer, category varchar, tenant_id varchar,
    stream_uuid uuid, stream_name varchar)
LANGUAGE plpgsql VOLATILE
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_sort = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET jit = off
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH horizon AS MATERIALIZED (
        SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint + clock.shift AS xmin,
               pg_current_xact_id_if_assigned()::text::bigint + clock.shift AS own
        FROM (SELECT eventhex_position_shift() AS shift) clock
    )
    SELECT e.id, e.tx_id, e.uuid, e.name, e.data, e.context, e.created_at, e.version,
           e.category, e.tenant_id, s.uuid, s.name
    FROM (SELECT e.* FROM eventhex_event e
        WHERE (e.tx_id, e.id) > (after_tx, after_id)
          AND e.tx_id < (SELECT GREATEST(h.xmin, h.own + 1) FROM horizon h)
              AND (e.tx_id < (SELECT h.xmin FROM horizon h)
                   OR e.tx_id = (SELECT h.own FROM horizon h))
        ORDER BY e.tx_id, e.id
        LIMIT batch) e
    JOIN eventhex_stream s ON s.id = e.stream_id
    ORDER BY e.tx_id, e.id;
END
$$;

CREATE FUNCTION eventhex_read_category(only_category text, after_tx bigint, after_id bigint, batch integer)
RETURNS TABLE (
    id bigint, tx_id bigint, uuid uuid, name varchar, data jsonb, context jsonb,
    created_at timestamptz, version integer, category varchar, tenant_id varchar,
    stream_uuid uuid, stream_name varchar)
LANGUAGE plpgsql VOLATILE
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_sort = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET jit = off
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH horizon AS MATERIALIZED (
        SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint + clock.shift AS xmin,
               pg_current_xact_id_if_assigned()::text::bigint + clock.shift AS own
        FROM (SELECT eventhex_position_shift() AS shift) clock
    )
    SELECT e.id, e.tx_id, e.uuid, e.name, e.data, e.context, e.created_at, e.version,
           e.category, e.tenant_id, s.uuid, s.name
    FROM (SELECT e.* FROM eventhex_event e
        WHERE e.category = only_category AND (e.tx_id, e.id) > (after_tx, after_id)
          AND e.tx_id < (SELECT GREATEST(h.xmin, h.own + 1) FROM horizon h)
              AND (e.tx_id < (SELECT h.xmin FROM horizon h)
                   OR e.tx_id = (SELECT h.own FROM horizon h))
        ORDER BY e.tx_id, e.id
        LIMIT batch) e
    JOIN eventhex_stream s ON s.id = e.stream_id
    ORDER BY e.tx_id, e.id;
END
$$;

CREATE FUNCTION eventhex_read_names(names text[], after_tx bigint, after_id bigint, batch integer)
RETURNS TABLE (
    id bigint, tx_id bigint, uuid uuid, name varchar, data jsonb, context jsonb,
    created_at timestamptz, version integer, category varchar, tenant_id varchar,
    stream_uuid uuid, stream_name varchar)
LANGUAGE plpgsql VOLATILE
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_sort = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET jit = off
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH horizon AS MATERIALIZED (
        SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint + clock.shift AS xmin,
               pg_current_xact_id_if_assigned()::text::bigint + clock.shift AS own
        FROM (SELECT eventhex_position_shift() AS shift) clock
    )
    SELECT e.id, e.tx_id, e.uuid, e.name, e.data, e.context, e.created_at, e.version,
           e.category, e.tenant_id, s.uuid, s.name
    FROM (SELECT e.* FROM unnest(names) AS wanted(name)
        CROSS JOIN LATERAL (SELECT e.* FROM eventhex_event e
        WHERE e.name = wanted.name AND (e.tx_id, e.id) > (after_tx, after_id)
          AND e.tx_id < (SELECT GREATEST(h.xmin, h.own + 1) FROM horizon h)
              AND (e.tx_id < (SELECT h.xmin FROM horizon h)
                   OR e.tx_id = (SELECT h.own FROM horizon h))
        ORDER BY e.tx_id, e.id
        LIMIT batch) e
        ORDER BY e.tx_id, e.id
        LIMIT batch) e
    JOIN eventhex_stream s ON s.id = e.stream_id
    ORDER BY e.tx_id, e.id;
END
$$;

CREATE FUNCTION eventhex_newest_position()
RETURNS TABLE (tx_id bigint, id bigint)
LANGUAGE plpgsql VOLATILE
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_sort = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET jit = off
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH horizon AS MATERIALIZED (
        SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint + clock.shift AS xmin,
               pg_current_xact_id_if_assigned()::text::bigint + clock.shift AS own
        FROM (SELECT eventhex_position_shift() AS shift) clock
    )
    SELECT e.tx_id, e.id FROM eventhex_event e
    WHERE e.tx_id < (SELECT GREATEST(h.xmin, h.own + 1) FROM horizon h)
              AND (e.tx_id < (SELECT h.xmin FROM horizon h)
                   OR e.tx_id = (SELECT h.own FROM horizon h))
    ORDER BY e.tx_id DESC, e.id DESC
    LIMIT 1;
END
$$;

CREATE FUNCTION eventhex_load_stream(
    in_tenant text, in_category text, in_stream uuid, in_start integer, in_stop integer)
RETURNS TABLE (
    kind integer, id bigint, stream_name varchar, stream_version bigint, uuid uuid,
    name varchar, data jsonb, context jsonb, created_at timestamptz, version integer)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_sort = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    stream_row record;
    snap record;
BEGIN
    SELECT st.id, st.name, st.version INTO stream_row FROM eventhex_stream st
    WHERE st.tenant_id = in_tenant AND st.category = in_category AND st.uuid = in_stream;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT p.uuid, p.name, p.data, p.context, p.created_at, p.version INTO snap
    FROM eventhex_snapshot p
    WHERE p.stream_id = stream_row.id
      AND (in_start IS NULL OR p.version >= in_start)
      AND (in_stop IS NULL OR p.version < in_stop)
    ORDER BY p.version DESC
    LIMIT 1;
    RETURN QUERY SELECT 0, 0::bigint, stream_row.name::varchar, stream_row.version::bigint,
        snap.uuid::uuid, snap.name::varchar, snap.data::jsonb, snap.context::jsonb,
        snap.created_at::timestamptz, snap.version::integer;
    IF snap.uuid IS NOT NULL THEN
        RETURN QUERY
        SELECT 1, e.id, NULL::varchar, NULL::bigint, e.uuid, e.name, e.data, e.context,
               e.created_at, e.version
        FROM eventhex_event e
        WHERE e.stream_id = stream_row.id AND e.version > snap.version AND (in_stop IS NULL OR e.version < in_stop)
        ORDER BY e.version;
    ELSIF stream_row.version IS NOT NULL THEN  -- one event per version: the index's order
        RETURN QUERY
        SELECT 1, e.id, NULL::varchar, NULL::bigint, e.uuid, e.name, e.data, e.context,
               e.created_at, e.version
        FROM eventhex_event e
        WHERE e.stream_id = stream_row.id AND ((in_start IS NULL AND in_stop IS NULL) OR e.version IS NULL
               OR ((in_start IS NULL OR e.version >= in_start)
                   AND (in_stop IS NULL OR e.version < in_stop)))
        ORDER BY e.version;
    ELSE  -- an unversioned stream's events have no version: the caller picks its range
        RETURN QUERY
        SELECT 1, e.id, NULL::varchar, NULL::bigint, e.uuid, e.name, e.data, e.context,
               e.created_at, e.version
        FROM eventhex_event e
        WHERE e.stream_id = stream_row.id AND ((in_start IS NULL AND in_stop IS NULL) OR e.version IS NULL
               OR ((in_start IS NULL OR e.version >= in_start)
                   AND (in_stop IS NULL OR e.version < in_stop)))
        ORDER BY e.version, e.id;
    END IF;
END
$$;
