DROP TABLE IF EXISTS study_memo_card_evidence CASCADE;
DROP TABLE IF EXISTS study_memo_cards CASCADE;
DROP FUNCTION IF EXISTS study_card_norm_key(text, text, text, text);
