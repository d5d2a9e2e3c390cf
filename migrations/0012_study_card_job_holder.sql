-- depends: 0011_study_card_norm_v2
-- Who holds a job, and what happened to its leases (issue 11):
--   locked_by_role    the login role (session_user) of the session that claimed the job:
--                     a worker holds a job by its name *and* this role, so one member of
--                     study_card_worker cannot act for another by passing its name
--   lease_renewed_at  when the lease was last set (claim, heartbeat): a lease is over at
--                     least(lease_expires_at, lease_renewed_at + study_card_max_lease()),
--                     so no stored lease, however long, keeps a job from a takeover
--   takeovers         how many times the job's lease expired and the job was taken from
--                     its worker (by a claim or study_card_reap), over the job's life;
--                     error_code lease_expired records only the last attempt, and a later
--                     completion overwrites it
-- A processing job has all four holder columns set; any other status has no locked_by
-- and no lease_expires_at (locked_by_role and lease_renewed_at stay as the record of
-- the last attempt, like started_at). This replaces 0008's check, which let a job that
-- left processing keep one of locked_by / lease_expires_at.
-- Jobs that are processing while this runs have no recorded role: they go back to
-- pending as study_card_release would (the attempt not counted); their worker's next
-- call is refused (55000) and the next claim runs them again.
UPDATE study_memo_card_jobs
   SET status = 'pending', attempts = greatest(attempts - 1, 0), run_after = now(),
       locked_by = NULL, lease_expires_at = NULL
 WHERE status = 'processing';
UPDATE study_memo_card_jobs
   SET locked_by = NULL, lease_expires_at = NULL
 WHERE locked_by IS NOT NULL OR lease_expires_at IS NOT NULL;

ALTER TABLE study_memo_card_jobs
    ADD COLUMN locked_by_role TEXT,
    ADD COLUMN lease_renewed_at TIMESTAMPTZ,
    ADD COLUMN takeovers INTEGER NOT NULL DEFAULT 0,
    DROP CONSTRAINT study_memo_card_jobs_lease_check,
    ADD CONSTRAINT study_memo_card_jobs_lease_check CHECK (
        CASE WHEN status = 'processing'
             THEN num_nulls(locked_by, locked_by_role, lease_expires_at, lease_renewed_at) = 0
             ELSE num_nonnulls(locked_by, lease_expires_at) = 0
        END),
    ADD CONSTRAINT study_memo_card_jobs_takeovers_check CHECK (takeovers >= 0);
