-- Runs first when every migration is rolled back. Besides this migration's indexes it
-- drops the views sql/60_cards.sql defines: study_card_review_queue reads
-- study_questions.needs_review*, which 0007's rollback removes and a view would block.
-- `./run schema` re-creates the views.
DROP VIEW IF EXISTS study_card_review_queue;
DROP VIEW IF EXISTS study_memo_cards_active;
DROP INDEX IF EXISTS study_card_subject_notes_body_trgm_idx;
DROP INDEX IF EXISTS study_card_document_chunks_content_trgm_idx;
DROP INDEX IF EXISTS study_card_subject_notes_embedding_idx;
DROP INDEX IF EXISTS study_card_document_chunks_embedding_idx;
