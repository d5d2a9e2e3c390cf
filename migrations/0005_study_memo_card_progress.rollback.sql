DROP TABLE IF EXISTS study_memo_card_progress;
