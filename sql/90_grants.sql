-- What the worker's role may do: EXECUTE the worker's functions, by exact signature, and
-- nothing else: no privilege on any table (the writing functions are SECURITY DEFINER),
-- and every function's EXECUTE is revoked from PUBLIC where it is defined. It relies on
-- PUBLIC's default USAGE on schema public; a host that revoked that grants it by hand.
DO $$
DECLARE
    v_signature text;
BEGIN
    FOREACH v_signature IN ARRAY ARRAY[
        'study_card_claim(text, integer, interval)',
        'study_card_heartbeat(bigint, text, interval)',
        'study_card_release(bigint, text, interval)',
        'study_card_fail(bigint, text, text, text)',
        'study_card_enqueue(integer)',
        'study_card_reap()',
        'study_card_gather(bigint, integer, vector, text)',
        'commit_cards(bigint, text, jsonb, jsonb)',
        'study_card_check_result(bigint, text, jsonb)',
        'study_card_result_schema(integer)',
        'study_card_result_schema(bigint, integer, text)',
        'study_card_review_schema(integer)']
    LOOP
        IF to_regprocedure(v_signature) IS NOT NULL THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO study_card_worker', to_regprocedure(v_signature));
        ELSIF EXISTS (SELECT FROM pg_proc
                       WHERE pronamespace = 'public'::regnamespace AND proname = split_part(v_signature, '(', 1)) THEN
            -- installed with another signature: stop the whole apply, so that a changed
            -- signature cannot silently leave the worker without the right to call it
            RAISE EXCEPTION 'the worker function % is installed with another signature', v_signature
                USING HINT = 'update the list in sql/90_grants.sql to the new signature';
        ELSE  -- not installed at all: this file applies while a part is still missing
            RAISE NOTICE 'worker function % is not installed; no grant', v_signature;
        END IF;
    END LOOP;
END
$$;

-- The normaliser (migration 0002) and the dedup key (migration 0004), which the
-- generated column norm_key calls, were left executable by PUBLIC; revoked here so that
-- the worker role has its list and no more. commit_cards runs as their owner; a role
-- that writes study_memo_cards directly needs EXECUTE on them for the generated column.
REVOKE EXECUTE ON FUNCTION study_card_norm(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION study_card_norm_key(text, text, text, text) FROM PUBLIC;
