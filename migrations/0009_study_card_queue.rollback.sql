-- Runs before the rollbacks of 0008 and 0007, which drop columns that sql/ objects of the
-- queue depend on: the view study_card_job_stats reads run_after and lease_expires_at
-- (0008), the trigger study_card_focus fires on study_topics.focused_at (0007).
-- The queue's functions and other triggers go with 0002's rollback (by name pattern).
DROP VIEW IF EXISTS study_card_job_stats;
DROP TRIGGER IF EXISTS study_card_focus ON study_topics;
