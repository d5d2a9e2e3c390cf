-- Back to the normaliser of migration 0002. Cards that the old normaliser makes equal
-- (symbol answers such as '||' and '+' both normalise to nothing there) are retired
-- like in the forward migration: the oldest active card of a key stays. Cards retired
-- by either direction stay retired.
DROP INDEX study_memo_cards_active_answer_key_idx;
DROP INDEX study_memo_cards_active_norm_key_uniq;
ALTER TABLE study_memo_cards DROP COLUMN answer_key;
DROP FUNCTION study_card_answer_key(text, text, text);
CREATE OR REPLACE FUNCTION study_card_norm(p_text text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN regexp_replace(
    lower(normalize(p_text, NFKC) COLLATE "C"),
    '[^0-9a-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u0370-\u03FF\u0400-\u04FF\u1100-\u11FF\u3040-\u30FF\u3131-\u318E\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7A3]',
    '', 'g');
-- CASCADE: sql/ functions with SQL-standard bodies that call it (study_card_is_blank)
-- go too; re-applying the older release's sql/ recreates them.
DROP FUNCTION study_card_visible(text) CASCADE;
DROP FUNCTION study_card_letters(), study_card_spaces(), study_card_invisibles(), study_card_operators() CASCADE;
UPDATE study_memo_cards SET card_type = card_type;
UPDATE study_memo_cards c
   SET deleted_at = now(), retired_reason = 'duplicate', updated_at = now()
 WHERE c.deleted_at IS NULL
   AND EXISTS (SELECT FROM study_memo_cards o
                WHERE o.user_id = c.user_id AND o.norm_key = c.norm_key
                  AND o.deleted_at IS NULL AND o.id < c.id);
CREATE UNIQUE INDEX study_memo_cards_active_norm_key_uniq
    ON study_memo_cards (user_id, norm_key) WHERE deleted_at IS NULL;
REVOKE EXECUTE ON FUNCTION study_card_norm(text) FROM PUBLIC;
