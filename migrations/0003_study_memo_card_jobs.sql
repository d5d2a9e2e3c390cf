-- depends: 0002_study_card_norm
-- The seed's 291_study_memo_card_jobs.sql, column for column: the card_extract queue.
-- Lifecycle: pending -> processing -> completed | failed | skipped.
-- source_kind/source_id is a polymorphic reference (question | subject_note | document);
-- source_version is the source's version timestamp, the idempotency key.
CREATE TABLE IF NOT EXISTS study_memo_card_jobs (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    source_kind VARCHAR(40) NOT NULL,
    source_id BIGINT NOT NULL,
    source_version TIMESTAMPTZ,
    kind VARCHAR(40) NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'pending',
    attempts SMALLINT NOT NULL DEFAULT 0,
    max_attempts SMALLINT NOT NULL DEFAULT 2,
    error_code VARCHAR(40),
    error_message TEXT,
    payload JSONB,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at TIMESTAMPTZ,
    completed_at TIMESTAMPTZ
);

-- This prevents two jobs for the same source version (the trigger, the sweep and
-- study_card_request all insert ... ON CONFLICT DO NOTHING against it).
CREATE UNIQUE INDEX study_memo_card_jobs_version_uniq
    ON study_memo_card_jobs (source_kind, source_id, source_version, kind) NULLS NOT DISTINCT;
