ALTER TABLE study_questions DROP COLUMN IF EXISTS needs_review_at;
ALTER TABLE study_questions DROP COLUMN IF EXISTS needs_review_reason;
ALTER TABLE study_questions DROP COLUMN IF EXISTS needs_review;
ALTER TABLE study_topics DROP COLUMN IF EXISTS focused_at;
