-- Runs first when every migration is rolled back, like its migration outside a
-- transaction, one statement at a time. Besides this migration's indexes it drops the
-- views sql/60_cards.sql defines: study_card_review_queue reads
-- study_questions.needs_review*, which 0007's rollback removes and a view would block.
-- `./run schema` re-creates the views.
DROP VIEW IF EXISTS study_card_review_queue;
DROP VIEW IF EXISTS study_memo_cards_active;
-- The indexes go CONCURRENTLY, so the host's writes go on meanwhile.
DROP INDEX CONCURRENTLY IF EXISTS study_card_subject_notes_body_trgm_idx;
DROP INDEX CONCURRENTLY IF EXISTS study_card_document_chunks_content_trgm_idx;
DROP INDEX CONCURRENTLY IF EXISTS study_card_subject_notes_embedding_idx;
DROP INDEX CONCURRENTLY IF EXISTS study_card_document_chunks_embedding_idx;
-- yoyo pairs the last statements of a rollback file with the statements of the
-- migration, the last with the first, and when a statement of a non-transactional
-- migration fails, it runs the partners of those that succeeded. The four no-ops below
-- are those partners: a build that is interrupted keeps the indexes already built
-- (minutes of work on a large server); the next apply builds the rest and rebuilds the
-- interrupted one. Rolling the migration back runs this file top to bottom, as above.
DO $$ BEGIN END $$;
DO $$ BEGIN END $$;
DO $$ BEGIN END $$;
DO $$ BEGIN END $$;
