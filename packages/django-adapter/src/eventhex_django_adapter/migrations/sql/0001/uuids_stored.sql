-- The append's duplicate-uuid check: each uuid looked up in the unique index on
-- eventhex_event.uuid whatever the statistics say (a join planned from stale statistics scanned
-- the whole table on every append).

CREATE FUNCTION eventhex_uuids_stored(candidates uuid[])
RETURNS boolean
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET jit = off
AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM eventhex_event e WHERE e.uuid = ANY (candidates));
END
$$;
