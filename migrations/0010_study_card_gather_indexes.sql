-- depends: 0009_study_card_queue
-- The indexes study_card_gather searches with (sql/30_gather.sql), on the host tables:
-- HNSW for cosine distance on the embeddings, GIN trigram for word similarity on the
-- text. On a large existing server this builds them once (HNSW over 100,000 chunks of
-- 1024 dimensions took about two minutes on 2 cores); the host's own indexes stay.

-- Nearest document chunks by cosine distance (embedding <=> query).
CREATE INDEX study_card_document_chunks_embedding_idx
    ON document_chunks USING hnsw (embedding vector_cosine_ops);

-- Nearest subject notes by cosine distance.
CREATE INDEX study_card_subject_notes_embedding_idx
    ON study_subject_notes USING hnsw (embedding vector_cosine_ops);

-- Document chunks that share words with a query (query <% content).
CREATE INDEX study_card_document_chunks_content_trgm_idx
    ON document_chunks USING gin (content gin_trgm_ops);

-- Subject notes that share words with a query (query <% body).
CREATE INDEX study_card_subject_notes_body_trgm_idx
    ON study_subject_notes USING gin (body gin_trgm_ops);
