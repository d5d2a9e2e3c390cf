-- The job queue, part 1: how card_extract jobs come to exist.
--   questions      a statement-level trigger, when ai_explanation_generated_at changes
--   subject notes  a statement-level trigger, when the title or body changes (debounced)
--   documents      on request only (study_card_request)
--   every kind     the sweep study_card_enqueue (backfill and safety net)
-- Every path inserts with ON CONFLICT DO NOTHING against study_memo_card_jobs_version_uniq,
-- so one source version never gets two jobs, and sends at most one NOTIFY per statement
-- (channel study_card_jobs, payload {"count": N}, N = jobs made runnable now).
-- A source is ready (worth a job) when it is not deleted and has text: a question with a
-- timestamp and an explanation that is not blank, a note whose body is not blank
-- (study_card_is_blank, sql/10_sources.sql).

-- study_card_priority(focused_at) -> smallint
-- The priority of a job whose source belongs to a topic with this focused_at: 10 while
-- the topic is focused (focused_at set), else 0. Claim takes higher priority first.
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

-- tg_study_questions__study_card_enqueue(): statement-level AFTER INSERT and AFTER UPDATE
-- trigger on study_questions (transition tables new_rows, and old_rows for UPDATE).
-- Effects: one pending card_extract job per inserted or updated question whose
-- ai_explanation_generated_at is now non-null and differs from before (for INSERT: is
-- set), whose explanation is not blank and which is not deleted; version = that
-- timestamp, priority from the topic's focus. One INSERT ... ON CONFLICT DO NOTHING and
-- at most one NOTIFY per statement. An UPDATE that leaves every timestamp as it was
-- returns after comparing two arrays (no join, no insert). Errors: none of its own.
-- SECURITY DEFINER: the host application's role needs no rights on the job table.
CREATE OR REPLACE FUNCTION tg_study_questions__study_card_enqueue() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_old_ids bigint[];
    v_old_versions timestamptz[];
    v_new_ids bigint[];
    v_new_versions timestamptz[];
    v_enqueued int;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind, priority)
        SELECT n.user_id, 'question', n.id, n.ai_explanation_generated_at, 'card_extract',
               study_card_priority(t.focused_at)
          FROM new_rows n
          LEFT JOIN study_topics t ON t.id = n.topic_id
         WHERE n.ai_explanation_generated_at IS NOT NULL
           AND n.deleted_at IS NULL
           AND NOT study_card_is_blank(n.ai_explanation)
        ON CONFLICT DO NOTHING;
    ELSE
        -- The cheap exit for updates of other columns. Both transition tables hold the
        -- rows in the same order; when ids and timestamps are equal position by
        -- position, no timestamp changed. (Were the order ever to differ, the arrays
        -- would differ too and the exact comparison below runs: correct either way.)
        SELECT array_agg(id), array_agg(ai_explanation_generated_at)
          INTO v_old_ids, v_old_versions FROM old_rows;
        SELECT array_agg(id), array_agg(ai_explanation_generated_at)
          INTO v_new_ids, v_new_versions FROM new_rows;
        IF v_old_ids IS NOT DISTINCT FROM v_new_ids
           AND v_old_versions IS NOT DISTINCT FROM v_new_versions THEN
            RETURN NULL;
        END IF;

        INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind, priority)
        SELECT n.user_id, 'question', n.id, n.ai_explanation_generated_at, 'card_extract',
               study_card_priority(t.focused_at)
          FROM new_rows n
          JOIN old_rows o ON o.id = n.id
          LEFT JOIN study_topics t ON t.id = n.topic_id
         WHERE n.ai_explanation_generated_at IS NOT NULL
           AND n.ai_explanation_generated_at IS DISTINCT FROM o.ai_explanation_generated_at
           AND n.deleted_at IS NULL
           AND NOT study_card_is_blank(n.ai_explanation)
        ON CONFLICT DO NOTHING;
    END IF;
    GET DIAGNOSTICS v_enqueued = ROW_COUNT;
    PERFORM study_card_notify(v_enqueued);
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION tg_study_questions__study_card_enqueue() FROM PUBLIC;

-- One trigger per event: a trigger with transition tables can be neither
-- "INSERT OR UPDATE" nor "UPDATE OF column"; the function compares old and new rows.
CREATE OR REPLACE TRIGGER study_card_enqueue_inserted
    AFTER INSERT ON study_questions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tg_study_questions__study_card_enqueue();
CREATE OR REPLACE TRIGGER study_card_enqueue_updated
    AFTER UPDATE ON study_questions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tg_study_questions__study_card_enqueue();

-- tg_study_subject_notes__study_card_enqueue(): statement-level AFTER INSERT and AFTER
-- UPDATE trigger on study_subject_notes (transition tables).
-- Effects: for each inserted note, and each updated note whose title or body changed
-- (the text the LLM reads), that is not deleted and has a non-blank body: one pending
-- card_extract job for version = updated_at, run_after = now() + study_card_note_debounce();
-- the note's older pending jobs are closed at once (skipped, stale_version). NOTIFY only
-- for jobs runnable now (a zero debounce). The host must move updated_at on every edit:
-- an edit that keeps updated_at is the same version, which already has its job.
-- Errors: none of its own. SECURITY DEFINER, as above.
CREATE OR REPLACE FUNCTION tg_study_subject_notes__study_card_enqueue() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_runnable int;
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH enqueued AS (
            INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind,
                                              priority, run_after)
            SELECT n.user_id, 'subject_note', n.id, n.updated_at, 'card_extract',
                   study_card_priority(t.focused_at), now() + study_card_note_debounce()
              FROM new_rows n
              LEFT JOIN study_topics t ON t.id = n.topic_id
             WHERE n.deleted_at IS NULL AND NOT study_card_is_blank(n.body)
            ON CONFLICT DO NOTHING
            RETURNING run_after
        )
        SELECT count(*) FILTER (WHERE run_after <= now()) INTO v_runnable FROM enqueued;
    ELSE
        WITH enqueued AS (
            INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind,
                                              priority, run_after)
            SELECT n.user_id, 'subject_note', n.id, n.updated_at, 'card_extract',
                   study_card_priority(t.focused_at), now() + study_card_note_debounce()
              FROM new_rows n
              JOIN old_rows o ON o.id = n.id
              LEFT JOIN study_topics t ON t.id = n.topic_id
             WHERE (n.body IS DISTINCT FROM o.body OR n.title IS DISTINCT FROM o.title)
               AND n.deleted_at IS NULL AND NOT study_card_is_blank(n.body)
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
        SELECT count(*) FILTER (WHERE run_after <= now()) INTO v_runnable FROM enqueued;
    END IF;
    PERFORM study_card_notify(v_runnable);
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION tg_study_subject_notes__study_card_enqueue() FROM PUBLIC;

CREATE OR REPLACE TRIGGER study_card_enqueue_inserted
    AFTER INSERT ON study_subject_notes
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tg_study_subject_notes__study_card_enqueue();
CREATE OR REPLACE TRIGGER study_card_enqueue_updated
    AFTER UPDATE ON study_subject_notes
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tg_study_subject_notes__study_card_enqueue();

-- tg_study_topics__study_card_focus(): row-level AFTER UPDATE OF focused_at trigger on
-- study_topics, fired when a topic becomes focused or stops being focused.
-- Effects: the unfinished (pending or processing) jobs of the topic's questions and
-- subject notes get study_card_priority(new focused_at): raised on focus, lowered back
-- on unfocus. Jobs enqueued while the topic is focused start high by themselves.
-- Errors: none of its own. SECURITY DEFINER, as above.
CREATE OR REPLACE FUNCTION tg_study_topics__study_card_focus() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    UPDATE study_memo_card_jobs j
       SET priority = study_card_priority(NEW.focused_at)
     WHERE j.status IN ('pending', 'processing')
       AND j.priority <> study_card_priority(NEW.focused_at)
       AND ((j.source_kind = 'question'
             AND j.source_id IN (SELECT q.id FROM study_questions q WHERE q.topic_id = NEW.id))
         OR (j.source_kind = 'subject_note'
             AND j.source_id IN (SELECT n.id FROM study_subject_notes n WHERE n.topic_id = NEW.id)));
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION tg_study_topics__study_card_focus() FROM PUBLIC;

CREATE OR REPLACE TRIGGER study_card_focus
    AFTER UPDATE OF focused_at ON study_topics
    FOR EACH ROW
    WHEN ((OLD.focused_at IS NULL) IS DISTINCT FROM (NEW.focused_at IS NULL))
    EXECUTE FUNCTION tg_study_topics__study_card_focus();

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
    v_enqueued int;
    v_runnable int;
BEGIN
    IF p_limit IS NULL OR p_limit < 1 THEN
        RAISE EXCEPTION 'p_limit must be at least 1, got %', p_limit USING ERRCODE = 'invalid_parameter_value';
    END IF;
    WITH due AS (
        SELECT *
          FROM (SELECT q.user_id, 'question' AS source_kind, q.id AS source_id,
                       q.ai_explanation_generated_at AS version, q.topic_id, now() AS run_after
                  FROM study_questions q
                 WHERE q.ai_explanation_generated_at IS NOT NULL
                   AND q.deleted_at IS NULL
                   AND NOT study_card_is_blank(q.ai_explanation)
                   AND NOT EXISTS (SELECT FROM study_memo_card_jobs j
                                    WHERE j.source_kind = 'question' AND j.source_id = q.id
                                      AND j.source_version = q.ai_explanation_generated_at
                                      AND j.kind = 'card_extract')
                UNION ALL
                SELECT n.user_id, 'subject_note', n.id, n.updated_at, n.topic_id,
                       now() + study_card_note_debounce()
                  FROM study_subject_notes n
                 WHERE n.deleted_at IS NULL
                   AND NOT study_card_is_blank(n.body)
                   AND NOT EXISTS (SELECT FROM study_memo_card_jobs j
                                    WHERE j.source_kind = 'subject_note' AND j.source_id = n.id
                                      AND j.source_version = n.updated_at
                                      AND j.kind = 'card_extract')) AS candidates
         ORDER BY version, source_kind, source_id
         LIMIT p_limit
    ), enqueued AS (
        INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind,
                                          priority, run_after)
        SELECT d.user_id, d.source_kind, d.source_id, d.version, 'card_extract',
               study_card_priority(t.focused_at), d.run_after
          FROM due d
          LEFT JOIN study_topics t ON t.id = d.topic_id
        ON CONFLICT DO NOTHING
        RETURNING source_kind, source_id, source_version, run_after
    ), superseded AS (
        UPDATE study_memo_card_jobs j
           SET status = 'skipped', error_code = 'stale_version', completed_at = now(),
               error_message = format('superseded by version %s', e.source_version)
          FROM enqueued e
         WHERE e.source_kind = 'subject_note'
           AND j.source_kind = 'subject_note' AND j.source_id = e.source_id
           AND j.status = 'pending' AND j.source_version <> e.source_version
    )
    SELECT count(*), count(*) FILTER (WHERE run_after <= now())
      INTO v_enqueued, v_runnable
      FROM enqueued;
    PERFORM study_card_notify(v_runnable);
    RETURN v_enqueued;
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
                  HINT = 'a question needs a non-blank ai_explanation and ai_explanation_generated_at';
    END IF;

    INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind, priority)
    VALUES (v_source.user_id, p_kind, p_id, v_source.version, 'card_extract',
            study_card_priority((SELECT t.focused_at FROM study_topics t WHERE t.id = v_source.topic_id)))
    ON CONFLICT DO NOTHING
    RETURNING id INTO v_job_id;

    IF v_job_id IS NULL THEN
        UPDATE study_memo_card_jobs j
           SET status = 'pending', attempts = 0, run_after = now(), completed_at = NULL,
               error_code = NULL, error_message = NULL
         WHERE j.source_kind = p_kind AND j.source_id = p_id
           AND j.source_version = v_source.version AND j.kind = 'card_extract'
           AND j.status IN ('completed', 'failed', 'skipped')
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
