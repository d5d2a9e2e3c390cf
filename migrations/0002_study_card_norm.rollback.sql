-- Runs last when every migration is rolled back: besides the normaliser, drop the
-- repeatable objects that sql/ installed (functions named commit_cards or
-- study_card_*, trigger functions tg_<table>__study_card_*), with CASCADE so their triggers on
-- the host tables go too. The tables they used are already gone by then.
-- The role study_card_worker is cluster-wide and may serve other databases: it stays.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT p.oid::regprocedure AS signature
          FROM pg_proc p
         WHERE p.pronamespace = 'public'::regnamespace
           AND (p.proname = 'commit_cards'
                OR p.proname LIKE 'study\_card\_%'
                OR p.proname LIKE 'tg\_%\_\_study\_card\_%')
           AND p.proname <> 'study_card_norm'
    LOOP
        EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', r.signature);
    END LOOP;
END
$$;
DROP FUNCTION IF EXISTS study_card_norm(text);
