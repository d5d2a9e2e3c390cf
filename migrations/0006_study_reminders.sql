-- depends: 0005_study_memo_card_progress
-- Study reminders. Dormant in phase 1: created, not yet written.
CREATE TABLE study_reminders (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    topic_id BIGINT REFERENCES study_topics(id) ON DELETE CASCADE,
    card_id BIGINT REFERENCES study_memo_cards(id) ON DELETE CASCADE,
    remind_at TIMESTAMPTZ NOT NULL,
    channel VARCHAR(40) NOT NULL DEFAULT 'app',
    sent_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at TIMESTAMPTZ
);
CREATE INDEX study_reminders_due_idx ON study_reminders (remind_at)
    WHERE sent_at IS NULL AND deleted_at IS NULL;
