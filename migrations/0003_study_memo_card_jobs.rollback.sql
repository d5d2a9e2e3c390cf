-- CASCADE: the views that sql/ defines over the queue (study_card_job_stats) go too.
DROP TABLE IF EXISTS study_memo_card_jobs CASCADE;
