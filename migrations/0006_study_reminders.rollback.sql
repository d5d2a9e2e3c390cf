DROP TABLE IF EXISTS study_reminders;
