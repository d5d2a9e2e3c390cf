-- depends: 0003_study_memo_card_jobs
-- Memorization cards and their evidence. Only commit_cards() writes them.

-- study_card_norm_key(card_type, cue, answer, cloze_text) -> text: the dedup key of a
-- card, what it says normalised: 'qa:' || norm(cue) || '|' || norm(answer) for a qa
-- card, 'cloze:' || norm(cloze_text) otherwise (qa and cloze are separate key spaces).
-- The one definition: the generated column below and commit_cards' checks of an LLM
-- result both call it. The column depends on it, so it lives here.
CREATE FUNCTION study_card_norm_key(p_card_type text, p_cue text, p_answer text, p_cloze_text text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE p_card_type
    WHEN 'qa' THEN 'qa:' || study_card_norm(p_cue) || '|' || study_card_norm(p_answer)
    ELSE 'cloze:' || study_card_norm(p_cloze_text)
END;

CREATE TABLE study_memo_cards (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    source_kind VARCHAR(40) NOT NULL,
    source_id BIGINT NOT NULL,
    source_version TIMESTAMPTZ,
    job_id BIGINT REFERENCES study_memo_card_jobs(id) ON DELETE SET NULL,
    card_type VARCHAR(10) NOT NULL,
    cue TEXT,
    answer TEXT,
    cloze_text TEXT,
    norm_key TEXT GENERATED ALWAYS AS (study_card_norm_key(card_type, cue, answer, cloze_text)) STORED,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at TIMESTAMPTZ,
    retired_reason VARCHAR(40),
    superseded_by_job BIGINT REFERENCES study_memo_card_jobs(id) ON DELETE SET NULL,
    CONSTRAINT study_memo_cards_type_check CHECK (
        (card_type = 'qa' AND cue IS NOT NULL AND answer IS NOT NULL AND cloze_text IS NULL)
        OR (card_type = 'cloze' AND cloze_text IS NOT NULL AND cue IS NULL AND answer IS NULL)),
    CONSTRAINT study_memo_cards_retired_check CHECK (
        (deleted_at IS NULL) = (retired_reason IS NULL))
);

-- This prevents two active cards with the same content for one user (dedup);
-- retired cards and other users' cards do not count.
CREATE UNIQUE INDEX study_memo_cards_active_norm_key_uniq
    ON study_memo_cards (user_id, norm_key) WHERE deleted_at IS NULL;

-- The tombstones the user_deleted guard looks up: cards a user deleted are never recreated.
CREATE INDEX study_memo_cards_user_deleted_idx
    ON study_memo_cards (user_id, norm_key) WHERE retired_reason = 'user_deleted';

-- Active cards of a source: supersede reads them on every commit.
CREATE INDEX study_memo_cards_active_source_idx
    ON study_memo_cards (source_kind, source_id) WHERE deleted_at IS NULL;

CREATE TABLE study_memo_card_evidence (
    id BIGSERIAL PRIMARY KEY,
    card_id BIGINT NOT NULL REFERENCES study_memo_cards(id) ON DELETE CASCADE,
    source_kind VARCHAR(40) NOT NULL,
    source_id BIGINT NOT NULL,
    quote TEXT NOT NULL
);
CREATE INDEX study_memo_card_evidence_card_idx ON study_memo_card_evidence (card_id);
