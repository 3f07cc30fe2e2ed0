-- The distinct stored event names by a loose index scan (manage.py eventhex_event_names, the
-- eventhex.W301 check): SELECT DISTINCT name reads every event; eventhex_event_names() walks
-- eventhex_event_name_idx (name, tx_id, id) from one name to the next, one index probe per
-- distinct name whatever the number of events, with the fixed planner settings of reads.sql.

CREATE FUNCTION eventhex_event_names() RETURNS SETOF text
LANGUAGE sql STABLE
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_sort = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET jit = off
AS $$
WITH RECURSIVE names(name) AS (
    (SELECT e.name FROM eventhex_event e ORDER BY e.name LIMIT 1)
    UNION ALL
    SELECT (SELECT e.name FROM eventhex_event e WHERE e.name > names.name
            ORDER BY e.name LIMIT 1)
    FROM names WHERE names.name IS NOT NULL
)
SELECT name FROM names WHERE name IS NOT NULL
$$;
