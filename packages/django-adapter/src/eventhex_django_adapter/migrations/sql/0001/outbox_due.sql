-- The outbox claim (ADR 0006, ADR 0014).
--
-- fillfactor 70 leaves room on each page so that a claim's update of unindexed columns can stay
-- on the page (HOT).
--
-- eventhex_outbox_due(due_at, batch) returns the ids of up to `batch` due entries, oldest first,
-- locked FOR UPDATE SKIP LOCKED, such that each stream's entries among them are its head (its
-- oldest live entry) and the entries right after it:
--   1. held streams (an entry leased or waiting for a retry) are read from the retry index and
--      nothing of them is claimed;
--   2. candidates: the oldest `batch` due entries of other streams, from the two partial indexes
--      (fresh, retry), walked in id order;
--   3. each stream's head is locked (skipping heads another claim holds) and re-checked;
--   4. only a claim holding a stream's head takes the rest of its run, which ends at the first
--      entry that could not be locked and re-checked: no entry is handed out ahead of an
--      earlier one of its stream, and two claims never split a stream.
-- Its planner settings are fixed (no sequential or bitmap scans, no sorts of the backlog, hash
-- joins between the few rows of one batch, no JIT), so its plan does not depend on statistics.
-- It is PL/pgSQL with plan_cache_mode = force_generic_plan so that its plan is made once per
-- session: as a LANGUAGE sql function its ten-step query was planned again on every call, which
-- cost more than running it (about 0.6 ms of a 1.2 ms claim of 100 entries).

ALTER TABLE eventhex_outboxentry SET (fillfactor = 70);

CREATE FUNCTION eventhex_outbox_due(due_at timestamptz, batch integer)
RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_nestloop = off
SET enable_sort = off
SET jit = off
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
RETURN QUERY
WITH held AS MATERIALIZED (
    SELECT DISTINCT p.tenant_id, p.stream_category, p.stream_uuid FROM eventhex_outboxentry p
    WHERE NOT p.dead AND (p.next_attempt_at IS NOT NULL OR p.claimed_until IS NOT NULL) AND (p.next_attempt_at > due_at OR p.claimed_until > due_at)
), fresh AS MATERIALIZED (
    SELECT o.id, o.tenant_id, o.stream_category, o.stream_uuid FROM eventhex_outboxentry o
    WHERE NOT o.dead AND o.next_attempt_at IS NULL AND o.claimed_until IS NULL AND (o.tenant_id, o.stream_category, o.stream_uuid) NOT IN (SELECT * FROM held)
    ORDER BY o.id
    LIMIT batch
), retry AS MATERIALIZED (
    SELECT o.id, o.tenant_id, o.stream_category, o.stream_uuid FROM eventhex_outboxentry o
    WHERE NOT o.dead AND (o.next_attempt_at IS NOT NULL OR o.claimed_until IS NOT NULL)
      AND COALESCE(o.next_attempt_at, '-infinity') <= due_at
      AND COALESCE(o.claimed_until, '-infinity') <= due_at
      AND (o.tenant_id, o.stream_category, o.stream_uuid) NOT IN (SELECT * FROM held)
    ORDER BY o.id
    LIMIT batch
), candidate AS MATERIALIZED (
    SELECT c.id, min(c.id) OVER (PARTITION BY c.tenant_id, c.stream_category, c.stream_uuid) AS head_id
    FROM (SELECT * FROM fresh UNION ALL SELECT * FROM retry ORDER BY id LIMIT batch) c
), head AS MATERIALIZED (
    SELECT o.id FROM eventhex_outboxentry o
    WHERE o.id = ANY(ARRAY(SELECT id FROM candidate WHERE id = head_id))
      AND NOT o.dead AND COALESCE(o.next_attempt_at, '-infinity') <= due_at AND COALESCE(o.claimed_until, '-infinity') <= due_at
    FOR UPDATE OF o SKIP LOCKED
), rest AS MATERIALIZED (
    SELECT o.id FROM eventhex_outboxentry o
    WHERE o.id = ANY(ARRAY(
        SELECT c.id FROM candidate c JOIN head h ON h.id = c.head_id WHERE c.id <> c.head_id))
      AND NOT o.dead AND COALESCE(o.next_attempt_at, '-infinity') <= due_at AND COALESCE(o.claimed_until, '-infinity') <= due_at
    FOR UPDATE OF o SKIP LOCKED
), run AS (
    SELECT c.id, bool_and(l.id IS NOT NULL) OVER (PARTITION BY c.head_id ORDER BY c.id) AS unbroken
    FROM candidate c
    LEFT JOIN (SELECT id FROM head UNION ALL SELECT id FROM rest) l ON l.id = c.id
)
SELECT run.id FROM run WHERE unbroken ORDER BY run.id;
END
$$;
