-- A study server shaped otherwise than the baseline host (migration 0001), for
-- tests/test_host.py: the question's text is question_text, its choices options and its
-- answer correct_answer; explanations live in their own table, several per question,
-- the newest one current; notes are study_notes(owner_id, heading, content, edited_at,
-- removed_at); a question is archived rather than deleted, and its review note is a
-- column of its own.
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE users (id bigserial PRIMARY KEY, login text);
CREATE TABLE study_topics (id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                           name text NOT NULL);
CREATE TABLE study_questions (id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                              topic_id bigint REFERENCES study_topics(id), question_text text NOT NULL,
                              options jsonb, correct_answer text, archived boolean NOT NULL DEFAULT false,
                              review_note text);
CREATE TABLE study_question_explanations (id bigserial PRIMARY KEY,
                                          question_id bigint NOT NULL REFERENCES study_questions(id) ON DELETE CASCADE,
                                          body text NOT NULL, generated_at timestamptz NOT NULL DEFAULT now(), model text);
CREATE TABLE study_notes (id bigserial PRIMARY KEY, owner_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                          topic_id bigint REFERENCES study_topics(id), heading text NOT NULL DEFAULT '',
                          content text NOT NULL DEFAULT '', edited_at timestamptz NOT NULL DEFAULT now(),
                          removed_at timestamptz);
CREATE TABLE documents (id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                        title text NOT NULL DEFAULT '', updated_at timestamptz NOT NULL DEFAULT now(),
                        deleted_at timestamptz);
CREATE TABLE document_chunks (id bigserial PRIMARY KEY,
                              document_id bigint NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
                              ord integer NOT NULL DEFAULT 0, content text NOT NULL, embedding vector(1024));
