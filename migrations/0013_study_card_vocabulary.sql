-- depends: 0012_study_card_job_holder
-- One vocabulary (issue 12): the job statuses, the error codes and the card drop reasons,
-- each with what it means, in three lookup tables. Every function and view that needs a
-- list of them reads these tables (sql/22_claim.sql, sql/24_operations.sql);
-- docs/vocabulary.md shows the same rows (tests/test_vocabulary.py compares them).
-- The tables are the owner's alone: no privilege for PUBLIC or the worker role (the
-- functions that read them run as the owner: SECURITY DEFINER or called by one; the
-- views run as their owner).
-- A later migration that adds or removes a row re-runs the DO block at the end of this
-- file (the constraints are generated from the rows).

-- study_card_job_statuses: one row per job status.
--   status           the value of study_memo_card_jobs.status
--   lifecycle_order  its place in pending -> processing -> completed | failed | skipped
--                    (the order the stats view and the docs list them in)
--   terminal         no claim, worker or sweep moves a job on from here; only
--                    study_card_request (and study_card_retry for failed) reopen it
CREATE TABLE study_card_job_statuses (
    status VARCHAR(20) PRIMARY KEY,
    lifecycle_order SMALLINT NOT NULL UNIQUE,
    terminal BOOLEAN NOT NULL,
    meaning TEXT NOT NULL
);

-- study_card_error_codes: one row per value of study_memo_card_jobs.error_code.
--   retryable    true: the attempt ends with the job back to pending (after a backoff)
--                while attempts < max_attempts, else closed with closes_with;
--                false: the job is closed with closes_with at once
--   closes_with  the terminal status the code closes a job with
--   recorded_by  worker: a worker records it, through study_card_fail (the only codes
--                it may record); database: only the database's functions record it
CREATE TABLE study_card_error_codes (
    code VARCHAR(40) PRIMARY KEY,
    retryable BOOLEAN NOT NULL,
    closes_with VARCHAR(20) NOT NULL REFERENCES study_card_job_statuses (status),
    recorded_by TEXT NOT NULL CHECK (recorded_by IN ('database', 'worker')),
    meaning TEXT NOT NULL,
    -- A code the worker may record is retryable: the codes that end a job for good are
    -- the database's alone (a worker could otherwise close a current version for good).
    CHECK (recorded_by = 'database' OR retryable)
);

-- study_card_drop_reasons: why commit_cards dropped a card (payload->'report'->'dropped'
-- [].reason; not stored in a column). guard_order: a card failing several guards is
-- dropped with the one of the lowest order.
CREATE TABLE study_card_drop_reasons (
    reason VARCHAR(40) PRIMARY KEY,
    guard_order SMALLINT NOT NULL UNIQUE,
    meaning TEXT NOT NULL
);

REVOKE ALL ON TABLE study_card_job_statuses, study_card_error_codes, study_card_drop_reasons FROM PUBLIC;

INSERT INTO study_card_job_statuses (status, lifecycle_order, terminal, meaning) VALUES
    ('pending', 1, false, 'Waiting for a worker: claimable once run_after has come (new, backing off after a retryable error, released, or requested again).'),
    ('processing', 2, false, 'Claimed: a worker holds it under a lease; when the lease is over, the next claim takes it over.'),
    ('completed', 3, true, 'commit_cards wrote the result (error_code all_dropped when no card survived); the version is not extracted again unless requested.'),
    ('failed', 4, true, 'Out of attempts after retryable errors; study_card_retry and study_card_retry_failed put it back.'),
    ('skipped', 5, true, 'Closed without a result: the source is gone, has no explanation, or has moved on to another version.');

INSERT INTO study_card_error_codes (code, retryable, closes_with, recorded_by, meaning) VALUES
    ('parse_fail', true, 'failed', 'worker', 'The LLM''s output is not JSON of the card shape (commit_cards refused it with 22023).'),
    ('llm_timeout', true, 'failed', 'worker', 'The LLM call timed out.'),
    ('unknown', true, 'failed', 'worker', 'Anything else unexpected during the attempt.'),
    ('lease_expired', true, 'failed', 'database', 'The worker holding the job vanished: its lease ran out and a claim (or study_card_reap) took the job over; the lost attempt counts.'),
    ('all_dropped', false, 'completed', 'database', 'The LLM answered but no card passed the guards; completed, so the version is not extracted again.'),
    ('no_ready_explanation', false, 'skipped', 'database', 'The source has no explanation (or text) to extract from.'),
    ('stale_version', false, 'skipped', 'database', 'The source changed after the job was made; the newer version has a job of its own.'),
    ('source_deleted', false, 'skipped', 'database', 'The source row is gone or soft-deleted.');

INSERT INTO study_card_drop_reasons (reason, guard_order, meaning) VALUES
    ('invalid_shape', 1, 'A missing field, a wrong type, empty or over-long text, bidi controls, or a card past the per-result limit.'),
    ('evidence_missing', 2, 'The card cites no evidence.'),
    ('evidence_foreign', 3, 'The card cites a handle that gather did not record on the job.'),
    ('evidence_not_found', 4, 'A quote is not in the text of the source it cites (compared after study_card_norm).'),
    ('quantity_unsupported', 5, 'A number in the card (with its unit) is not in the cited quotes.'),
    ('cue_leaks_answer', 6, 'The answer is visible in the cue.'),
    ('cloze_malformed', 7, 'A cloze card with no valid deletion.'),
    ('cloze_leaks_answer', 8, 'A deleted answer is still visible in the rest of the sentence or in its hint.'),
    ('duplicate_in_batch', 9, 'The same card as, or a near-duplicate of, a card kept earlier from the same result.'),
    ('duplicate', 10, 'The same card as, or a near-duplicate of, an active card of the user from another source.'),
    ('user_deleted', 11, 'The user deleted this card before; it is never recreated.'),
    ('review_rejected', 12, 'The optional review pass (a second LLM call on the cards that passed) rejected it; not emitted yet.');

-- study_card_job_stats (sql/24_operations.sql) gains the terminal and retryable columns
-- next to status and error_code: it goes first (`./run schema` re-creates it).
DROP VIEW IF EXISTS study_card_job_stats;

-- A job table that existed before this project (the seed's error codes were only
-- "recommended") may hold codes outside the vocabulary: they become unknown, the old code
-- kept at the front of error_message.
UPDATE study_memo_card_jobs
   SET error_code = 'unknown', error_message = format('[%s] %s', error_code, error_message)
 WHERE error_code IS NOT NULL
   AND error_code NOT IN (SELECT code FROM study_card_error_codes);

-- status and error_code take only the vocabulary's values: CHECK constraints generated
-- from the rows, not foreign keys, because they cost the host's write path nothing:
-- the version update of 100,000 questions (the trigger enqueues 100,000 jobs) took +1%
-- with these CHECKs and +25% with foreign keys, over 0008's status check alone; the
-- trigger's close of 100,000 stale pending jobs +0% and +100% (bench/README.md).
-- A foreign key is a row trigger per written job that reads and KEY SHARE-locks a row
-- of the lookup table (every enqueue the same 'pending' row); a CHECK is an expression.
-- The price: a row added to or removed from a lookup table reaches the constraints only
-- when this block runs again (tests/test_vocabulary.py compares them with the rows).
-- error_code NULL passes (no error). Replaces 0008's hand-written status check.
DO $$
BEGIN
    EXECUTE format(
        'ALTER TABLE study_memo_card_jobs'
        ' DROP CONSTRAINT IF EXISTS study_memo_card_jobs_status_check,'
        ' DROP CONSTRAINT IF EXISTS study_memo_card_jobs_error_code_check,'
        ' ADD CONSTRAINT study_memo_card_jobs_status_check CHECK (status IN (%s)),'
        ' ADD CONSTRAINT study_memo_card_jobs_error_code_check CHECK (error_code IN (%s))',
        (SELECT string_agg(quote_literal(status), ', ' ORDER BY lifecycle_order) FROM study_card_job_statuses),
        (SELECT string_agg(quote_literal(code), ', ' ORDER BY code) FROM study_card_error_codes));
END
$$;
