-- Back to 0012: 0008's status check, no error-code check, no lookup tables. The views
-- of sql/24_operations.sql that read the tables go first (`./run schema` of the older
-- release re-creates study_card_job_stats). Codes mapped to unknown stay unknown.
DROP VIEW IF EXISTS study_card_drop_stats;
DROP VIEW IF EXISTS study_card_job_stats;
ALTER TABLE study_memo_card_jobs
    DROP CONSTRAINT IF EXISTS study_memo_card_jobs_error_code_check,
    DROP CONSTRAINT IF EXISTS study_memo_card_jobs_status_check,
    ADD CONSTRAINT study_memo_card_jobs_status_check
        CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'skipped'));
DROP TABLE IF EXISTS study_card_drop_reasons;
DROP TABLE IF EXISTS study_card_error_codes;
DROP TABLE IF EXISTS study_card_job_statuses;
