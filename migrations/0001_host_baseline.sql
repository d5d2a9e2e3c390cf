-- The host tables this project reads, as a study server already has them.
-- Every statement is IF NOT EXISTS: on a real study server it changes nothing that
-- is there (extra host columns, rows, indexes stay untouched); on an empty database
-- it creates a minimal host so the project runs on its own (tests, the demo).
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE IF NOT EXISTS users (
    id bigserial PRIMARY KEY,
    email text,
    display_name text,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS study_topics (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS study_questions (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    topic_id bigint REFERENCES study_topics(id) ON DELETE SET NULL,
    stem text NOT NULL,
    choices jsonb,
    answer text,
    ai_explanation text,
    ai_explanation_generated_at timestamptz,
    embedding vector(1024),
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
-- Columns this project reads that an older host table may lack.
ALTER TABLE study_questions ADD COLUMN IF NOT EXISTS ai_explanation text;
ALTER TABLE study_questions ADD COLUMN IF NOT EXISTS ai_explanation_generated_at timestamptz;
ALTER TABLE study_questions ADD COLUMN IF NOT EXISTS embedding vector(1024);
ALTER TABLE study_questions ADD COLUMN IF NOT EXISTS deleted_at timestamptz;

CREATE TABLE IF NOT EXISTS study_subject_notes (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    topic_id bigint REFERENCES study_topics(id) ON DELETE SET NULL,
    title text NOT NULL DEFAULT '',
    body text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now(),
    embedding vector(1024),
    deleted_at timestamptz
);
ALTER TABLE study_subject_notes ADD COLUMN IF NOT EXISTS embedding vector(1024);
ALTER TABLE study_subject_notes ADD COLUMN IF NOT EXISTS deleted_at timestamptz;

CREATE TABLE IF NOT EXISTS documents (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
ALTER TABLE documents ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE documents ADD COLUMN IF NOT EXISTS deleted_at timestamptz;

CREATE TABLE IF NOT EXISTS document_chunks (
    id bigserial PRIMARY KEY,
    document_id bigint NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ord integer NOT NULL DEFAULT 0,
    content text NOT NULL,
    embedding vector(1024)
);
ALTER TABLE document_chunks ADD COLUMN IF NOT EXISTS embedding vector(1024);
