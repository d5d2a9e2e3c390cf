-- depends: 0007_host_columns
-- The queue columns added to the seed's job table: priority (focus), run_after
-- (backoff and debounce), and the lease (locked_by, lease_expires_at).
ALTER TABLE study_memo_card_jobs
    ADD COLUMN priority SMALLINT NOT NULL DEFAULT 0,
    ADD COLUMN run_after TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN locked_by TEXT,
    ADD COLUMN lease_expires_at TIMESTAMPTZ,
    ADD CONSTRAINT study_memo_card_jobs_status_check
        CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'skipped')),
    ADD CONSTRAINT study_memo_card_jobs_lease_check
        CHECK ((status = 'processing') = (locked_by IS NOT NULL AND lease_expires_at IS NOT NULL));

-- The claim path: pending jobs, highest priority first, then the oldest
-- (run_after <= now() is filtered on the way).
CREATE INDEX study_memo_card_jobs_claim_idx
    ON study_memo_card_jobs (priority DESC, id) WHERE status = 'pending';

-- Leases to take over: processing jobs by expiry.
CREATE INDEX study_memo_card_jobs_lease_idx
    ON study_memo_card_jobs (lease_expires_at) WHERE status = 'processing';
