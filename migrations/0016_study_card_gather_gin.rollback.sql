-- Back to 0010's GiST indexes (as 0010 builds them), then the GIN ones dropped; yoyo pairs
-- these statements with 0016's in reverse order and runs them outside a transaction.
CREATE INDEX CONCURRENTLY IF NOT EXISTS study_card_subject_notes_body_trgm_idx
    ON study_subject_notes USING gist (body gist_trgm_ops);

CREATE INDEX CONCURRENTLY IF NOT EXISTS study_card_document_chunks_content_trgm_idx
    ON document_chunks USING gist (content gist_trgm_ops);

DROP INDEX CONCURRENTLY IF EXISTS study_card_subject_notes_body_gin_idx;

DROP INDEX CONCURRENTLY IF EXISTS study_card_document_chunks_content_gin_idx;
