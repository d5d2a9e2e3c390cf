-- The job queue, part 2: what workers do with jobs.
--   pending --claim--> processing --commit_cards--> completed
--                       |  heartbeat extends the lease
--                       |  release: back to pending, the attempt not counted
--                       |  fail: back to pending after a backoff, or failed, or skipped
--                       |  lease expired: taken over by the next claim (or reaped)
-- "Holds the job" means status = 'processing' AND locked_by = the worker; an expired
-- lease that nobody took over still counts (study_card_held_job, sql/10_sources.sql).
-- Leaving processing always clears locked_by and lease_expires_at (a CHECK requires it).

-- study_card_retry_delay(attempts int) -> interval
-- The exponential backoff before a retry, after the attempt numbered `attempts` failed:
-- base * 2^(attempts - 1), at most 1 hour. base = the setting study_card.retry_delay
-- (an interval; default 1 minute; an invalid or negative value means the default).
-- With the defaults: 1 min after the first attempt, 2 min after the second, then 4, 8 ...
CREATE OR REPLACE FUNCTION study_card_retry_delay(p_attempts int) RETURNS interval
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT least(
        coalesce(CASE WHEN pg_input_is_valid(setting, 'interval') THEN
                     CASE WHEN setting::interval >= interval '0' THEN setting::interval END
                 END, interval '1 minute')
            * power(2, greatest(p_attempts, 1) - 1),
        interval '1 hour')
      FROM coalesce(current_setting('study_card.retry_delay', true), '') AS setting
$$;
REVOKE EXECUTE ON FUNCTION study_card_retry_delay(int) FROM PUBLIC;

-- study_card_carry_request(p_job_id bigint) -> bigint, the new job's id, or NULL.
-- Documents are extracted on request only: no trigger or sweep follows their versions.
-- So when a document job is closed as stale_version (the document changed after the
-- request), the request is carried to the document's current version: a pending
-- card_extract job for it, with the old job's priority (ON CONFLICT DO NOTHING against
-- study_memo_card_jobs_version_uniq, so an existing job of that version is kept).
-- Does nothing for other kinds (their triggers and the sweep enqueue new versions) or
-- other outcomes. Sends the NOTIFY for the new job. Called by study_card_claim and
-- commit_cards inside their transaction.
CREATE OR REPLACE FUNCTION study_card_carry_request(p_job_id bigint) RETURNS bigint
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
DECLARE
    v_new_id bigint;
BEGIN
    INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind, priority)
    SELECT j.user_id, j.source_kind, j.source_id, s.version, j.kind, j.priority
      FROM study_memo_card_jobs j
     CROSS JOIN LATERAL study_card_source(j.source_kind, j.source_id) AS s
     WHERE j.id = p_job_id AND j.source_kind = 'document' AND j.error_code = 'stale_version'
       AND j.status = 'skipped' AND s.version IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING id INTO v_new_id;
    PERFORM study_card_notify(CASE WHEN v_new_id IS NULL THEN 0 ELSE 1 END);
    RETURN v_new_id;
END
$$;
REVOKE EXECUTE ON FUNCTION study_card_carry_request(bigint) FROM PUBLIC;

-- study_card_claim(p_worker text, p_limit int DEFAULT 1, p_lease interval DEFAULT '10 minutes')
--   -> SETOF study_memo_card_jobs, the claimed jobs as they are now.
-- Claims up to p_limit jobs for p_worker: status processing, attempts + 1, started_at,
-- locked_by = p_worker, lease_expires_at = now() + p_lease. FOR UPDATE SKIP LOCKED, so
-- concurrent claimers never get the same job.
-- Order: first jobs whose lease expired (a vanished worker's; taken over, the lost
-- attempt recorded as error_code lease_expired), then pending jobs with run_after <= now(),
-- highest priority first, then the oldest (lowest id). Expired leases with no attempt
-- left are closed as failed (lease_expired) on the way.
-- A job whose source is gone, not ready or at another version is closed here (skipped,
-- error_code source_deleted / no_ready_explanation / stale_version, from
-- study_card_source_problem) and not returned (a requested document that changed is
-- carried to its current version: study_card_carry_request); claim goes on until it has p_limit jobs
-- or the queue has no more runnable ones.
-- Errors: 22023 when p_worker is blank, p_limit < 1 or p_lease is not positive.
CREATE OR REPLACE FUNCTION study_card_claim(p_worker text, p_limit int DEFAULT 1,
                                            p_lease interval DEFAULT '10 minutes')
RETURNS SETOF study_memo_card_jobs
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_wanted int := p_limit;
    v_ids bigint[];
    v_claimed int;
BEGIN
    IF btrim(coalesce(p_worker, '')) = '' THEN
        RAISE EXCEPTION 'p_worker must name the worker' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_limit IS NULL OR p_limit < 1 THEN
        RAISE EXCEPTION 'p_limit must be at least 1, got %', p_limit USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_lease IS NULL OR p_lease <= interval '0' THEN
        RAISE EXCEPTION 'p_lease must be positive, got %', p_lease USING ERRCODE = 'invalid_parameter_value';
    END IF;

    UPDATE study_memo_card_jobs
       SET status = 'failed', error_code = 'lease_expired', completed_at = now(),
           error_message = format('lease of %s expired at %s; no attempt left', locked_by, lease_expires_at),
           locked_by = NULL, lease_expires_at = NULL
     WHERE id IN (SELECT id FROM study_memo_card_jobs
                   WHERE status = 'processing' AND lease_expires_at < now()
                     AND attempts >= max_attempts
                     FOR UPDATE SKIP LOCKED);

    LOOP
        v_ids := ARRAY(SELECT id FROM study_memo_card_jobs
                        WHERE status = 'processing' AND lease_expires_at < now()
                          AND attempts < max_attempts
                        ORDER BY priority DESC, id
                        LIMIT v_wanted
                          FOR UPDATE SKIP LOCKED);
        IF cardinality(v_ids) < v_wanted THEN
            v_ids := v_ids || ARRAY(SELECT id FROM study_memo_card_jobs
                                     WHERE status = 'pending' AND run_after <= now()
                                     ORDER BY priority DESC, id
                                     LIMIT v_wanted - cardinality(v_ids)
                                       FOR UPDATE SKIP LOCKED);
        END IF;
        EXIT WHEN cardinality(v_ids) = 0;

        UPDATE study_memo_card_jobs j
           SET status = 'skipped', error_code = c.problem, completed_at = now(),
               error_message = format('closed at claim by %s', p_worker),
               locked_by = NULL, lease_expires_at = NULL
          FROM (SELECT id, study_card_source_problem(source_kind, source_id, source_version) AS problem
                  FROM study_memo_card_jobs
                 WHERE id = ANY (v_ids)) AS c
         WHERE j.id = c.id AND c.problem IS NOT NULL;
        PERFORM study_card_carry_request(id) FROM unnest(v_ids) AS id;

        RETURN QUERY
        UPDATE study_memo_card_jobs j
           SET status = 'processing', attempts = j.attempts + 1, started_at = now(),
               locked_by = p_worker, lease_expires_at = now() + p_lease,
               error_code = CASE WHEN j.status = 'processing' THEN 'lease_expired' ELSE j.error_code END,
               error_message = CASE WHEN j.status = 'processing'
                                    THEN format('lease of %s expired at %s; taken over by %s',
                                                j.locked_by, j.lease_expires_at, p_worker)
                                    ELSE j.error_message END
         WHERE j.id = ANY (v_ids) AND j.status IN ('pending', 'processing')
        RETURNING j.*;
        GET DIAGNOSTICS v_claimed = ROW_COUNT;

        -- Fewer candidates than wanted means the queue has nothing more to give.
        EXIT WHEN v_claimed = v_wanted OR cardinality(v_ids) < v_wanted;
        v_wanted := v_wanted - v_claimed;
    END LOOP;
END
$$;
REVOKE EXECUTE ON FUNCTION study_card_claim(text, int, interval) FROM PUBLIC;

-- study_card_heartbeat(p_job_id bigint, p_worker text, p_lease interval DEFAULT '10 minutes')
--   -> boolean
-- Extends the lease of a job p_worker holds to now() + p_lease and returns true; returns
-- false (and changes nothing) when p_worker does not hold the job (any more), e.g. after
-- another worker took over its expired lease. Errors: 22023 when p_lease is not positive.
CREATE OR REPLACE FUNCTION study_card_heartbeat(p_job_id bigint, p_worker text,
                                                p_lease interval DEFAULT '10 minutes')
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    IF p_lease IS NULL OR p_lease <= interval '0' THEN
        RAISE EXCEPTION 'p_lease must be positive, got %', p_lease USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE study_memo_card_jobs
       SET lease_expires_at = now() + p_lease
     WHERE id = p_job_id AND status = 'processing' AND locked_by = p_worker;
    RETURN FOUND;
END
$$;
REVOKE EXECUTE ON FUNCTION study_card_heartbeat(bigint, text, interval) FROM PUBLIC;

-- study_card_release(p_job_id bigint, p_worker text, p_delay interval DEFAULT '0') -> void
-- Gives a held job back without spending an attempt (the LLM machine is asleep, the
-- worker is shutting down): pending, attempts - 1, run_after = now() + p_delay, lease
-- cleared; error_code and error_message stay as they were. NOTIFY when p_delay is zero.
-- Errors: 55000 when p_worker does not hold the job; 22023 when p_delay is negative.
CREATE OR REPLACE FUNCTION study_card_release(p_job_id bigint, p_worker text,
                                              p_delay interval DEFAULT '0')
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    IF p_delay IS NULL OR p_delay < interval '0' THEN
        RAISE EXCEPTION 'p_delay must not be negative, got %', p_delay USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM study_card_held_job(p_job_id, p_worker);
    UPDATE study_memo_card_jobs
       SET status = 'pending', attempts = greatest(attempts - 1, 0), run_after = now() + p_delay,
           locked_by = NULL, lease_expires_at = NULL
     WHERE id = p_job_id;
    PERFORM study_card_notify(CASE WHEN p_delay = interval '0' THEN 1 ELSE 0 END);
END
$$;
REVOKE EXECUTE ON FUNCTION study_card_release(bigint, text, interval) FROM PUBLIC;

-- study_card_fail(p_job_id bigint, p_worker text, p_error_code text, p_message text)
--   -> text, the job's new status.
-- Records a failed attempt of a held job under the error-code table:
--   parse_fail, llm_timeout, unknown   retryable: 'pending' again with run_after = now() +
--                                      study_card_retry_delay(attempts) while attempts <
--                                      max_attempts, else 'failed'
--   no_ready_explanation, stale_version, source_deleted
--                                      'skipped' at once (not retried)
-- error_code and error_message (the first 2000 characters of p_message) are stored;
-- the lease is cleared; completed_at is set when the job is closed.
-- Errors: 55000 when p_worker does not hold the job; 22023 for any other code, including
-- all_dropped (commit_cards closes such a job as completed itself) and lease_expired
-- (recorded by claim and reap only).
CREATE OR REPLACE FUNCTION study_card_fail(p_job_id bigint, p_worker text, p_error_code text,
                                           p_message text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_job study_memo_card_jobs;
    v_status text;
BEGIN
    IF p_error_code IN ('all_dropped', 'lease_expired') THEN
        RAISE EXCEPTION 'error code % is not reported through study_card_fail', p_error_code
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'all_dropped is written by commit_cards; lease_expired by claim and reap';
    ELSIF p_error_code IS NULL OR p_error_code NOT IN ('parse_fail', 'llm_timeout', 'unknown',
            'no_ready_explanation', 'stale_version', 'source_deleted') THEN
        RAISE EXCEPTION 'unknown error code %', p_error_code
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'one of parse_fail, llm_timeout, unknown, no_ready_explanation, stale_version, source_deleted';
    END IF;
    v_job := study_card_held_job(p_job_id, p_worker);
    v_status := CASE
        WHEN p_error_code IN ('no_ready_explanation', 'stale_version', 'source_deleted') THEN 'skipped'
        WHEN v_job.attempts >= v_job.max_attempts THEN 'failed'
        ELSE 'pending'
    END;
    UPDATE study_memo_card_jobs
       SET status = v_status, error_code = p_error_code, error_message = left(p_message, 2000),
           run_after = CASE WHEN v_status = 'pending' THEN now() + study_card_retry_delay(attempts)
                            ELSE run_after END,
           completed_at = CASE WHEN v_status = 'pending' THEN NULL ELSE now() END,
           locked_by = NULL, lease_expires_at = NULL
     WHERE id = p_job_id;
    RETURN v_status;
END
$$;
REVOKE EXECUTE ON FUNCTION study_card_fail(bigint, text, text, text) FROM PUBLIC;

-- study_card_reap() -> int, how many jobs it handled.
-- For operators (claim does the same on its way, job by job): every processing job whose
-- lease has expired goes back to pending, runnable now, or to failed when it has no
-- attempt left; error_code lease_expired either way, the lost attempt counted. Jobs
-- locked by a concurrent transaction are left for the next call. NOTIFY for the jobs
-- made pending. Errors: none.
CREATE OR REPLACE FUNCTION study_card_reap() RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_reaped int;
    v_requeued int;
BEGIN
    WITH reaped AS (
        UPDATE study_memo_card_jobs
           SET status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
               completed_at = CASE WHEN attempts >= max_attempts THEN now() END,
               run_after = now(), error_code = 'lease_expired',
               error_message = format('lease of %s expired at %s; reaped', locked_by, lease_expires_at),
               locked_by = NULL, lease_expires_at = NULL
         WHERE id IN (SELECT id FROM study_memo_card_jobs
                       WHERE status = 'processing' AND lease_expires_at < now()
                         FOR UPDATE SKIP LOCKED)
        RETURNING status
    )
    SELECT count(*), count(*) FILTER (WHERE status = 'pending') INTO v_reaped, v_requeued FROM reaped;
    PERFORM study_card_notify(v_requeued);
    RETURN v_reaped;
END
$$;
REVOKE EXECUTE ON FUNCTION study_card_reap() FROM PUBLIC;
