-- The user's side of the cards: deleting one, and the psql views to read them.

-- study_card_delete(card_id) -> boolean: the user deletes an active card (deleted_at,
-- retired_reason 'user_deleted'); the row stays as the tombstone the user_deleted guard
-- reads, and its progress rows stay. False when no active card has that id. Errors: none.
-- Locks: the card row. SECURITY DEFINER, not granted to the worker: grant EXECUTE to the
-- host app's role.
CREATE OR REPLACE FUNCTION study_card_delete(p_card_id bigint)
RETURNS boolean
LANGUAGE sql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
    WITH deleted AS (
        UPDATE study_memo_cards
           SET deleted_at = now(), retired_reason = 'user_deleted', updated_at = now()
         -- active only: a card already retired by a newer version is not one the user
         -- saw and rejected
         WHERE id = p_card_id AND deleted_at IS NULL
        RETURNING id)
    SELECT EXISTS (SELECT FROM deleted)
$$;
REVOKE EXECUTE ON FUNCTION study_card_delete(bigint) FROM PUBLIC;

-- study_card_source_name(kind, id) -> text: what a person calls a source: a question's
-- text, a note's or a document's title; NULL when it is gone. Errors: none.
CREATE OR REPLACE FUNCTION study_card_source_name(p_kind text, p_id bigint) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
    SELECT CASE p_kind
        WHEN 'question' THEN (SELECT q.question FROM study_card_host_questions q WHERE q.id = p_id)
        WHEN 'subject_note' THEN (SELECT n.title FROM study_card_host_notes n WHERE n.id = p_id)
        WHEN 'document' THEN (SELECT d.title FROM study_card_host_documents d WHERE d.id = p_id)
    END
$$;
REVOKE EXECUTE ON FUNCTION study_card_source_name(text, bigint) FROM PUBLIC;

-- study_memo_cards_active: the active cards, one row each, with source_title
-- (study_card_source_name) and evidence as a JSON array [{"source_kind", "source_id",
-- "quote"}] in the order it was stored.
CREATE OR REPLACE VIEW study_memo_cards_active AS
SELECT c.id, c.user_id, c.card_type, c.cue, c.answer, c.cloze_text,
       c.source_kind, c.source_id,
       study_card_source_name(c.source_kind, c.source_id) AS source_title,
       c.source_version, c.job_id, c.created_at, c.updated_at,
       coalesce((SELECT jsonb_agg(jsonb_build_object('source_kind', e.source_kind, 'source_id', e.source_id,
                                                     'quote', e.quote) ORDER BY e.id)
                   FROM study_memo_card_evidence e
                  WHERE e.card_id = c.id), '[]') AS evidence
  FROM study_memo_cards c
 WHERE c.deleted_at IS NULL;
