-- The host adapter: the only file that names a host table or column. The rest of the
-- project reads the study server through the views below, whose names and columns are
-- the same on every host, and is told of new source versions by the triggers below.
-- Adapting the project to a server shaped otherwise means replacing this file
-- (docs/host-adapter.md; tests/hosts/ holds one for a differently shaped host).
-- This one fits the baseline host of migration 0001:
--   users(id)                                          owner of everything
--   study_topics(id, name, focused_at)                 focus
--   study_questions(id, user_id, topic_id, stem, choices, answer, ai_explanation,
--       ai_explanation_generated_at, embedding, deleted_at,
--       needs_review, needs_review_reason, needs_review_at)   source kind 'question'
--   study_subject_notes(id, user_id, topic_id, title, body, updated_at, embedding,
--       deleted_at)                                    source kind 'subject_note'
--   documents(id, user_id, title, updated_at, deleted_at)       source kind 'document'
--   document_chunks(id, document_id, ord, content, embedding)   handles 'document_chunk'
-- The views show live rows only (not soft-deleted; chunks of live documents). They are
-- plain projections the planner inlines, so the host's indexes serve the searches.

-- Questions: the text an LLM reads is question, choices (JSON array or object of the
-- host's labels), answer and explanation; version is when the explanation was made
-- (NULL: none yet).
CREATE OR REPLACE VIEW study_card_host_questions AS
SELECT q.id, q.user_id, q.topic_id, q.stem AS question, q.choices, q.answer, q.ai_explanation AS explanation,
       q.ai_explanation_generated_at AS version, q.embedding
  FROM study_questions q
 WHERE q.deleted_at IS NULL;

-- Subject notes: version is when the note last changed.
CREATE OR REPLACE VIEW study_card_host_notes AS
SELECT n.id, n.user_id, n.topic_id, n.title, n.body, n.updated_at AS version, n.embedding
  FROM study_subject_notes n
 WHERE n.deleted_at IS NULL;

-- Documents and their chunks (with the document's owner and title).
CREATE OR REPLACE VIEW study_card_host_documents AS
SELECT d.id, d.user_id, d.title, d.updated_at AS version
  FROM documents d
 WHERE d.deleted_at IS NULL;

CREATE OR REPLACE VIEW study_card_host_chunks AS
SELECT c.id, c.document_id AS document, d.user_id, d.title, c.ord, c.content, c.embedding
  FROM document_chunks c
  JOIN documents d ON d.id = c.document_id
 WHERE d.deleted_at IS NULL;

-- Topics: focus is when the topic became the user's focus, NULL when it is not.
CREATE OR REPLACE VIEW study_card_host_topics AS
SELECT t.id, t.name, t.focused_at AS focus
  FROM study_topics t;

REVOKE ALL ON study_card_host_questions, study_card_host_notes, study_card_host_documents,
              study_card_host_chunks, study_card_host_topics FROM PUBLIC;

-- study_card_lock_owner(user_id) -> void: locks the user row FOR KEY SHARE (the lock the
-- card and job rows' foreign keys take); commit_cards calls it before it locks the job
-- row. Errors: none.
CREATE OR REPLACE FUNCTION study_card_lock_owner(p_user_id bigint) RETURNS void
LANGUAGE sql
SET search_path = public, pg_temp
AS $$
    -- the host's DELETE FROM users locks the user, then cascades to the jobs; in the
    -- same order such a delete waits for a commit, or goes first, never deadlocks with it
    SELECT FROM users u WHERE u.id = p_user_id FOR KEY SHARE
$$;
REVOKE EXECUTE ON FUNCTION study_card_lock_owner(bigint) FROM PUBLIC;

-- study_card_flag_for_review(kind, id, reason) -> void: commit_cards' write-back when
-- the LLM doubts an explanation or no card of it survived: the question's review flag,
-- reason and time. Notes and documents have no such flag: nothing is written.
-- Errors: none.
CREATE OR REPLACE FUNCTION study_card_flag_for_review(p_kind text, p_id bigint, p_reason text) RETURNS void
LANGUAGE sql
SET search_path = public, pg_temp
AS $$
    UPDATE study_questions
       SET needs_review = true, needs_review_reason = p_reason, needs_review_at = now()
     WHERE p_kind = 'question' AND id = p_id
$$;
REVOKE EXECUTE ON FUNCTION study_card_flag_for_review(text, bigint, text) FROM PUBLIC;

-- The questions commit_cards flagged for review (the LLM doubted the explanation, or
-- no card passed the guards), newest flag first, with their active card count.
CREATE OR REPLACE VIEW study_card_review_queue AS
SELECT q.id AS question_id, q.user_id, q.topic_id, t.name AS topic_name, q.stem,
       q.needs_review_reason, q.needs_review_at, q.ai_explanation_generated_at,
       (SELECT count(*) FROM study_memo_cards c
         WHERE c.source_kind = 'question' AND c.source_id = q.id AND c.deleted_at IS NULL) AS active_cards
  FROM study_questions q
  LEFT JOIN study_topics t ON t.id = q.topic_id
 WHERE q.needs_review AND q.deleted_at IS NULL
 ORDER BY q.needs_review_at DESC NULLS LAST, q.id DESC;

-- The enqueue triggers: which host rows may hold a new source version. A row-level
-- AFTER trigger whose WHEN clause compares the version (PostgreSQL evaluates WHEN itself,
-- calls nothing and queues nothing for a row that fails it) hands each such row's id to
-- study_card_enqueue_source (sql/20_enqueue.sql); a statement-level AFTER trigger, which
-- runs after the statement's row triggers, calls study_card_enqueue_statement, which
-- enqueues the ids collected (in bulk: one INSERT ... SELECT per ~300 rows), reading
-- them back through the views, and sends the one NOTIFY. No transition tables: with
-- them, PostgreSQL copied every old and new row of every UPDATE of the table, also when
-- no version changed (docs/queue.md, "Enqueue triggers"; bench/README.md).
-- Disable the row and statement triggers together or not at all: ids collected with the
-- statement trigger off wait for the next statement's, or for the sweep.

-- tg_study_questions__study_card_enqueue(): a question whose explanation version is set
-- on insert, or changes to a non-null value on update (the WHEN clauses below).
CREATE OR REPLACE FUNCTION tg_study_questions__study_card_enqueue() RETURNS trigger
-- SECURITY DEFINER (as every trigger function here): the host application's role needs
-- no rights on the job table
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    PERFORM study_card_enqueue_source('question', NEW.id);
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION tg_study_questions__study_card_enqueue() FROM PUBLIC;

-- tg_study_questions__study_card_enqueued(): after every INSERT or UPDATE statement.
CREATE OR REPLACE FUNCTION tg_study_questions__study_card_enqueued() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    PERFORM study_card_enqueue_statement();
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION tg_study_questions__study_card_enqueued() FROM PUBLIC;

-- (Earlier installs had statement-level triggers with transition tables under the first
-- two names; CREATE OR REPLACE TRIGGER turns them into these.)
CREATE OR REPLACE TRIGGER study_card_enqueue_inserted
    AFTER INSERT ON study_questions
    FOR EACH ROW
    WHEN (NEW.ai_explanation_generated_at IS NOT NULL)
    EXECUTE FUNCTION tg_study_questions__study_card_enqueue();
CREATE OR REPLACE TRIGGER study_card_enqueue_updated
    AFTER UPDATE ON study_questions
    FOR EACH ROW
    WHEN (NEW.ai_explanation_generated_at IS NOT NULL
          AND NEW.ai_explanation_generated_at IS DISTINCT FROM OLD.ai_explanation_generated_at)
    EXECUTE FUNCTION tg_study_questions__study_card_enqueue();
-- no column list (UPDATE OF): a version set by a BEFORE trigger of the host, not in the
-- SET list, must still be enqueued
CREATE OR REPLACE TRIGGER study_card_enqueue_statement
    AFTER INSERT OR UPDATE ON study_questions
    FOR EACH STATEMENT
    EXECUTE FUNCTION tg_study_questions__study_card_enqueued();

-- tg_study_subject_notes__study_card_enqueue(): a note inserted, or updated with another
-- title or body (the text the LLM reads). Its version is updated_at, which the host
-- must move on every edit: an edit that keeps it is the same version, whose job exists.
CREATE OR REPLACE FUNCTION tg_study_subject_notes__study_card_enqueue() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    PERFORM study_card_enqueue_source('subject_note', NEW.id);
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION tg_study_subject_notes__study_card_enqueue() FROM PUBLIC;

CREATE OR REPLACE FUNCTION tg_study_subject_notes__study_card_enqueued() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    PERFORM study_card_enqueue_statement();
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION tg_study_subject_notes__study_card_enqueued() FROM PUBLIC;

CREATE OR REPLACE TRIGGER study_card_enqueue_inserted
    AFTER INSERT ON study_subject_notes
    FOR EACH ROW
    EXECUTE FUNCTION tg_study_subject_notes__study_card_enqueue();
CREATE OR REPLACE TRIGGER study_card_enqueue_updated
    AFTER UPDATE ON study_subject_notes
    FOR EACH ROW
    WHEN (NEW.body IS DISTINCT FROM OLD.body OR NEW.title IS DISTINCT FROM OLD.title)
    EXECUTE FUNCTION tg_study_subject_notes__study_card_enqueue();
CREATE OR REPLACE TRIGGER study_card_enqueue_statement
    AFTER INSERT OR UPDATE ON study_subject_notes
    FOR EACH STATEMENT
    EXECUTE FUNCTION tg_study_subject_notes__study_card_enqueued();

-- tg_study_topics__study_card_focus(): a topic becomes focused or stops being focused:
-- the unfinished jobs of its sources get the new priority (study_card_refocus).
CREATE OR REPLACE FUNCTION tg_study_topics__study_card_focus() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    PERFORM study_card_refocus(NEW.id);
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION tg_study_topics__study_card_focus() FROM PUBLIC;

CREATE OR REPLACE TRIGGER study_card_focus
    AFTER UPDATE OF focused_at ON study_topics
    FOR EACH ROW
    WHEN ((OLD.focused_at IS NULL) IS DISTINCT FROM (NEW.focused_at IS NULL))
    EXECUTE FUNCTION tg_study_topics__study_card_focus();
