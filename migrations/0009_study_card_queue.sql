-- depends: 0008_study_memo_card_jobs_queue
-- The queue (sql/20_enqueue.sql, 22_claim.sql, 24_operations.sql) needs no DDL of its
-- own: its functions, triggers and the view study_card_job_stats are repeatable
-- definitions. This migration exists for its rollback, which runs before those of 0008
-- and 0007 and drops the two objects that depend on columns they remove. yoyo needs one
-- statement, so this file has a no-op.
DO $$ BEGIN END $$;
