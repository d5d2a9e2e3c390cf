-- The job queue, part 3: what an operator does from psql (docs/queue.md, "Operations";
-- the psql lines: docs/operations.md): retry, prune, and the two stats views.

-- study_card_retry(job_id) -> boolean: puts one failed job back (pending, attempts 0,
-- runnable now; error_code and error_message stay until it closes again) and NOTIFYs;
-- false for a job missing or not failed (study_card_request re-extracts a completed or
-- skipped version). Errors: none. Locks: the job row.
CREATE OR REPLACE FUNCTION study_card_retry(p_job_id bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    UPDATE study_memo_card_jobs
       SET status = 'pending', attempts = 0, run_after = now(), completed_at = NULL
     WHERE id = p_job_id AND status = 'failed';
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM study_card_notify(1);
    RETURN true;
END
$$;
REVOKE EXECUTE ON FUNCTION study_card_retry(bigint) FROM PUBLIC;

-- study_card_retry_failed(error_code = NULL) -> int: study_card_retry for every failed
-- job, or those with that error_code; returns how many, NOTIFY with that count.
-- Errors: 22023 for a code not in study_card_error_codes. Locks: those job rows.
CREATE OR REPLACE FUNCTION study_card_retry_failed(p_error_code text DEFAULT NULL) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_retried int;
BEGIN
    -- a misspelt code must not read as "none failed with it"
    IF p_error_code IS NOT NULL AND NOT EXISTS (SELECT FROM study_card_error_codes WHERE code = p_error_code) THEN
        RAISE EXCEPTION 'unknown error code %', quote_literal(p_error_code)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = (SELECT 'one of: ' || string_agg(code, ', ' ORDER BY code) FROM study_card_error_codes);
    END IF;
    UPDATE study_memo_card_jobs
       SET status = 'pending', attempts = 0, run_after = now(), completed_at = NULL
     WHERE status = 'failed' AND (p_error_code IS NULL OR error_code = p_error_code);
    GET DIAGNOSTICS v_retried = ROW_COUNT;
    PERFORM study_card_notify(v_retried);
    RETURN v_retried;
END
$$;
REVOKE EXECUTE ON FUNCTION study_card_retry_failed(text) FROM PUBLIC;

-- study_card_prune(older_than interval) -> int, how many jobs it deleted: the finished
-- jobs (terminal statuses) that finished more than older_than ago, except the job of
-- each source's current version. Cards keep their rows (job_id, superseded_by_job: ON
-- DELETE SET NULL). Errors: 22023 when older_than is NULL or negative.
CREATE OR REPLACE FUNCTION study_card_prune(p_older_than interval) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_pruned int;
BEGIN
    IF p_older_than IS NULL OR p_older_than < interval '0' THEN
        RAISE EXCEPTION 'p_older_than must be a non-negative interval, got %', p_older_than
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    DELETE FROM study_memo_card_jobs j
     WHERE j.status IN (SELECT status FROM study_card_job_statuses WHERE terminal)
       AND coalesce(j.completed_at, j.created_at) < now() - p_older_than
       -- the current version's job is the idempotency record: without it the sweep would
       -- extract that version again; older versions' and deleted sources' jobs go
       AND NOT EXISTS (SELECT FROM study_card_source(j.source_kind, j.source_id) AS s
                        WHERE s.version = j.source_version);
    GET DIAGNOSTICS v_pruned = ROW_COUNT;
    RETURN v_pruned;
END
$$;
REVOKE EXECUTE ON FUNCTION study_card_prune(interval) FROM PUBLIC;

-- study_card_job_stats: one row per (status, error_code) present, in lifecycle order:
-- terminal, retryable (NULL without a code), jobs, runnable, expired_leases, oldest_age,
-- finished_last_day, median_duration, p95_duration, taken_over, takeovers; the columns
-- are described in docs/operations.md, "Monitoring". CREATE OR REPLACE keeps the grants
-- an operator gave (migration 0013 dropped the earlier layout).
CREATE OR REPLACE VIEW study_card_job_stats AS
SELECT j.status,
       s.terminal,
       j.error_code,
       e.retryable,
       count(*) AS jobs,
       count(*) FILTER (WHERE j.status = 'pending' AND j.run_after <= now()) AS runnable,
       count(*) FILTER (WHERE j.status = 'processing'
                          AND study_card_lease_end(j.lease_expires_at, j.lease_renewed_at) < now()) AS expired_leases,
       now() - min(j.created_at) FILTER (WHERE NOT s.terminal) AS oldest_age,
       count(*) FILTER (WHERE j.completed_at > now() - interval '1 day') AS finished_last_day,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY j.completed_at - j.started_at)
           FILTER (WHERE j.completed_at > now() - interval '1 day') AS median_duration,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY j.completed_at - j.started_at)
           FILTER (WHERE j.completed_at > now() - interval '1 day') AS p95_duration,
       -- a lease lost at least once, whatever came after: a completed job keeps this
       -- record while its error_code no longer says lease_expired
       count(*) FILTER (WHERE j.takeovers > 0) AS taken_over,
       sum(j.takeovers) AS takeovers
  FROM study_memo_card_jobs j
  -- Outer joins: the CHECK constraints keep both in the vocabulary, and a job never
  -- disappears from the counts if they did not.
  LEFT JOIN study_card_job_statuses s ON s.status = j.status
  LEFT JOIN study_card_error_codes e ON e.code = j.error_code
 GROUP BY j.status, s.lifecycle_order, s.terminal, j.error_code, e.retryable
 ORDER BY s.lifecycle_order, j.error_code NULLS FIRST;

-- study_card_drop_stats: (reason, guard_order, dropped_cards, jobs), one row per drop
-- reason in guard order, 0 when none, over the last report of every job the table holds
-- (payload->'report'->'dropped'; study_card_prune deletes old jobs): the cards dropped
-- with it and the jobs that dropped one. A reason not in study_card_drop_reasons comes
-- last, guard_order NULL.
CREATE OR REPLACE VIEW study_card_drop_stats AS
SELECT coalesce(r.reason, d.reason) AS reason,
       r.guard_order,
       coalesce(d.dropped_cards, 0) AS dropped_cards,
       coalesce(d.jobs, 0) AS jobs
  FROM study_card_drop_reasons r
  FULL JOIN (SELECT x.item ->> 'reason' AS reason, count(*) AS dropped_cards, count(DISTINCT j.id) AS jobs
               FROM study_memo_card_jobs j
              CROSS JOIN LATERAL jsonb_array_elements(
                  CASE WHEN jsonb_typeof(j.payload -> 'report' -> 'dropped') = 'array'
                       THEN j.payload -> 'report' -> 'dropped' END) AS x(item)
              GROUP BY 1) AS d ON d.reason = r.reason
 ORDER BY r.guard_order NULLS LAST, 1;
