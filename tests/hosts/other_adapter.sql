-- The host adapter for tests/hosts/other_host.sql: sql/10_host.sql's contract (the same
-- views, columns, functions and triggers) over another shape. Installed with
-- STUDY_CARD_HOST_ADAPTER=tests/hosts/other_adapter.sql in place of sql/10_host.sql.

-- The current explanation of a question is its newest; its time is the version.
CREATE OR REPLACE VIEW study_card_host_questions AS
SELECT q.id, q.user_id, q.topic_id, q.question_text AS question, q.options AS choices, q.correct_answer AS answer,
       e.body AS explanation, e.generated_at AS version, NULL::vector AS embedding
  FROM study_questions q
  LEFT JOIN LATERAL (SELECT x.body, x.generated_at FROM study_question_explanations x
                      WHERE x.question_id = q.id ORDER BY x.generated_at DESC, x.id DESC LIMIT 1) AS e ON true
 WHERE NOT q.archived;

CREATE OR REPLACE VIEW study_card_host_notes AS
SELECT n.id, n.owner_id AS user_id, n.topic_id, n.heading AS title, n.content AS body, n.edited_at AS version,
       NULL::vector AS embedding
  FROM study_notes n
 WHERE n.removed_at IS NULL;

CREATE OR REPLACE VIEW study_card_host_documents AS
SELECT d.id, d.user_id, d.title, d.updated_at AS version
  FROM documents d
 WHERE d.deleted_at IS NULL;

CREATE OR REPLACE VIEW study_card_host_chunks AS
SELECT c.id, c.document_id AS document, d.user_id, d.title, c.ord, c.content, c.embedding
  FROM document_chunks c
  JOIN documents d ON d.id = c.document_id
 WHERE d.deleted_at IS NULL;

-- Focus: the column migration 0007 adds to study_topics.
CREATE OR REPLACE VIEW study_card_host_topics AS
SELECT t.id, t.name, t.focused_at AS focus
  FROM study_topics t;

REVOKE ALL ON study_card_host_questions, study_card_host_notes, study_card_host_documents,
              study_card_host_chunks, study_card_host_topics FROM PUBLIC;

CREATE OR REPLACE FUNCTION study_card_lock_owner(p_user_id bigint) RETURNS void
LANGUAGE sql
SET search_path = public, pg_temp
AS $$
    SELECT FROM users u WHERE u.id = p_user_id FOR KEY SHARE
$$;
REVOKE EXECUTE ON FUNCTION study_card_lock_owner(bigint) FROM PUBLIC;

-- The review flag is this host's own column review_note (not migration 0007's).
CREATE OR REPLACE FUNCTION study_card_flag_for_review(p_kind text, p_id bigint, p_reason text) RETURNS void
LANGUAGE sql
SET search_path = public, pg_temp
AS $$
    UPDATE study_questions SET review_note = p_reason WHERE p_kind = 'question' AND id = p_id
$$;
REVOKE EXECUTE ON FUNCTION study_card_flag_for_review(text, bigint, text) FROM PUBLIC;

CREATE OR REPLACE VIEW study_card_review_queue AS
SELECT q.id AS question_id, q.user_id, q.topic_id, t.name AS topic_name, q.question_text AS stem,
       q.review_note AS needs_review_reason, NULL::timestamptz AS needs_review_at,
       (SELECT max(x.generated_at) FROM study_question_explanations x WHERE x.question_id = q.id)
           AS ai_explanation_generated_at,
       (SELECT count(*) FROM study_memo_cards c
         WHERE c.source_kind = 'question' AND c.source_id = q.id AND c.deleted_at IS NULL) AS active_cards
  FROM study_questions q
  LEFT JOIN study_topics t ON t.id = q.topic_id
 WHERE q.review_note IS NOT NULL AND NOT q.archived
 ORDER BY q.id DESC;

-- The enqueue triggers, as in sql/10_host.sql: row level with a WHEN clause, each row's
-- source id to study_card_enqueue_source; statement level, study_card_enqueue_statement.
-- A new explanation (inserted, or its time or text changed) is a new version of its question.
CREATE OR REPLACE FUNCTION tg_study_question_explanations__study_card_enqueue() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    PERFORM study_card_enqueue_source('question', NEW.question_id);
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION tg_study_question_explanations__study_card_enqueue() FROM PUBLIC;

CREATE OR REPLACE FUNCTION tg_study_question_explanations__study_card_enqueued() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    PERFORM study_card_enqueue_statement();
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION tg_study_question_explanations__study_card_enqueued() FROM PUBLIC;

CREATE OR REPLACE TRIGGER study_card_enqueue_inserted
    AFTER INSERT ON study_question_explanations
    FOR EACH ROW
    EXECUTE FUNCTION tg_study_question_explanations__study_card_enqueue();
CREATE OR REPLACE TRIGGER study_card_enqueue_updated
    AFTER UPDATE ON study_question_explanations
    FOR EACH ROW
    WHEN (NEW.generated_at IS DISTINCT FROM OLD.generated_at OR NEW.body IS DISTINCT FROM OLD.body)
    EXECUTE FUNCTION tg_study_question_explanations__study_card_enqueue();
CREATE OR REPLACE TRIGGER study_card_enqueue_statement
    AFTER INSERT OR UPDATE ON study_question_explanations
    FOR EACH STATEMENT
    EXECUTE FUNCTION tg_study_question_explanations__study_card_enqueued();

CREATE OR REPLACE FUNCTION tg_study_notes__study_card_enqueue() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    PERFORM study_card_enqueue_source('subject_note', NEW.id);
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION tg_study_notes__study_card_enqueue() FROM PUBLIC;

CREATE OR REPLACE FUNCTION tg_study_notes__study_card_enqueued() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    PERFORM study_card_enqueue_statement();
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION tg_study_notes__study_card_enqueued() FROM PUBLIC;

CREATE OR REPLACE TRIGGER study_card_enqueue_inserted
    AFTER INSERT ON study_notes
    FOR EACH ROW
    EXECUTE FUNCTION tg_study_notes__study_card_enqueue();
CREATE OR REPLACE TRIGGER study_card_enqueue_updated
    AFTER UPDATE ON study_notes
    FOR EACH ROW
    WHEN (NEW.content IS DISTINCT FROM OLD.content OR NEW.heading IS DISTINCT FROM OLD.heading)
    EXECUTE FUNCTION tg_study_notes__study_card_enqueue();
CREATE OR REPLACE TRIGGER study_card_enqueue_statement
    AFTER INSERT OR UPDATE ON study_notes
    FOR EACH STATEMENT
    EXECUTE FUNCTION tg_study_notes__study_card_enqueued();

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
