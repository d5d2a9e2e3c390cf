-- The view study_card_job_stats (sql/24_operations.sql) reads takeovers: it goes first
-- (`./run schema` re-creates it). 0008's lease check comes back.
DROP VIEW IF EXISTS study_card_job_stats;
ALTER TABLE study_memo_card_jobs
    DROP CONSTRAINT IF EXISTS study_memo_card_jobs_takeovers_check,
    DROP CONSTRAINT IF EXISTS study_memo_card_jobs_lease_check,
    DROP COLUMN IF EXISTS takeovers,
    DROP COLUMN IF EXISTS lease_renewed_at,
    DROP COLUMN IF EXISTS locked_by_role,
    ADD CONSTRAINT study_memo_card_jobs_lease_check
        CHECK ((status = 'processing') = (locked_by IS NOT NULL AND lease_expires_at IS NOT NULL));
