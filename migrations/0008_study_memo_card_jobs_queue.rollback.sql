DROP INDEX IF EXISTS study_memo_card_jobs_lease_idx;
DROP INDEX IF EXISTS study_memo_card_jobs_claim_idx;
ALTER TABLE study_memo_card_jobs
    DROP CONSTRAINT IF EXISTS study_memo_card_jobs_lease_check,
    DROP CONSTRAINT IF EXISTS study_memo_card_jobs_status_check,
    DROP COLUMN IF EXISTS lease_expires_at,
    DROP COLUMN IF EXISTS locked_by,
    DROP COLUMN IF EXISTS run_after,
    DROP COLUMN IF EXISTS priority;
