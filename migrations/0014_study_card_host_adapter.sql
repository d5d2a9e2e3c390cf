-- depends: 0013_study_card_vocabulary
-- The host adapter (sql/10_host.sql) is a repeatable definition: its views over the host
-- tables and its triggers. This migration exists for its rollback, which runs before
-- those that remove host columns the views read (0007: focused_at, needs_review*).
-- yoyo needs one statement, so this file has a no-op.
DO $$ BEGIN END $$;
