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

-- study_card_add_jobs(kind, source_ids, user_ids, versions, focus) -> (made,
-- runnable): one pending card_extract job for each source version given (parallel
-- arrays, as the adapter's triggers and the sweep collect them; NULL or empty arrays
-- make nothing), priority study_card_priority(focus); a subject_note's job waits
-- study_card_note_debounce() (run_after) and closes the note's older pending jobs
-- (skipped, stale_version), so typing in a note calls the LLM once. A version that
-- already has its job is left alone (ON CONFLICT DO NOTHING). made = jobs created,
-- runnable = those runnable now; the caller sends the NOTIFY (study_card_notify), so a
-- statement that enqueues several kinds still sends one. Errors: none of its own.
CREATE OR REPLACE FUNCTION study_card_add_jobs(p_kind text, p_source_ids bigint[], p_user_ids bigint[],
                                               p_versions timestamptz[], p_focus timestamptz[],
                                               OUT made int, OUT runnable int)
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
DECLARE
    v_debounce interval := CASE WHEN p_kind = 'subject_note' THEN study_card_note_debounce() ELSE interval '0' END;
BEGIN
    made := 0;
    runnable := 0;
    IF coalesce(cardinality(p_source_ids), 0) = 0 THEN
        RETURN;
    END IF;
    WITH enqueued AS (
        INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind, priority, run_after)
        SELECT s.user_id, p_kind, s.id, s.version, 'card_extract', study_card_priority(s.focus), now() + v_debounce
          FROM unnest(p_source_ids, p_user_ids, p_versions, p_focus) AS s(id, user_id, version, focus)
        ON CONFLICT DO NOTHING
        RETURNING source_id, source_version, run_after
    ), superseded AS (
        UPDATE study_memo_card_jobs j
           SET status = 'skipped', error_code = 'stale_version', completed_at = now(),
               error_message = format('superseded by version %s', e.source_version)
          FROM enqueued e
         WHERE p_kind = 'subject_note'
           AND j.source_kind = p_kind AND j.source_id = e.source_id
           AND j.status = 'pending' AND j.source_version <> e.source_version
    )
    SELECT count(*), count(*) FILTER (WHERE e.run_after <= now()) INTO made, runnable FROM enqueued e;
END
$$;
REVOKE EXECUTE ON FUNCTION study_card_add_jobs(text, bigint[], bigint[], timestamptz[], timestamptz[]) FROM PUBLIC;

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

-- study_card_enqueue_sources(kind, ids) -> int: what the adapter's triggers call with the
-- sources a statement may have given a new version: the ready ones get a job for their
-- current version (study_card_add_jobs), and one NOTIFY goes out for those runnable
-- now. Returns how many jobs it made.
CREATE OR REPLACE FUNCTION study_card_enqueue_sources(p_kind text, p_source_ids bigint[]) RETURNS int
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
DECLARE
    v_added record;
BEGIN
    IF coalesce(cardinality(p_source_ids), 0) = 0 THEN
        RETURN 0;
    END IF;
    SELECT a.* INTO v_added
      FROM (SELECT array_agg(s.source_id) AS ids, array_agg(s.user_id) AS owners, array_agg(s.version) AS versions,
                   array_agg(study_card_topic_focus(s.topic_id)) AS focus
              FROM study_card_ready_sources() AS s
             WHERE s.source_kind = p_kind AND s.source_id = ANY (p_source_ids)) AS r
     CROSS JOIN LATERAL study_card_add_jobs(p_kind, r.ids, r.owners, r.versions, r.focus) AS a;
    PERFORM study_card_notify(v_added.runnable);
    RETURN v_added.made;
END
$$;
REVOKE EXECUTE ON FUNCTION study_card_enqueue_sources(text, bigint[]) FROM PUBLIC;

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

-- study_card_enqueue(p_limit int DEFAULT 100) -> int, the sweep.
-- Enqueues up to p_limit ready questions and subject notes whose current version has no
-- job yet (NOT EXISTS on the version key), oldest version first, and returns how many
-- it enqueued. Run repeatedly, it drains a backlog in bounded bites (the backfill at
-- install time; the safety net for rows written with the triggers disabled). Note jobs
-- are debounced and supersede the note's older pending jobs, as in the trigger.
-- Documents are not swept: they are extracted on request only. NOTIFY for the jobs
-- runnable now. Errors: 22023 when p_limit is NULL or < 1.
CREATE OR REPLACE FUNCTION study_card_enqueue(p_limit int DEFAULT 100) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_made int := 0;
    v_runnable int := 0;
    v_kind text;
    v_ids bigint[];
    v_users bigint[];
    v_versions timestamptz[];
    v_focus timestamptz[];
    v_added record;
BEGIN
    IF p_limit IS NULL OR p_limit < 1 THEN
        RAISE EXCEPTION 'p_limit must be at least 1, got %', p_limit USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR v_kind, v_ids, v_users, v_versions, v_focus IN
        SELECT d.source_kind, array_agg(d.source_id), array_agg(d.user_id), array_agg(d.version),
               array_agg(study_card_topic_focus(d.topic_id))
          FROM (SELECT s.*
                  FROM study_card_ready_sources() AS s
                 WHERE NOT EXISTS (SELECT FROM study_memo_card_jobs j
                                    WHERE j.source_kind = s.source_kind AND j.source_id = s.source_id
                                      AND j.source_version = s.version AND j.kind = 'card_extract')
                 ORDER BY s.version, s.source_kind, s.source_id
                 LIMIT p_limit) AS d
         GROUP BY d.source_kind
    LOOP
        v_added := study_card_add_jobs(v_kind, v_ids, v_users, v_versions, v_focus);
        v_made := v_made + v_added.made;
        v_runnable := v_runnable + v_added.runnable;
    END LOOP;
    PERFORM study_card_notify(v_runnable);
    RETURN v_made;
END
$$;
REVOKE EXECUTE ON FUNCTION study_card_enqueue(int) FROM PUBLIC;

-- study_card_request(p_kind text, p_id bigint) -> bigint, the job id.
-- Extract this source's current version now (kind question, subject_note or document;
-- the only way documents are extracted). No job for the version yet: one is created,
-- runnable now (no debounce). A finished job (completed, failed, skipped) of the version
-- goes back to pending with attempts reset and its error cleared (re-extraction after a
-- model or prompt change). A pending job is left as it is, except that a future run_after
-- (debounce, retry backoff) is brought forward to now; a processing job is left alone.
-- The source's pending jobs of other versions are closed (skipped, stale_version).
-- NOTIFY when the job became runnable by this call.
-- Errors: 22023 unknown kind; P0002 (no_data_found) the source is missing or deleted;
-- 55000 the source has nothing to extract from (no explanation / blank text).
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

    INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind, priority)
    VALUES (v_source.user_id, p_kind, p_id, v_source.version, 'card_extract',
            study_card_priority(study_card_topic_focus(v_source.topic_id)))
    ON CONFLICT DO NOTHING
    RETURNING id INTO v_job_id;

    IF v_job_id IS NULL THEN
        UPDATE study_memo_card_jobs j
           SET status = 'pending', attempts = 0, run_after = now(), completed_at = NULL,
               error_code = NULL, error_message = NULL
         WHERE j.source_kind = p_kind AND j.source_id = p_id
           AND j.source_version = v_source.version AND j.kind = 'card_extract'
           AND j.status IN (SELECT v.status FROM study_card_job_statuses v WHERE v.terminal)
        RETURNING j.id INTO v_job_id;
    END IF;
    IF v_job_id IS NULL THEN
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
