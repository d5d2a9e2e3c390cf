-- Sources, read through the host adapter's views (sql/10_host.sql): what a source is,
-- the text an LLM reads of it, whether its job may run; and whether the caller holds a
-- job, which every worker-facing function checks.

-- study_card_source(kind, id) -> (user_id, topic_id, version, ready): one row for a job
-- source (question, subject_note, document), none when it is missing or soft-deleted;
-- version is what jobs store in source_version, ready says there is something to
-- extract from. Errors: none.
CREATE OR REPLACE FUNCTION study_card_source(p_kind text, p_id bigint)
RETURNS TABLE (user_id bigint, topic_id bigint, version timestamptz, ready boolean)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET plan_cache_mode = force_generic_plan  -- planned once per session, not per call (bench/README.md, llm_overhead)
AS $$
    -- ready: a non-blank explanation with its version; a non-blank note body; a document
    -- with a non-blank chunk
    SELECT q.user_id, q.topic_id, q.version, q.version IS NOT NULL AND NOT study_card_is_blank(q.explanation)
      FROM study_card_host_questions q
     WHERE p_kind = 'question' AND q.id = p_id
    UNION ALL
    SELECT n.user_id, n.topic_id, n.version, NOT study_card_is_blank(n.body)
      FROM study_card_host_notes n
     WHERE p_kind = 'subject_note' AND n.id = p_id
    UNION ALL
    SELECT d.user_id, NULL::bigint, d.version,
           EXISTS (SELECT FROM study_card_host_chunks c WHERE c.document = d.id AND NOT study_card_is_blank(c.content))
      FROM study_card_host_documents d
     WHERE p_kind = 'document' AND d.id = p_id
$$;
REVOKE ALL ON FUNCTION study_card_source(text, bigint) FROM PUBLIC;

-- study_card_source_text(kind, id) -> text: the text an LLM reads and evidence quotes
-- are checked against: a question's parts labelled (문제, 보기, 정답, 해설; docs/cards.md),
-- a note's title and body, a document_chunk's content, a document's chunks in order.
-- NULL when the row is missing or soft-deleted (a chunk of a deleted document too).
-- Errors: none.
CREATE OR REPLACE FUNCTION study_card_source_text(p_kind text, p_id bigint) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET plan_cache_mode = force_generic_plan  -- planned once per session, not per call (bench/README.md, llm_overhead)
AS $$
    SELECT CASE p_kind
        -- each part from the start of a line, a blank part left out; 보기: the choices'
        -- lines (study_card_question_choices), or a string or number as it is; 정답: a
        -- choice number or label shown with its choice (study_card_question_answer)
        WHEN 'question' THEN (
            SELECT concat_ws(E'\n',
                CASE WHEN NOT study_card_is_blank(q.question)
                     THEN '문제: ' || btrim(q.question, E' \t\n\r\f\x0b\u00a0\u3000') END,
                '보기:' || E'\n' || coalesce(
                    (SELECT string_agg(c.line, E'\n' ORDER BY c.ord) FROM study_card_question_choices(q.choices) AS c),
                    CASE WHEN jsonb_typeof(q.choices) IN ('string', 'number') AND NOT study_card_is_blank(q.choices #>> '{}')
                         THEN btrim(q.choices #>> '{}', E' \t\n\r\f\x0b\u00a0\u3000') END),
                '정답: ' || study_card_question_answer(q.choices, q.answer),
                CASE WHEN NOT study_card_is_blank(q.explanation)
                     THEN '해설: ' || btrim(q.explanation, E' \t\n\r\f\x0b\u00a0\u3000') END)
              FROM study_card_host_questions q
             WHERE q.id = p_id)
        WHEN 'subject_note' THEN (
            SELECT concat_ws(E'\n', n.title, n.body)
              FROM study_card_host_notes n
             WHERE n.id = p_id)
        WHEN 'document_chunk' THEN (
            SELECT c.content
              FROM study_card_host_chunks c
             WHERE c.id = p_id)
        WHEN 'document' THEN (
            SELECT string_agg(c.content, E'\n' ORDER BY c.ord, c.id)
              FROM study_card_host_chunks c
             WHERE c.document = p_id)
    END
$$;
REVOKE ALL ON FUNCTION study_card_source_text(text, bigint) FROM PUBLIC;

-- study_card_source_problem(kind, id, version) -> text: why a job for this source
-- version must not run: 'source_deleted' (missing or soft-deleted), 'stale_version'
-- (the source has moved on to another non-null version), 'no_ready_explanation'
-- (nothing to extract from); NULL when it may run. Errors: none.
CREATE OR REPLACE FUNCTION study_card_source_problem(p_kind text, p_id bigint, p_version timestamptz)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
    SELECT CASE
        WHEN s.user_id IS NULL THEN 'source_deleted'
        WHEN s.version IS NOT NULL AND s.version IS DISTINCT FROM p_version THEN 'stale_version'
        WHEN NOT s.ready OR s.version IS NULL THEN 'no_ready_explanation'
    END
      FROM (SELECT 1) AS one
      LEFT JOIN study_card_source(p_kind, p_id) AS s ON true
$$;

-- study_card_held_job(job_id, worker) -> study_memo_card_jobs: the job, when the caller
-- holds it: processing, locked_by = worker, locked_by_role = session_user (an expired
-- lease nobody took over still counts). Errors: 55000 when the job is missing, not held
-- by that worker or claimed by another login role; the message says which. Locks: the
-- job row FOR UPDATE. Release, fail, gather, the result schema and commit_cards call it.
CREATE OR REPLACE FUNCTION study_card_held_job(p_job_id bigint, p_worker text)
RETURNS study_memo_card_jobs
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
DECLARE
    v_job study_memo_card_jobs;
BEGIN
    SELECT * INTO v_job FROM study_memo_card_jobs WHERE id = p_job_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'study card job % does not exist', p_job_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF v_job.status <> 'processing' OR v_job.locked_by IS DISTINCT FROM p_worker THEN
        RAISE EXCEPTION 'study card job % is not held by worker %', p_job_id, p_worker
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('status %s, locked by %s', v_job.status, coalesce(v_job.locked_by, 'nobody'));
    END IF;
    -- session_user, not current_user: inside the SECURITY DEFINER functions that call
    -- this, current_user is their owner, and a member of study_card_worker cannot change
    -- its session_user
    IF v_job.locked_by_role IS DISTINCT FROM session_user THEN
        RAISE EXCEPTION 'study card job % was claimed by login role %, not by this session''s role %',
                        p_job_id, v_job.locked_by_role, session_user
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('worker %s holds it; only the session role that claimed a job may act for its worker',
                                  v_job.locked_by);
    END IF;
    RETURN v_job;
END
$$;

REVOKE ALL ON FUNCTION study_card_source_problem(text, bigint, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION study_card_held_job(bigint, text) FROM PUBLIC;
