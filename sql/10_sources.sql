-- Sources: the one place that reads host rows (questions, subject notes, documents),
-- and the job-holding check that every worker-facing function shares.
-- Adapting to a host whose columns are named differently means editing this file only.

-- study_card_is_blank(text) -> boolean
-- True for NULL and for text with nothing visible in it: only white space (Unicode
-- White_Space after NFKC: space, tab, line breaks, no-break and ideographic spaces …)
-- and invisible characters (study_card_visible removes them: zero-width spaces, BOM,
-- Hangul fillers …). An explanation of U+200B or U+3164 alone is blank, so no job is
-- enqueued for it. IMMUTABLE and without SET so that it inlines into the bulk inserts.
CREATE OR REPLACE FUNCTION study_card_is_blank(p_text text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN p_text IS NULL
    OR study_card_visible(p_text) !~ ('[^' || study_card_spaces() || ']');
REVOKE EXECUTE ON FUNCTION study_card_is_blank(text) FROM PUBLIC;

-- study_card_source_text(kind, id) -> text
-- The text an LLM reads and evidence quotes are checked against, for one source row:
--   question       stem, choices, answer, explanation (one part per line)
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
            SELECT concat_ws(E'\n', q.stem,
                CASE jsonb_typeof(q.choices)
                    WHEN 'array' THEN (SELECT string_agg(c.value, E'\n' ORDER BY c.ord)
                                         FROM jsonb_array_elements_text(q.choices) WITH ORDINALITY AS c(value, ord))
                    WHEN 'object' THEN (SELECT string_agg(c.key || '. ' || c.value, E'\n' ORDER BY c.key)
                                          FROM jsonb_each_text(q.choices) AS c)
                    ELSE q.choices #>> '{}'
                END,
                q.answer, q.ai_explanation)
              FROM study_questions q
             WHERE q.id = p_id AND q.deleted_at IS NULL)
        WHEN 'subject_note' THEN (
            SELECT concat_ws(E'\n', n.title, n.body)
              FROM study_subject_notes n
             WHERE n.id = p_id AND n.deleted_at IS NULL)
        WHEN 'document_chunk' THEN (
            SELECT c.content
              FROM document_chunks c JOIN documents d ON d.id = c.document_id
             WHERE c.id = p_id AND d.deleted_at IS NULL)
        WHEN 'document' THEN (
            SELECT string_agg(c.content, E'\n' ORDER BY c.ord, c.id)
              FROM documents d JOIN document_chunks c ON c.document_id = d.id
             WHERE d.id = p_id AND d.deleted_at IS NULL)
    END
$$;

-- study_card_source(kind, id) -> one row (user_id, topic_id, version, ready), or no row
-- when the source is missing or soft-deleted. kind is a job source kind: question,
-- subject_note or document. version is what jobs store in source_version
-- (question: ai_explanation_generated_at; note and document: updated_at). ready says
-- there is something to extract from (a non-blank explanation with its timestamp, a
-- non-blank note body, a document with a non-blank chunk).
CREATE OR REPLACE FUNCTION study_card_source(p_kind text, p_id bigint)
RETURNS TABLE (user_id bigint, topic_id bigint, version timestamptz, ready boolean)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
    SELECT q.user_id, q.topic_id, q.ai_explanation_generated_at,
           q.ai_explanation_generated_at IS NOT NULL AND NOT study_card_is_blank(q.ai_explanation)
      FROM study_questions q
     WHERE p_kind = 'question' AND q.id = p_id AND q.deleted_at IS NULL
    UNION ALL
    SELECT n.user_id, n.topic_id, n.updated_at, NOT study_card_is_blank(n.body)
      FROM study_subject_notes n
     WHERE p_kind = 'subject_note' AND n.id = p_id AND n.deleted_at IS NULL
    UNION ALL
    SELECT d.user_id, NULL::bigint, d.updated_at,
           EXISTS (SELECT FROM document_chunks c WHERE c.document_id = d.id AND NOT study_card_is_blank(c.content))
      FROM documents d
     WHERE p_kind = 'document' AND d.id = p_id AND d.deleted_at IS NULL
$$;

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
-- "Holds the job" means status = 'processing' AND locked_by = worker; an expired
-- lease that nobody took over still counts. Raises SQLSTATE 55000
-- (object_not_in_prerequisite_state) when the job does not exist or the caller does
-- not hold it; the message says which.
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
    RETURN v_job;
END
$$;

REVOKE ALL ON FUNCTION study_card_source_text(text, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION study_card_source(text, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION study_card_source_problem(text, bigint, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION study_card_held_job(bigint, text) FROM PUBLIC;
