-- depends: 0004_study_memo_cards
-- Spaced-repetition state per user and card (FSRS fields). Dormant in phase 1:
-- created, not yet written. Supersede keeps a reproduced card's id, so its row here
-- survives a regenerated explanation.
CREATE TABLE study_memo_card_progress (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    card_id BIGINT NOT NULL REFERENCES study_memo_cards(id) ON DELETE CASCADE,
    state VARCHAR(20) NOT NULL DEFAULT 'new',
    stability DOUBLE PRECISION,
    difficulty DOUBLE PRECISION,
    due_at TIMESTAMPTZ,
    last_reviewed_at TIMESTAMPTZ,
    reps INTEGER NOT NULL DEFAULT 0,
    lapses INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- This prevents two progress rows for one user's card.
    CONSTRAINT study_memo_card_progress_user_card_uniq UNIQUE (user_id, card_id)
);
CREATE INDEX study_memo_card_progress_due_idx ON study_memo_card_progress (user_id, due_at);
