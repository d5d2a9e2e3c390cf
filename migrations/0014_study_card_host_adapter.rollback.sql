-- The adapter's views read host columns that the rollbacks of 0007 and 0001 remove.
DROP VIEW IF EXISTS study_card_review_queue, study_card_host_questions, study_card_host_notes,
    study_card_host_documents, study_card_host_chunks, study_card_host_topics;
