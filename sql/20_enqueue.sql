-- The job queue, part 1: how card_extract jobs come to exist.
--   questions      the adapter's trigger, when a new explanation version appears
--   subject notes  the adapter's trigger, when the title or body changes (debounced)
--   documents      on request only (study_card_request)
--   every kind     the sweep study_card_enqueue (backfill and safety net)
-- Which host rows may hold a new version is sql/10_host.sql's business (its triggers
-- and views); which jobs that makes is this file's. Every path inserts
-- with ON CONFLICT DO NOTHING against study_memo_card_jobs_version_uniq, so one source
-- version never gets two jobs, and sends at most one NOTIFY per statement (channel
-- study_card_jobs, payload {"count": N}, N = jobs made runnable now).
-- The adapter's triggers use study_card_enqueue_source (row level, each row whose version
-- may be new) and study_card_enqueue_statement (statement level, after those rows): the
-- rows' ids are collected in the transaction and enqueued in bulk, so a bulk update is
-- one INSERT ... SELECT per ~300 rows and one NOTIFY, and an update that changes no
-- version calls nothing per row (docs/queue.md, "Enqueue triggers").

-- study_card_priority(focus) -> smallint
-- The priority of a job whose source belongs to a topic focused since `focus`
-- (study_card_topic_focus): 10 while the topic is focused, else 0. Claim takes higher
-- priority first.
-- IMMUTABLE and without SET so that it inlines into the bulk inserts.
CREATE OR REPLACE FUNCTION study_card_priority(p_focused_at timestamptz) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN p_focused_at IS NULL THEN 0 ELSE 10 END;
REVOKE EXECUTE ON FUNCTION study_card_priority(timestamptz) FROM PUBLIC;

-- study_card_note_debounce() -> interval
-- How long a subject note's job waits (run_after) after the edit that made it, so that
-- typing in a note does not call the LLM once per save. The setting
-- study_card.note_debounce (e.g. ALTER DATABASE study SET study_card.note_debounce =
-- '5 minutes'); default 3 minutes. A value that is not a non-negative interval falls back
-- to the default rather than failing the host's write.
CREATE OR REPLACE FUNCTION study_card_note_debounce() RETURNS interval
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT coalesce(
        CASE WHEN pg_input_is_valid(setting, 'interval') THEN
            CASE WHEN setting::interval >= interval '0' THEN setting::interval END
        END,
        interval '3 minutes')
      FROM coalesce(current_setting('study_card.note_debounce', true), '') AS setting
$$;
REVOKE EXECUTE ON FUNCTION study_card_note_debounce() FROM PUBLIC;

-- study_card_notify(runnable int) -> void
-- NOTIFY study_card_jobs with {"count": runnable} when runnable > 0; nothing otherwise.
-- Delivered at commit; a listener wakes that many workers.
CREATE OR REPLACE FUNCTION study_card_notify(p_runnable int) RETURNS void
LANGUAGE sql
AS $$
    SELECT pg_notify('study_card_jobs', jsonb_build_object('count', p_runnable)::text)
     WHERE p_runnable > 0
$$;
REVOKE EXECUTE ON FUNCTION study_card_notify(int) FROM PUBLIC;

-- Before issue 13 the jobs were made from parallel arrays by study_card_add_jobs;
-- study_card_add_source_jobs below reads the sources and inserts in one statement.
DROP FUNCTION IF EXISTS study_card_add_jobs(text, bigint[], bigint[], timestamptz[], timestamptz[]);

-- study_card_topic_focus(topic_id) -> timestamptz: since when the topic is the user's
-- focus, NULL when it is not (or there is no topic). Inlined into its callers.
CREATE OR REPLACE FUNCTION study_card_topic_focus(p_topic_id bigint) RETURNS timestamptz
LANGUAGE sql STABLE
AS $$
    SELECT t.focus FROM study_card_host_topics t WHERE t.id = p_topic_id
$$;
REVOKE EXECUTE ON FUNCTION study_card_topic_focus(bigint) FROM PUBLIC;

-- study_card_ready_sources() -> (source_kind, source_id, user_id, topic_id, version):
-- every question and subject note that is ready now (as study_card_source says), with
-- its current version. Documents are extracted on request only and are not listed.
-- Plain SQL without SET, so that the planner inlines it and pushes its callers' filters
-- (a kind, ids) into the host views' scans.
CREATE OR REPLACE FUNCTION study_card_ready_sources()
RETURNS TABLE (source_kind text, source_id bigint, user_id bigint, topic_id bigint, version timestamptz)
LANGUAGE sql STABLE
AS $$
    SELECT 'question'::text, q.id, q.user_id, q.topic_id, q.version
      FROM study_card_host_questions q
     WHERE q.version IS NOT NULL AND NOT study_card_is_blank(q.explanation)
    UNION ALL
    SELECT 'subject_note'::text, n.id, n.user_id, n.topic_id, n.version
      FROM study_card_host_notes n
     WHERE NOT study_card_is_blank(n.body)
$$;
REVOKE EXECUTE ON FUNCTION study_card_ready_sources() FROM PUBLIC;

-- study_card_add_source_jobs(kind, source_ids) -> (made, runnable): one pending
-- card_extract job per ready source of the ids ('question' or 'subject_note') whose
-- current version has none, in one INSERT ... SELECT; made = jobs created, runnable =
-- those runnable now. Note jobs are debounced (docs/queue.md). No NOTIFY: the caller
-- sends one. Errors: 22023 for another kind.
CREATE OR REPLACE FUNCTION study_card_add_source_jobs(p_kind text, p_source_ids bigint[],
                                                      OUT made int, OUT runnable int)
LANGUAGE plpgsql
SET search_path = public, pg_temp
-- Planned once per session: with the array a parameter, a custom plan (one element: an
-- index probe) always looks cheaper than the generic one (ten), so the plan cache would
-- plan the insert again on every call, ~270 us of a single-row update's ~330. The generic
-- plan probes the indexes by id as well.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_debounce interval;
BEGIN
    made := 0;
    runnable := 0;
    IF coalesce(cardinality(p_source_ids), 0) = 0 THEN
        RETURN;
    END IF;
    -- One statement per kind, the kind a constant: the planner drops the other branch
    -- of study_card_ready_sources, and a question's insert carries no UPDATE to set up.
    -- The focus by a join, not study_card_topic_focus per row: a SQL function with a
    -- FROM clause is not inlined, and its call cost ~8 us a row in a bulk update.
    -- The ids are read back through the views: one missing, deleted, not ready, or whose
    -- version has its job already (ON CONFLICT DO NOTHING) makes nothing.
    IF p_kind = 'question' THEN
        WITH enqueued AS (
            INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind, priority)
            SELECT s.user_id, 'question', s.source_id, s.version, 'card_extract', study_card_priority(t.focus)
              FROM study_card_ready_sources() AS s
              LEFT JOIN study_card_host_topics t ON t.id = s.topic_id
             WHERE s.source_kind = 'question' AND s.source_id = ANY (p_source_ids)
            ON CONFLICT DO NOTHING
            RETURNING run_after)
        SELECT count(*), count(*) FILTER (WHERE e.run_after <= now()) INTO made, runnable FROM enqueued e;
    ELSIF p_kind = 'subject_note' THEN
        -- a note's job waits the debounce and closes the note's older pending jobs
        -- (skipped, stale_version), so typing in a note calls the LLM once
        v_debounce := study_card_note_debounce();
        WITH enqueued AS (
            INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind, priority, run_after)
            SELECT s.user_id, 'subject_note', s.source_id, s.version, 'card_extract', study_card_priority(t.focus),
                   now() + v_debounce
              FROM study_card_ready_sources() AS s
              LEFT JOIN study_card_host_topics t ON t.id = s.topic_id
             WHERE s.source_kind = 'subject_note' AND s.source_id = ANY (p_source_ids)
            ON CONFLICT DO NOTHING
            RETURNING source_id, source_version, run_after
        ), superseded AS (
            UPDATE study_memo_card_jobs j
               SET status = 'skipped', error_code = 'stale_version', completed_at = now(),
                   error_message = format('superseded by version %s', e.source_version)
              FROM enqueued e
             WHERE j.source_kind = 'subject_note' AND j.source_id = e.source_id
               AND j.status = 'pending' AND j.source_version <> e.source_version
        )
        SELECT count(*), count(*) FILTER (WHERE e.run_after <= now()) INTO made, runnable FROM enqueued e;
    ELSE
        RAISE EXCEPTION 'unknown source kind % to enqueue, expected question or subject_note', p_kind
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION study_card_add_source_jobs(text, bigint[]) FROM PUBLIC;

-- study_card_enqueue_sources(kind, ids) -> int: the bulk entry point, for an adapter
-- whose trigger collects a statement's ids itself (a statement-level trigger with
-- transition tables; bench/trigger_cost.py measures one): study_card_add_source_jobs,
-- then one NOTIFY for the jobs runnable now. Returns how many jobs it made.
CREATE OR REPLACE FUNCTION study_card_enqueue_sources(p_kind text, p_source_ids bigint[]) RETURNS int
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
DECLARE
    v_added record;
BEGIN
    v_added := study_card_add_source_jobs(p_kind, p_source_ids);
    PERFORM study_card_notify(v_added.runnable);
    RETURN v_added.made;
END
$$;
REVOKE EXECUTE ON FUNCTION study_card_enqueue_sources(text, bigint[]) FROM PUBLIC;

-- The adapter's triggers use the next two. A row-level trigger (whose WHEN clause keeps
-- the rows whose version may be new) calls study_card_enqueue_source(kind, id) for each;
-- a statement-level trigger on the same table, after every INSERT or UPDATE statement,
-- calls study_card_enqueue_statement(). Between them the statement's ids wait in
-- transaction-local settings:
--   study_card.pending_question, study_card.pending_subject_note
--       the ids not enqueued yet, comma-separated (at most ~2,000 bytes);
--   study_card.runnable
--       how many jobs the statement made runnable so far (for its one NOTIFY).
-- They are set with set_config(..., true): a rolled-back subtransaction takes its ids
-- and count back with its jobs, and nothing outlives the transaction. A session that sets
-- them by hand can only enqueue ready sources' current versions, which the sweep would
-- enqueue too, or wake workers in vain.

-- study_card_enqueue_ids(kind, ids) -> void: the jobs for a list of pending ids (text,
-- comma-separated, as collected) via study_card_add_source_jobs; adds the runnable ones
-- to study_card.runnable. Errors: 22P02 when the list is not one of bigints.
CREATE OR REPLACE FUNCTION study_card_enqueue_ids(p_kind text, p_ids text) RETURNS void
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
DECLARE
    v_added record;
BEGIN
    v_added := study_card_add_source_jobs(p_kind, string_to_array(p_ids, ',')::bigint[]);
    IF v_added.runnable > 0 THEN
        PERFORM set_config('study_card.runnable',
                           (coalesce(nullif(current_setting('study_card.runnable', true), ''), '0')::int
                            + v_added.runnable)::text, true);
    END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION study_card_enqueue_ids(text, text) FROM PUBLIC;

-- study_card_enqueue_source(kind, id) -> void: the row-level entry point, called from an
-- AFTER trigger (the views then show the row as the statement left it): the source, a
-- 'question' or 'subject_note', may have a new version; its id joins the statement's
-- pending ids, enqueued when they reach ~300 or by study_card_enqueue_statement.
-- Errors: 22023 for another kind.
CREATE OR REPLACE FUNCTION study_card_enqueue_source(p_kind text, p_id bigint) RETURNS void
-- No SET search_path (~1 us a row): only the adapter's SECURITY DEFINER triggers call
-- it, with theirs.
LANGUAGE plpgsql
AS $$
DECLARE
    v_pending text;
BEGIN
    IF p_kind = 'question' THEN
        v_pending := current_setting('study_card.pending_question', true);
    ELSIF p_kind = 'subject_note' THEN
        v_pending := current_setting('study_card.pending_subject_note', true);
    ELSE
        RAISE EXCEPTION 'unknown source kind % for a trigger, expected question or subject_note', p_kind
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_pending IS NULL OR v_pending = '' THEN
        PERFORM set_config('study_card.pending_' || p_kind, p_id::text, true);
    -- a row costs an append to a short string (~2 us; a longer one costs more per row);
    -- a bulk update, one INSERT ... SELECT per ~300 rows instead of one INSERT per row
    -- (~25 us each: bench/README.md)
    ELSIF octet_length(v_pending) < 2000 THEN  -- octet_length: length() counts characters
        PERFORM set_config('study_card.pending_' || p_kind, v_pending || ',' || p_id, true);
    ELSE
        PERFORM set_config('study_card.pending_' || p_kind, '', true);
        PERFORM study_card_enqueue_ids(p_kind, v_pending || ',' || p_id);
    END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION study_card_enqueue_source(text, bigint) FROM PUBLIC;

-- study_card_enqueue_statement() -> int: the statement-level entry point, after the
-- statement's row triggers: enqueues the pending ids of every kind, then sends the one
-- NOTIFY for the jobs the statement made runnable (study_card.runnable, reset). Returns
-- that count. A statement that enqueued nothing reads three settings and returns 0.
CREATE OR REPLACE FUNCTION study_card_enqueue_statement() RETURNS int
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
DECLARE
    v_pending text;
    v_runnable int;
BEGIN
    v_pending := current_setting('study_card.pending_question', true);
    IF v_pending <> '' THEN
        PERFORM set_config('study_card.pending_question', '', true);
        PERFORM study_card_enqueue_ids('question', v_pending);
    END IF;
    v_pending := current_setting('study_card.pending_subject_note', true);
    IF v_pending <> '' THEN
        PERFORM set_config('study_card.pending_subject_note', '', true);
        PERFORM study_card_enqueue_ids('subject_note', v_pending);
    END IF;
    v_runnable := coalesce(nullif(current_setting('study_card.runnable', true), ''), '0')::int;
    IF v_runnable > 0 THEN
        PERFORM set_config('study_card.runnable', '0', true);
        PERFORM study_card_notify(v_runnable);
    END IF;
    RETURN v_runnable;
END
$$;
REVOKE EXECUTE ON FUNCTION study_card_enqueue_statement() FROM PUBLIC;

-- study_card_refocus(topic_id) -> int: the topic's focus changed (the adapter's trigger
-- says so): the unfinished (not terminal) jobs of its questions and notes get
-- study_card_priority of its focus now; returns how many changed. Jobs enqueued while
-- the topic is focused start high by themselves.
CREATE OR REPLACE FUNCTION study_card_refocus(p_topic_id bigint) RETURNS int
LANGUAGE sql
SET search_path = public, pg_temp
AS $$
    WITH changed AS (
        UPDATE study_memo_card_jobs j
           SET priority = study_card_priority(study_card_topic_focus(p_topic_id))
          FROM (SELECT 'question'::text AS kind, q.id FROM study_card_host_questions q WHERE q.topic_id = p_topic_id
                UNION ALL
                SELECT 'subject_note', n.id FROM study_card_host_notes n WHERE n.topic_id = p_topic_id) AS s
         WHERE j.source_kind = s.kind AND j.source_id = s.id
           AND j.status IN (SELECT v.status FROM study_card_job_statuses v WHERE NOT v.terminal)
           AND j.priority <> study_card_priority(study_card_topic_focus(p_topic_id))
        RETURNING 1)
    SELECT count(*)::int FROM changed
$$;
REVOKE EXECUTE ON FUNCTION study_card_refocus(bigint) FROM PUBLIC;

-- study_card_enqueue(limit int DEFAULT 100) -> int, the sweep: jobs for up to limit
-- ready questions and subject notes whose current version has none, oldest version
-- first (documents: on request only); returns how many it made, NOTIFY for those
-- runnable now. Run repeatedly it drains a backlog (docs/queue.md). Errors: 22023 when
-- limit is NULL or < 1.
CREATE OR REPLACE FUNCTION study_card_enqueue(p_limit int DEFAULT 100) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_made int := 0;
    v_runnable int := 0;
    v_kind text;
    v_ids bigint[];
    v_added record;
BEGIN
    IF p_limit IS NULL OR p_limit < 1 THEN
        RAISE EXCEPTION 'p_limit must be at least 1, got %', p_limit USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR v_kind, v_ids IN
        SELECT d.source_kind, array_agg(d.source_id)
          FROM (SELECT s.source_kind, s.source_id
                  FROM study_card_ready_sources() AS s
                 WHERE NOT EXISTS (SELECT FROM study_memo_card_jobs j
                                    WHERE j.source_kind = s.source_kind AND j.source_id = s.source_id
                                      AND j.source_version = s.version AND j.kind = 'card_extract')
                 ORDER BY s.version, s.source_kind, s.source_id
                 LIMIT p_limit) AS d
         GROUP BY d.source_kind
    LOOP
        v_added := study_card_add_source_jobs(v_kind, v_ids);
        v_made := v_made + v_added.made;
        v_runnable := v_runnable + v_added.runnable;
    END LOOP;
    PERFORM study_card_notify(v_runnable);
    RETURN v_made;
END
$$;
REVOKE EXECUTE ON FUNCTION study_card_enqueue(int) FROM PUBLIC;

-- study_card_request(kind, id) -> bigint: the job that extracts this source's current
-- version (question, subject_note or document) now: created, reopened or brought
-- forward, runnable now unless processing; the source's pending jobs of other versions
-- closed (skipped, stale_version); NOTIFY if it became runnable. Errors: 22023 unknown
-- kind; P0002 the source is missing or deleted; 55000 nothing to extract from.
CREATE OR REPLACE FUNCTION study_card_request(p_kind text, p_id bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_source record;
    v_job_id bigint;
    v_made_runnable boolean := true;
BEGIN
    IF p_kind IS NULL OR p_kind NOT IN ('question', 'subject_note', 'document') THEN
        RAISE EXCEPTION 'unknown source kind %, expected question, subject_note or document', p_kind
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO v_source FROM study_card_source(p_kind, p_id);
    IF NOT FOUND THEN
        RAISE EXCEPTION '% % does not exist or is deleted', p_kind, p_id USING ERRCODE = 'no_data_found';
    END IF;
    IF v_source.version IS NULL OR NOT v_source.ready THEN
        RAISE EXCEPTION '% % has nothing to extract from', p_kind, p_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'a question needs an explanation and its version; a note or document, non-blank text';
    END IF;

    -- no job for the version yet: one, runnable now (no debounce)
    INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind, priority)
    VALUES (v_source.user_id, p_kind, p_id, v_source.version, 'card_extract',
            study_card_priority(study_card_topic_focus(v_source.topic_id)))
    ON CONFLICT DO NOTHING
    RETURNING id INTO v_job_id;

    IF v_job_id IS NULL THEN  -- a finished job: re-extraction after a model or prompt change
        UPDATE study_memo_card_jobs j
           SET status = 'pending', attempts = 0, run_after = now(), completed_at = NULL,
               error_code = NULL, error_message = NULL
         WHERE j.source_kind = p_kind AND j.source_id = p_id
           AND j.source_version = v_source.version AND j.kind = 'card_extract'
           AND j.status IN (SELECT v.status FROM study_card_job_statuses v WHERE v.terminal)
        RETURNING j.id INTO v_job_id;
    END IF;
    IF v_job_id IS NULL THEN  -- a pending job waiting out a debounce or a retry backoff
        UPDATE study_memo_card_jobs j
           SET run_after = now()
         WHERE j.source_kind = p_kind AND j.source_id = p_id
           AND j.source_version = v_source.version AND j.kind = 'card_extract'
           AND j.status = 'pending' AND j.run_after > now()
        RETURNING j.id INTO v_job_id;
    END IF;
    IF v_job_id IS NULL THEN  -- already runnable, or running: left alone
        v_made_runnable := false;
        SELECT j.id INTO v_job_id
          FROM study_memo_card_jobs j
         WHERE j.source_kind = p_kind AND j.source_id = p_id
           AND j.source_version = v_source.version AND j.kind = 'card_extract';
    END IF;

    UPDATE study_memo_card_jobs j
       SET status = 'skipped', error_code = 'stale_version', completed_at = now(),
           error_message = format('superseded by version %s', v_source.version)
     WHERE j.source_kind = p_kind AND j.source_id = p_id
       AND j.status = 'pending' AND j.source_version <> v_source.version;

    PERFORM study_card_notify(CASE WHEN v_made_runnable THEN 1 ELSE 0 END);
    RETURN v_job_id;
END
$$;
REVOKE EXECUTE ON FUNCTION study_card_request(text, bigint) FROM PUBLIC;
