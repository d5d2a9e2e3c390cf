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

-- study_card_choice_label(n) -> text: the label shown before the n-th choice of a
-- question whose choices are a JSON array: ①. … ⑳. (U+2460 + n - 1 and a full stop),
-- then (21), (22) … (Korean exams number their choices ①–⑤; a longer list goes on with
-- the circled numbers to ⑳). Every label NFKC-normalises to its digits (① -> 1) and
-- study_card_norm drops the stop, so a quote with or without the label verifies.
-- The stop keeps the number apart from the choice: the quantity guard reads a number
-- and the numeral word after it as one quantity when only a space is between them
-- ('② 백 년 전쟁' is 2 × 100년, '③ 천 원' 3000원), and a quote of the choice alone
-- ('백 년 전쟁': 100년) would then hold a number its source does not; '②. 백 년 전쟁'
-- reads 2 and 100년.
CREATE OR REPLACE FUNCTION study_card_choice_label(p_n integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN p_n BETWEEN 1 AND 20 THEN chr(9311 + p_n) || '.' ELSE '(' || p_n || ')' END;
REVOKE EXECUTE ON FUNCTION study_card_choice_label(integer) FROM PUBLIC;

-- study_card_choice_key(text) -> text: a choice number, letter or label as a bare key,
-- to match a stored answer with a choice: study_card_visible (NFKC: ③ -> 3, ⑴ -> (1),
-- full-width Ａ -> A; invisible characters removed), lower case, white space removed,
-- then one pair of brackets around it and a trailing '.', ')' or '번' removed: '1',
-- '1번', '(1)', '1)', '①', ' 1 ' all give '1'; 'A', 'a.', '(A)' give 'a'; '(가)' gives '가'.
CREATE OR REPLACE FUNCTION study_card_choice_key(p_label text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN regexp_replace(regexp_replace(
           lower(regexp_replace(study_card_visible(p_label), '[' || study_card_spaces() || ']+', '', 'g')),
           '^[(\[](.*)[)\]]$', '\1'),
       '(번|\.|\))$', '');
REVOKE EXECUTE ON FUNCTION study_card_choice_key(text) FROM PUBLIC;

-- study_card_question_choices(choices) -> (ord, key, body, line): the choices of a
-- question as shown under 보기, one row each, in order; body is the choice's text
-- (trimmed), line what is shown:
--   JSON array   in array order; key is the position ('1', '2', …); line is
--                study_card_choice_label(position) || ' ' || the choice ('①. …'), or
--                the choice as stored when it already begins with a circled number;
--   JSON object  the host's own labels, keys that are numbers first in numeric order,
--                then the others in code-point order ('A' < 'B', '가' < '나'); key is
--                study_card_choice_key of the label; line is the label and the choice:
--                a number 1–20 shown as its circled number ({"1": "…"} -> '①. …'), a
--                label that ends in '.' or ')' as it is, any other followed by '.'
--                ({"A": "…"} -> 'A. …', {"①": "…"} -> '①. …').
-- No rows for NULL, JSON null, a scalar (shown as it is by study_card_source_text),
-- an empty array or object. A JSON null choice is shown as its label alone.
CREATE OR REPLACE FUNCTION study_card_question_choices(p_choices jsonb)
RETURNS TABLE (ord integer, key text, body text, line text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
    SELECT c.ord::integer, c.ord::text, btrim(c.value),
           CASE WHEN c.value ~ '^[\s\u00a0\u3000]*[\u2460-\u2473]' THEN btrim(c.value)
                ELSE rtrim(study_card_choice_label(c.ord::integer) || ' ' || coalesce(btrim(c.value), '')) END
      FROM jsonb_array_elements_text(CASE jsonb_typeof(p_choices) WHEN 'array' THEN p_choices END)
           WITH ORDINALITY AS c(value, ord)
    UNION ALL
    SELECT row_number() OVER (ORDER BY o.number NULLS LAST, o.label COLLATE "C")::integer,
           study_card_choice_key(o.label), btrim(o.value),
           rtrim(CASE WHEN o.number BETWEEN 1 AND 20 THEN study_card_choice_label(o.number::integer)
                      WHEN o.label ~ '[.)]$' THEN o.label
                      ELSE o.label || '.' END
                 || ' ' || coalesce(btrim(o.value), ''))
      FROM (SELECT e.key AS label, e.value,
                   CASE WHEN e.key ~ '^[0-9]{1,9}$' THEN e.key::numeric END AS number
              FROM jsonb_each_text(CASE jsonb_typeof(p_choices) WHEN 'object' THEN p_choices END) AS e) AS o
     ORDER BY 1
$$;
REVOKE EXECUTE ON FUNCTION study_card_question_choices(jsonb) FROM PUBLIC;

-- study_card_question_answer(choices, answer) -> text: the answer as 정답 shows it.
-- An answer that names a choice, by its number or label (study_card_choice_key: '1',
-- '③', '1번', '(1)' for array choices; 'A', 'a', '(A)' for {"A": …}) or by the very
-- text of one choice, is shown as that choice's line ('①. 부분 함수 종속 제거'); any
-- other answer is shown as stored, trimmed: a number when there are no choices ('1970'),
-- a number past the last choice, a letter for array choices, several numbers ('1, 3').
-- NULL for a blank answer.
CREATE OR REPLACE FUNCTION study_card_question_answer(p_choices jsonb, p_answer text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
    SELECT CASE WHEN NOT study_card_is_blank(p_answer) THEN
        coalesce((SELECT c.line FROM study_card_question_choices(p_choices) AS c
                   WHERE c.key = study_card_choice_key(p_answer) AND c.key <> ''
                   ORDER BY c.ord LIMIT 1),
                 (SELECT c.line FROM study_card_question_choices(p_choices) AS c
                   WHERE btrim(p_answer) IN (c.body, c.line)
                   ORDER BY c.ord LIMIT 1),
                 btrim(p_answer, E' \t\n\r\f\x0b\u00a0\u3000'))
    END
$$;
REVOKE EXECUTE ON FUNCTION study_card_question_answer(jsonb, text) FROM PUBLIC;

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
                CASE WHEN NOT study_card_is_blank(q.stem)
                     THEN '문제: ' || btrim(q.stem, E' \t\n\r\f\x0b\u00a0\u3000') END,
                '보기:' || E'\n' || coalesce(
                    (SELECT string_agg(c.line, E'\n' ORDER BY c.ord) FROM study_card_question_choices(q.choices) AS c),
                    CASE WHEN jsonb_typeof(q.choices) IN ('string', 'number') AND NOT study_card_is_blank(q.choices #>> '{}')
                         THEN btrim(q.choices #>> '{}', E' \t\n\r\f\x0b\u00a0\u3000') END),
                '정답: ' || study_card_question_answer(q.choices, q.answer),
                CASE WHEN NOT study_card_is_blank(q.ai_explanation)
                     THEN '해설: ' || btrim(q.ai_explanation, E' \t\n\r\f\x0b\u00a0\u3000') END)
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

REVOKE ALL ON FUNCTION study_card_source_text(text, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION study_card_source(text, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION study_card_source_problem(text, bigint, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION study_card_held_job(bigint, text) FROM PUBLIC;
