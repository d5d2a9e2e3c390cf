-- Deliberately empty: the baseline only ever creates what the host lacks, and a
-- rollback must never delete a user's study data. The host tables, their rows and
-- the extensions stay. (yoyo needs one statement, so this file has an empty DO block.)
DO $$ BEGIN END $$;
