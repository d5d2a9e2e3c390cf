-- The job queue, part 2: what workers do with jobs (claim, heartbeat, release, fail,
-- reap) and the backoff and lease rules they share. The lifecycle, holding a job and
-- leases: docs/queue.md. Leaving processing always clears locked_by and
-- lease_expires_at (a CHECK requires it).

-- study_card_retry_delay(attempts int) -> interval: the backoff after the attempt
-- numbered `attempts` failed: study_card.retry_delay * 2^(attempts - 1), at most 1 hour
-- (the setting: an interval, 1 minute when unset, invalid or negative; so 1 min, 2, 4 …).
-- Errors: none.
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

-- study_card_next_status(error_code, attempts, max_attempts) -> text: the status of a
-- job whose attempt (the attempts-th) ended with error_code, from the vocabulary
-- (study_card_error_codes): 'pending' when the code is retryable and attempts <
-- max_attempts, else the code's closes_with; NULL for an unknown code. Errors: none.
-- Used by fail, claim and reap.
CREATE OR REPLACE FUNCTION study_card_next_status(p_error_code text, p_attempts int, p_max_attempts int)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = public, pg_temp
-- a string body: it adds no dependency on the table
AS $$
    SELECT CASE WHEN e.retryable AND p_attempts < p_max_attempts THEN 'pending' ELSE e.closes_with END
      FROM study_card_error_codes e
     WHERE e.code = p_error_code
$$;
REVOKE EXECUTE ON FUNCTION study_card_next_status(text, int, int) FROM PUBLIC;

-- study_card_max_lease() -> interval: the longest lease claim and heartbeat grant, and
-- how long after its last renewal any lease is over: study_card.max_lease as set for
-- the database (ALTER DATABASE … SET) or for every database (ALTER ROLE ALL SET); 1 hour
-- when unset, invalid or not positive. A change applies at once, to leases already
-- granted too. Errors: none.
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
                  -- the database's defaults only: a session's SET, PGOPTIONS and a
                  -- role's own default are a worker's to set, for a long lease of its
                  -- own or a short cap under which every other lease looks expired
                  WHERE s.setrole = 0
                    AND s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
                    AND split_part(c.setting, '=', 1) = 'study_card.max_lease') AS v
          ORDER BY v.setdatabase DESC  -- the database's own setting before every database's
          LIMIT 1),
        interval '1 hour')
$$;
REVOKE EXECUTE ON FUNCTION study_card_max_lease() FROM PUBLIC;

-- study_card_lease_end(lease_expires_at, lease_renewed_at, max_lease) -> timestamptz:
-- when a processing job's lease is over: lease_expires_at, but at most max_lease after
-- it was last set, so a lease granted before the cap was lowered ends like any other.
-- Errors: none.
CREATE OR REPLACE FUNCTION study_card_lease_end(p_lease_expires_at timestamptz, p_lease_renewed_at timestamptz,
                                                p_max_lease interval)
RETURNS timestamptz
-- without SET, so that it inlines into its callers' queries
LANGUAGE sql STABLE PARALLEL SAFE  -- timestamptz + interval depends on the time zone
RETURN least(p_lease_expires_at, p_lease_renewed_at + p_max_lease);
REVOKE EXECUTE ON FUNCTION study_card_lease_end(timestamptz, timestamptz, interval) FROM PUBLIC;

-- study_card_lease_end(lease_expires_at, lease_renewed_at) -> timestamptz: the same under
-- study_card_max_lease(), for reap and the stats view. Claim reads the cap once and
-- calls the three-argument form: inlined here, study_card_max_lease() is called for
-- every processing row a query filters (a catalog scan each: ~60 µs a claim with four
-- workers). Errors: none.
CREATE OR REPLACE FUNCTION study_card_lease_end(p_lease_expires_at timestamptz, p_lease_renewed_at timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
-- a string body: a RETURN body would depend on study_card_max_lease, and the rollback of
-- migration 0002 drops the project's functions one by one
AS $$ SELECT study_card_lease_end(p_lease_expires_at, p_lease_renewed_at, study_card_max_lease()) $$;
REVOKE EXECUTE ON FUNCTION study_card_lease_end(timestamptz, timestamptz) FROM PUBLIC;

-- study_card_carry_request(job_id) -> bigint: after a document job was closed skipped as
-- stale_version, a pending job for the document's current version, with the old job's
-- priority; returns its id (NOTIFY sent), or NULL: another kind or outcome, or that
-- version has a job already. Errors: none. Called by claim and commit_cards, which
-- closed the job in the same transaction.
CREATE OR REPLACE FUNCTION study_card_carry_request(p_job_id bigint) RETURNS bigint
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
DECLARE
    v_new_id bigint;
BEGIN
    -- documents only: no trigger or sweep follows their versions, so the request would
    -- be lost; the other kinds' new versions are enqueued by their triggers and the sweep
    INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind, priority)
    SELECT j.user_id, j.source_kind, j.source_id, s.version, j.kind, j.priority
      FROM study_memo_card_jobs j
     CROSS JOIN LATERAL study_card_source(j.source_kind, j.source_id) AS s
     WHERE j.id = p_job_id AND j.source_kind = 'document' AND j.error_code = 'stale_version'
       AND j.status = 'skipped' AND s.version IS NOT NULL
    ON CONFLICT DO NOTHING  -- study_memo_card_jobs_version_uniq: that version's job stays
    RETURNING id INTO v_new_id;
    PERFORM study_card_notify(CASE WHEN v_new_id IS NULL THEN 0 ELSE 1 END);
    RETURN v_new_id;
END
$$;
REVOKE EXECUTE ON FUNCTION study_card_carry_request(bigint) FROM PUBLIC;

-- study_card_claim(worker, limit = 1, lease = '10 minutes') -> SETOF study_memo_card_jobs:
-- up to limit jobs, now processing for worker and the caller's login role, leased for
-- least(lease, study_card_max_lease()): expired leases first, then runnable pending jobs
-- by priority, then id; closes on the way, unreturned, jobs whose source is gone, not
-- ready or moved on, and expired leases with no attempt left. Its transaction commits
-- without waiting for the WAL flush (synchronous_commit off, transaction-local): call it
-- in a transaction of its own, as the worker does. Errors: 22023 for a blank worker,
-- limit < 1 or a lease not positive. Locks: the job rows FOR UPDATE SKIP LOCKED.
CREATE OR REPLACE FUNCTION study_card_claim(p_worker text, p_limit int DEFAULT 1,
                                            p_lease interval DEFAULT '10 minutes')
RETURNS SETOF study_memo_card_jobs
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
-- Under the default plan cache mode the candidate SELECT and the claiming UPDATE were
-- planned again on every call (a custom plan for each array and limit looks cheaper
-- than the generic one): 125 of the claim's 330 µs (bench/README.md, queue_throughput).
-- Their generic plans are the index scans the custom ones chose, once the job table
-- has statistics; a plan made while the queue was nearly empty scans it linearly until
-- the next ANALYZE (autovacuum's, after a bulk enqueue) replans: ~11 ms a claim at
-- 50,000 jobs (the default mode caches such a plan too, after 5 claims).
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_wanted int := p_limit;
    v_ids bigint[];
    v_stale bigint[];  -- of v_ids, those closed as stale_version: a requested document's may be carried
    v_claimed int;
    v_max_lease constant interval := study_card_max_lease();
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
    v_lease := least(p_lease, v_max_lease);
    -- A claim is a lease, not a result: if a crash loses its commit, its jobs are back as
    -- they were (pending, or processing under the old lease) and are claimed again; the
    -- worker that had them gets 55000 from commit_cards and drops one LLM answer. Nothing
    -- is lost or done twice in the database. Not waiting for the flush saves one of the
    -- two WAL flushes per job (bench/README.md, queue_throughput). Only when the claim is
    -- the transaction's first write, so that no earlier write of the caller's loses its
    -- durability.
    IF pg_current_xact_id_if_assigned() IS NULL THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;

    -- A lost lease is an attempt ended with lease_expired: a job the vocabulary does not
    -- send back to pending is closed here, the others are taken over below. The ids are
    -- collected once (an ARRAY, an InitPlan), not as `id IN (SELECT …)`: a generic plan
    -- made while the table was empty (a worker polling an empty queue) joins that as a
    -- nested loop that scans the whole table again for each of its rows (50,000 jobs: one
    -- claim took 133 s).
    UPDATE study_memo_card_jobs
       SET status = study_card_next_status('lease_expired', attempts, max_attempts),
           error_code = 'lease_expired', completed_at = now(),
           error_message = format('lease of %s (%s) expired at %s; no attempt left', locked_by, locked_by_role,
                                  study_card_lease_end(lease_expires_at, lease_renewed_at, v_max_lease)),
           locked_by = NULL, lease_expires_at = NULL, takeovers = takeovers + 1
     WHERE id = ANY (ARRAY(SELECT id FROM study_memo_card_jobs
                            WHERE status = 'processing'
                              AND study_card_lease_end(lease_expires_at, lease_renewed_at, v_max_lease) < now()
                              AND study_card_next_status('lease_expired', attempts, max_attempts) <> 'pending'
                              FOR UPDATE SKIP LOCKED));

    -- Until limit jobs: first the jobs whose lease is over (a vanished worker's) and that
    -- have an attempt left, then pending jobs whose run_after has come; highest priority
    -- first, then the oldest.
    LOOP
        v_ids := ARRAY(SELECT id FROM study_memo_card_jobs
                        WHERE status = 'processing' AND study_card_lease_end(lease_expires_at, lease_renewed_at, v_max_lease) < now()
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

        -- A job whose source is gone, not ready or at another version is closed with
        -- study_card_source_problem's code (closes_with: skipped) and not returned; a
        -- requested document that changed is carried to its current version.
        WITH closed AS (
            UPDATE study_memo_card_jobs j
               SET status = e.closes_with, error_code = c.problem, completed_at = now(),
                   error_message = format('closed at claim by %s', p_worker),
                   locked_by = NULL, lease_expires_at = NULL
              FROM (SELECT id, study_card_source_problem(source_kind, source_id, source_version) AS problem
                      FROM study_memo_card_jobs
                     WHERE id = ANY (v_ids)) AS c
              JOIN study_card_error_codes e ON e.code = c.problem
             WHERE j.id = c.id
            RETURNING j.id, j.error_code)
        SELECT array_agg(id) FILTER (WHERE error_code = 'stale_version') INTO v_stale FROM closed;
        IF v_stale IS NOT NULL THEN
            PERFORM study_card_carry_request(id) FROM unnest(v_stale) AS id;
        END IF;

        -- locked_by_role: every later call for the job must come from this login role; a
        -- longer lease is capped, not refused (the rows returned show the lease granted);
        -- a job taken over records the lost attempt as lease_expired
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
                                                study_card_lease_end(j.lease_expires_at, j.lease_renewed_at, v_max_lease),
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

-- study_card_heartbeat(job_id, worker, lease = '10 minutes') -> boolean: true when the
-- caller holds the job (study_card_held_job's test), its lease now running to now() +
-- least(lease, study_card_max_lease()); false when another worker holds it now; NULL
-- when nobody does (closed, back in the queue, missing). Errors: 22023 when lease is
-- not positive. Locks: the job row FOR NO KEY UPDATE SKIP LOCKED, never waiting: when
-- another transaction holds it, the answer comes from a plain read, the lease unchanged.
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
    -- never wait: the row's holder may be commit_cards closing the job, which can take a
    -- while
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

-- study_card_release(job_id, worker, delay = '0') -> void: gives a held job back without
-- spending an attempt: pending, attempts - 1, run_after = now() + delay, the lease
-- cleared, error_code and error_message kept; NOTIFY when delay is zero. Errors: 22023
-- when delay is negative; 55000 when the caller does not hold the job. Locks: the job
-- row FOR UPDATE.
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

-- study_card_fail(job_id, worker, error_code, message) -> text, the job's new status:
-- records a failed attempt of a held job (study_card_next_status: 'pending' after
-- study_card_retry_delay while attempts are left, else 'failed'), the code and the
-- first 2000 characters of message; the lease cleared. Errors: 22023 for a code a worker
-- may not record (recorded_by <> 'worker') or unknown, checked first; 55000 when the
-- caller does not hold the job. Locks: the job row FOR UPDATE.
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
    -- The other codes are the database's (claim, reap and commit_cards record them): a
    -- worker that could record one that ends a job for good would close a current
    -- version for good (the sweep never extracts it again).
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

-- study_card_reap() -> int, how many jobs it handled: for operators (claim does the same
-- on its way), every processing job whose lease is over (study_card_lease_end) back to
-- pending, runnable now, or closed failed with no attempt left; lease_expired either
-- way, takeovers + 1; NOTIFY for the jobs made pending. Errors: none. Locks: those job
-- rows FOR UPDATE SKIP LOCKED (a row locked elsewhere waits for the next call).
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
