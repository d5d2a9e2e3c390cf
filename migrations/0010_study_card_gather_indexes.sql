-- depends: 0009_study_card_queue
-- transactional: false
-- The indexes study_card_gather searches with (sql/30_gather.sql), on the host tables:
-- HNSW for cosine distance on the embeddings, GiST trigram for word distance on the
-- text. On a large existing server this builds them once (HNSW over 100,000 chunks of
-- 1024 dimensions took about two minutes on 2 cores); the host's own indexes stay.
--
-- Built CONCURRENTLY (issue 14): a plain CREATE INDEX holds a SHARE lock on the table
-- for the whole build, which stops every INSERT, UPDATE and DELETE of the host's
-- document_chunks or study_subject_notes for minutes; CREATE INDEX CONCURRENTLY takes
-- SHARE UPDATE EXCLUSIVE, which no write waits for. It cannot run in a transaction
-- block, hence `transactional: false` above: yoyo runs each statement on its own, in
-- autocommit, one index per statement. IF NOT EXISTS: an index already there (built by
-- an interrupted run of this migration, or by the host) is kept. An index that an
-- interrupted build left INVALID is dropped and built again, concurrently, by the next
-- `schema apply` (study_cards/schema.py, repair_invalid_indexes), before migrations run.
-- study_cards.schema applies this migration with no lock_timeout or statement_timeout:
-- while it waits for running transactions it blocks nobody, and a timeout would throw a
-- finished build away; it prints the build's progress instead.
--
-- This file was changed after release, on purpose. Its first release built the same
-- four indexes (same names, same definitions) with plain CREATE INDEX in one
-- transaction. yoyo identifies a migration by the hash of its id (the file name), never
-- of its text, so an install that applied the first version keeps its indexes and never
-- runs this file again; an install that has not applied it yet gets the same indexes
-- without stalling its writers. A new migration instead could not help: every new
-- install would still run the blocking 0010 first.

-- Nearest document chunks by cosine distance (embedding <=> query).
CREATE INDEX CONCURRENTLY IF NOT EXISTS study_card_document_chunks_embedding_idx
    ON document_chunks USING hnsw (embedding vector_cosine_ops);

-- Nearest subject notes by cosine distance.
CREATE INDEX CONCURRENTLY IF NOT EXISTS study_card_subject_notes_embedding_idx
    ON study_subject_notes USING hnsw (embedding vector_cosine_ops);

-- Document chunks nearest a query by trigram word distance (ORDER BY query <<-> content
-- LIMIT n, filtered by query <% content). GiST, not GIN: GiST returns rows in distance
-- order and stops after n, while a GIN bitmap scan hands back every candidate sharing a
-- trigram, each rechecked (measured at 100,000 chunks: p50 126 ms against 490 ms).
CREATE INDEX CONCURRENTLY IF NOT EXISTS study_card_document_chunks_content_trgm_idx
    ON document_chunks USING gist (content gist_trgm_ops);

-- Subject notes nearest a query by trigram word distance, likewise.
CREATE INDEX CONCURRENTLY IF NOT EXISTS study_card_subject_notes_body_trgm_idx
    ON study_subject_notes USING gist (body gist_trgm_ops);
