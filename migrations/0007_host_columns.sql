-- depends: 0006_study_reminders
-- The columns this project adds to host tables: the topic in focus, and the
-- review flag that commit_cards sets on a question whose explanation looks wrong.
ALTER TABLE study_topics ADD COLUMN focused_at TIMESTAMPTZ;
ALTER TABLE study_questions ADD COLUMN needs_review BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE study_questions ADD COLUMN needs_review_reason TEXT;
ALTER TABLE study_questions ADD COLUMN needs_review_at TIMESTAMPTZ;
