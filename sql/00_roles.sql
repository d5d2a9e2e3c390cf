-- The worker's database role, study_card_worker (NOLOGIN), created if missing.
-- Roles are cluster-wide, so the applying role needs CREATEROLE.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'study_card_worker') THEN
        CREATE ROLE study_card_worker NOLOGIN;
    END IF;
END
$$;
