-- Sources, read through the host adapter's views (sql/10_host.sql): what a source is,
-- the text an LLM reads of it, whether its job may run; and whether the caller holds a
-- job, which every worker-facing function checks.

-- study_card_source(kind, id) -> one row (user_id, topic_id, version, ready), or no row
-- when the source is missing or soft-deleted. kind is a job source kind: question,
-- subject_note or document; version is what jobs store in source_version; ready says
-- there is something to extract from (a non-blank explanation with its version, a
-- non-blank note body, a document with a non-blank chunk). Reads the host's views.
CREATE OR REPLACE FUNCTION study_card_source(p_kind text, p_id bigint)
RETURNS TABLE (user_id bigint, topic_id bigint, version timestamptz, ready boolean)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
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

-- study_card_source_text(kind, id) -> text
-- The text an LLM reads and evidence quotes are checked against, for one source row:
--   question       its parts labelled, each from the start of a line, a blank part
--                  left out:
--                    문제: <stem>
--                    보기:
--                    ①. <choice 1>          (study_card_question_choices: the host's
--                    ②. <choice 2> …         own labels for object choices; a choices
--                                            value that is a JSON string as it is)
--                    정답: <answer>          (study_card_question_answer: a choice
--                                            number or label shown with its choice,
--                                            '정답: ①. 부분 함수 종속 제거')
--                    해설: <explanation>
--                  Labels and choice numbers are text like any other: a quote with or
--                  without them verifies ('①. 부분 함수 종속 제거', '① 부분 함수 종속
--                  제거' and '부분 함수 종속 제거' are all in '…1부분함수종속제거…' after
--                  study_card_norm, which keeps the 1 that NFKC makes of ①).
--   subject_note   title, body
--   document_chunk content
--   document       its chunks' content in order
-- NULL when the row is missing or soft-deleted (a chunk of a deleted document too).
CREATE OR REPLACE FUNCTION study_card_source_text(p_kind text, p_id bigint) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
    SELECT CASE p_kind
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

-- study_card_source_problem(kind, id, version) -> text
-- Why a job for this source version must not run: 'source_deleted' (missing or
-- soft-deleted), 'stale_version' (the source has moved on to another non-null
-- version), 'no_ready_explanation' (nothing to extract from); NULL when it may run.
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

-- study_card_held_job(job_id, worker) -> the job row, locked FOR UPDATE.
-- "Holds the job" means status = 'processing' AND locked_by = worker AND locked_by_role
-- = session_user: the worker's name, claimed from the same login role as the caller
-- (study_card_claim records it). An expired lease that nobody took over still counts.
-- session_user, not current_user: inside the SECURITY DEFINER functions that call this,
-- current_user is their owner, and a member of study_card_worker cannot change its
-- session_user. Raises SQLSTATE 55000 (object_not_in_prerequisite_state) when the job
-- does not exist, is not held by that worker name, or was claimed by another login
-- role; the message says which.
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
