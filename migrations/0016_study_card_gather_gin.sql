-- transactional: false
-- depends: 0014_study_card_host_adapter
-- Gather's lexical search (study_card_related_by_text, sql/30_gather.sql) takes a capped
-- number of trigram candidates from a GIN index instead of walking a GiST index nearest
-- first: on 40-word chunks GiST's signatures are dense, so its nearest-first scan visited
-- most of the index and grew with the chunk count (bench/README.md, "gather"). GIN is
-- also half the size (48 MB against 97 MB at 100,000 chunks). The GiST indexes of 0010
-- are unused after this and are dropped: they cost the host's writes of chunks and notes.
-- Built CONCURRENTLY, outside a transaction (yoyo's "transactional: false"), one index per
-- statement, so the host keeps writing chunks and notes meanwhile (at 100,000 chunks:
-- about 15 s). IF NOT EXISTS: a re-run after an interruption skips what is there. An
-- interrupted CREATE INDEX CONCURRENTLY leaves an INVALID index under its name, which IF
-- NOT EXISTS would keep: drop it (DROP INDEX CONCURRENTLY name) before running again.

-- Document chunks by trigram word similarity (query <% content), GIN candidates.
CREATE INDEX CONCURRENTLY IF NOT EXISTS study_card_document_chunks_content_gin_idx
    ON document_chunks USING gin (content gin_trgm_ops);

-- Subject notes likewise (query <% body).
CREATE INDEX CONCURRENTLY IF NOT EXISTS study_card_subject_notes_body_gin_idx
    ON study_subject_notes USING gin (body gin_trgm_ops);

DROP INDEX CONCURRENTLY IF EXISTS study_card_document_chunks_content_trgm_idx;

DROP INDEX CONCURRENTLY IF EXISTS study_card_subject_notes_body_trgm_idx;
