DROP TABLE IF EXISTS study_memo_card_evidence CASCADE;
DROP TABLE IF EXISTS study_memo_cards CASCADE;
