-- The job queue, part 2: what workers do with jobs.
--   pending --claim--> processing --commit_cards--> completed
--                       |  heartbeat extends the lease
--                       |  release: back to pending, the attempt not counted
--                       |  fail: back to pending after a backoff, or failed, or skipped
--                       |  lease expired: taken over by the next claim (or reaped)
-- "Holds the job" means status = 'processing' AND locked_by = the worker AND
-- locked_by_role = the caller's login role (session_user), as recorded by the claim; an
-- expired lease that nobody took over still counts (study_card_held_job,
-- sql/10_sources.sql). The worker's name is its label in logs; the role is what a
-- member of study_card_worker cannot pretend to be.
-- Leaving processing always clears locked_by and lease_expires_at (a CHECK requires it).
-- Leases are capped at study_card_max_lease(), and a lease is over at
-- study_card_lease_end(): whatever lease_expires_at says, at most that cap after its
-- last renewal.

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

-- study_card_next_status(p_error_code text, p_attempts int, p_max_attempts int) -> text
-- The status of a job whose attempt (the p_attempts-th) ended with p_error_code, read
-- from the vocabulary (study_card_error_codes, migration 0013): 'pending' (retried) when
-- the code is retryable and p_attempts < p_max_attempts, else the code's closes_with.
-- NULL for a code the vocabulary does not know. Used by fail, claim and reap.
-- Errors: none. (A string body: it adds no dependency on the table.)
CREATE OR REPLACE FUNCTION study_card_next_status(p_error_code text, p_attempts int, p_max_attempts int)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
    SELECT CASE WHEN e.retryable AND p_attempts < p_max_attempts THEN 'pending' ELSE e.closes_with END
      FROM study_card_error_codes e
     WHERE e.code = p_error_code
$$;
REVOKE EXECUTE ON FUNCTION study_card_next_status(text, int, int) FROM PUBLIC;

-- study_card_max_lease() -> interval
-- The longest lease claim and heartbeat grant, and how long after its last renewal
-- any lease is over: the setting study_card.max_lease as the database's (ALTER DATABASE
-- <db> SET study_card.max_lease = '30 minutes') or every database's (ALTER ROLE ALL SET
-- …) default, read from pg_db_role_setting; default 1 hour; an invalid or non-positive
-- value means the default. A session's own SET, its connection options (PGOPTIONS) and a
-- role's own default are ignored on purpose: a worker could set those itself, to give
-- itself a long lease, or a short cap under which every other worker's lease looks
-- expired. Changing it takes effect at once (for leases already granted too).
CREATE OR REPLACE FUNCTION study_card_max_lease() RETURNS interval
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(
        (SELECT CASE WHEN pg_input_is_valid(v.value, 'interval') THEN
                    CASE WHEN v.value::interval > interval '0' THEN v.value::interval END
                END
           FROM (SELECT substr(c.setting, strpos(c.setting, '=') + 1) AS value, s.setdatabase
                   FROM pg_db_role_setting s
                  CROSS JOIN unnest(s.setconfig) AS c(setting)
                  WHERE s.setrole = 0
                    AND s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
                    AND split_part(c.setting, '=', 1) = 'study_card.max_lease') AS v
          ORDER BY v.setdatabase DESC  -- the database's own setting before every database's
          LIMIT 1),
        interval '1 hour')
$$;
REVOKE EXECUTE ON FUNCTION study_card_max_lease() FROM PUBLIC;

-- study_card_lease_end(lease_expires_at, lease_renewed_at) -> timestamptz
-- When a processing job's lease is over: lease_expires_at, but at most
-- study_card_max_lease() after the lease was last set (claim, heartbeat). So a lease
-- stored before the cap existed, or before the cap was lowered, ends like any other.
-- Claim takes a job over, reap reaps it, and the stats view counts it expired once this
-- is in the past. Plain SQL without SET, so that it inlines into those queries (a
-- string body: a RETURN body would make it depend on study_card_max_lease, and the
-- rollback of migration 0002 drops the project's functions one by one).
CREATE OR REPLACE FUNCTION study_card_lease_end(p_lease_expires_at timestamptz, p_lease_renewed_at timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT least(p_lease_expires_at, p_lease_renewed_at + study_card_max_lease()) $$;
REVOKE EXECUTE ON FUNCTION study_card_lease_end(timestamptz, timestamptz) FROM PUBLIC;

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
-- locked_by = p_worker, locked_by_role = session_user (the caller's login role: every
-- later call for the job must come from it), lease_renewed_at = now(),
-- lease_expires_at = now() + least(p_lease, study_card_max_lease()): a longer lease is
-- capped, not refused (the returned rows show the lease granted). FOR UPDATE SKIP
-- LOCKED, so concurrent claimers never get the same job.
-- Order: first jobs whose lease is over (study_card_lease_end < now(): a vanished
-- worker's; taken over, takeovers + 1, the lost attempt recorded as error_code
-- lease_expired), then pending jobs with run_after <= now(), highest priority first,
-- then the oldest (lowest id). Jobs whose lease is over with no attempt left are closed
-- on the way (lease_expired, takeovers + 1; status from study_card_next_status: failed).
-- A job whose source is gone, not ready or at another version is closed here
-- (error_code source_deleted / no_ready_explanation / stale_version, from
-- study_card_source_problem; status: the code's closes_with, skipped) and not returned
-- (a requested document that changed is carried to its current version:
-- study_card_carry_request); claim goes on until it has p_limit jobs or the queue has
-- no more runnable ones.
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
    v_lease interval;
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
    v_lease := least(p_lease, study_card_max_lease());

    -- A lost lease is an attempt ended with lease_expired: a job the vocabulary does not
    -- send back to pending is closed here, the others are taken over below.
    UPDATE study_memo_card_jobs
       SET status = study_card_next_status('lease_expired', attempts, max_attempts),
           error_code = 'lease_expired', completed_at = now(),
           error_message = format('lease of %s (%s) expired at %s; no attempt left', locked_by, locked_by_role,
                                  study_card_lease_end(lease_expires_at, lease_renewed_at)),
           locked_by = NULL, lease_expires_at = NULL, takeovers = takeovers + 1
     WHERE id IN (SELECT id FROM study_memo_card_jobs
                   WHERE status = 'processing' AND study_card_lease_end(lease_expires_at, lease_renewed_at) < now()
                     AND study_card_next_status('lease_expired', attempts, max_attempts) <> 'pending'
                     FOR UPDATE SKIP LOCKED);

    LOOP
        v_ids := ARRAY(SELECT id FROM study_memo_card_jobs
                        WHERE status = 'processing' AND study_card_lease_end(lease_expires_at, lease_renewed_at) < now()
                          AND study_card_next_status('lease_expired', attempts, max_attempts) = 'pending'
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
           SET status = e.closes_with, error_code = c.problem, completed_at = now(),
               error_message = format('closed at claim by %s', p_worker),
               locked_by = NULL, lease_expires_at = NULL
          FROM (SELECT id, study_card_source_problem(source_kind, source_id, source_version) AS problem
                  FROM study_memo_card_jobs
                 WHERE id = ANY (v_ids)) AS c
          JOIN study_card_error_codes e ON e.code = c.problem
         WHERE j.id = c.id;
        PERFORM study_card_carry_request(id) FROM unnest(v_ids) AS id;

        RETURN QUERY
        UPDATE study_memo_card_jobs j
           SET status = 'processing', attempts = j.attempts + 1, started_at = now(),
               locked_by = p_worker, locked_by_role = session_user,
               lease_expires_at = now() + v_lease, lease_renewed_at = now(),
               takeovers = j.takeovers + CASE WHEN j.status = 'processing' THEN 1 ELSE 0 END,
               error_code = CASE WHEN j.status = 'processing' THEN 'lease_expired' ELSE j.error_code END,
               error_message = CASE WHEN j.status = 'processing'
                                    THEN format('lease of %s (%s) expired at %s; taken over by %s (%s)',
                                                j.locked_by, j.locked_by_role,
                                                study_card_lease_end(j.lease_expires_at, j.lease_renewed_at),
                                                p_worker, session_user)
                                    ELSE j.error_message END
         WHERE j.id = ANY (v_ids)  -- and not closed just above:
           AND j.status IN (SELECT status FROM study_card_job_statuses WHERE NOT terminal)
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
--   -> boolean, three-valued:
--   true   the caller holds the job (study_card_held_job's test: processing, locked_by =
--          p_worker, locked_by_role = session_user): the lease now runs to now() +
--          least(p_lease, study_card_max_lease()) (capped, not refused). When another
--          transaction has the job row locked (commit_cards closing the job, which can
--          take a while), the lease is left as it is and the answer comes from a plain
--          read: the heartbeat never waits for a row lock.
--   false  another worker holds the job now (its lease was taken over): the caller's
--          work on it is lost, and every other call for it is refused (55000).
--   NULL   nobody holds the job: it is closed (completed, failed, skipped: e.g. by the
--          caller's own commit_cards a moment ago), back in the queue, or missing.
-- Locks: the job row FOR NO KEY UPDATE SKIP LOCKED. Errors: 22023 when p_lease is not
-- positive.
CREATE OR REPLACE FUNCTION study_card_heartbeat(p_job_id bigint, p_worker text,
                                                p_lease interval DEFAULT '10 minutes')
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_job study_memo_card_jobs;
    v_locked boolean;
BEGIN
    IF p_lease IS NULL OR p_lease <= interval '0' THEN
        RAISE EXCEPTION 'p_lease must be positive, got %', p_lease USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO v_job FROM study_memo_card_jobs WHERE id = p_job_id FOR NO KEY UPDATE SKIP LOCKED;
    v_locked := FOUND;
    IF NOT v_locked THEN  -- missing, or its row is locked by another transaction
        SELECT * INTO v_job FROM study_memo_card_jobs WHERE id = p_job_id;
    END IF;
    IF v_job.status IS DISTINCT FROM 'processing' THEN
        RETURN NULL;
    ELSIF v_job.locked_by IS DISTINCT FROM p_worker OR v_job.locked_by_role IS DISTINCT FROM session_user THEN
        RETURN false;
    END IF;
    IF v_locked THEN
        UPDATE study_memo_card_jobs
           SET lease_expires_at = now() + least(p_lease, study_card_max_lease()), lease_renewed_at = now()
         WHERE id = p_job_id;
    END IF;
    RETURN true;
END
$$;
REVOKE EXECUTE ON FUNCTION study_card_heartbeat(bigint, text, interval) FROM PUBLIC;

-- study_card_release(p_job_id bigint, p_worker text, p_delay interval DEFAULT '0') -> void
-- Gives a held job back without spending an attempt (the LLM machine is asleep, the
-- worker is shutting down): pending, attempts - 1, run_after = now() + p_delay, lease
-- cleared; error_code and error_message stay as they were. NOTIFY when p_delay is zero.
-- Errors: 55000 when the caller does not hold the job (study_card_held_job); 22023 when
-- p_delay is negative. Locks: the job row (FOR UPDATE).
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
-- Records a failed attempt of a held job (study_card_held_job) with a code the vocabulary
-- lets a worker record (study_card_error_codes.recorded_by = 'worker': parse_fail,
-- llm_timeout, unknown; all retryable). The new status is study_card_next_status: back
-- to 'pending' with run_after = now() + study_card_retry_delay(attempts) while attempts
-- < max_attempts, else the code's closes_with ('failed'). error_code and error_message
-- (the first 2000 characters of p_message) are stored; the lease is cleared;
-- completed_at is set when the job is closed.
-- The other codes are the database's alone (claim, reap and commit_cards record them);
-- a worker that could record one that ends a job for good would close a current
-- version for good (the sweep never extracts it again).
-- Errors: 22023 for a code the worker may not record or the vocabulary does not know
-- (checked first; the message lists the worker's codes); 55000 when the caller does not
-- hold the job. Locks: the job row (FOR UPDATE).
CREATE OR REPLACE FUNCTION study_card_fail(p_job_id bigint, p_worker text, p_error_code text,
                                           p_message text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_code study_card_error_codes;
    v_job study_memo_card_jobs;
    v_status text;
    v_worker_codes text := (SELECT string_agg(code, ', ' ORDER BY code)
                              FROM study_card_error_codes WHERE recorded_by = 'worker');
BEGIN
    SELECT * INTO v_code FROM study_card_error_codes WHERE code = p_error_code;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown error code %', coalesce(quote_literal(p_error_code), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('a worker records one of: %s', v_worker_codes);
    ELSIF v_code.recorded_by <> 'worker' THEN
        RAISE EXCEPTION 'error code % is recorded by the database only, not through study_card_fail', p_error_code
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = v_code.meaning,
                  HINT = format('a worker records one of: %s', v_worker_codes);
    END IF;
    v_job := study_card_held_job(p_job_id, p_worker);
    v_status := study_card_next_status(p_error_code, v_job.attempts, v_job.max_attempts);
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
-- lease is over (study_card_lease_end < now(), so a lease stored longer than
-- study_card_max_lease() is over that long after its last renewal) goes back to
-- pending, runnable now, or is closed when it has no attempt left
-- (study_card_next_status: failed); error_code lease_expired either way, the lost
-- attempt counted, takeovers + 1. Jobs locked by a concurrent transaction are left for
-- the next call (FOR UPDATE SKIP LOCKED). NOTIFY for the jobs made pending. Errors: none.
CREATE OR REPLACE FUNCTION study_card_reap() RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_reaped int;
    v_requeued int;
BEGIN
    WITH reaped AS (
        UPDATE study_memo_card_jobs j
           SET status = n.status,
               completed_at = CASE WHEN n.status = 'pending' THEN NULL ELSE now() END,
               run_after = now(), error_code = 'lease_expired',
               error_message = format('lease of %s (%s) expired at %s; reaped', j.locked_by, j.locked_by_role,
                                      study_card_lease_end(j.lease_expires_at, j.lease_renewed_at)),
               locked_by = NULL, lease_expires_at = NULL, takeovers = j.takeovers + 1
          FROM (SELECT id, study_card_next_status('lease_expired', attempts, max_attempts) AS status
                  FROM study_memo_card_jobs
                 WHERE status = 'processing' AND study_card_lease_end(lease_expires_at, lease_renewed_at) < now()
                   FOR UPDATE SKIP LOCKED) AS n
         WHERE j.id = n.id
        RETURNING j.status
    )
    SELECT count(*), count(*) FILTER (WHERE status = 'pending') INTO v_reaped, v_requeued FROM reaped;
    PERFORM study_card_notify(v_requeued);
    RETURN v_reaped;
END
$$;
REVOKE EXECUTE ON FUNCTION study_card_reap() FROM PUBLIC;
