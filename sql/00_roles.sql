-- The worker's database role: created if missing (roles are cluster-wide; needs CREATEROLE).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'study_card_worker') THEN
        CREATE ROLE study_card_worker NOLOGIN;
    END IF;
END
$$;
