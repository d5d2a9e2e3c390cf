CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;

CREATE FUNCTION public.commit_cards(p_job_id bigint, p_worker text, p_result jsonb) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    c_max_cards constant integer := 20;
    v_job study_memo_card_jobs;
    v_review_reason text;
    v_problem text;
    v_handles jsonb;
    v_card jsonb;
    v_index integer;
    v_reason text;
    v_detail text;
    v_key text;
    v_other record;
    v_passed jsonb := '{}';      -- norm_key -> index of the first card that passed study_card_check
    v_survivors jsonb := '[]';   -- [{"index", "key", "card"}] in result order
    v_dropped jsonb := '[]';
    v_cue text;
    v_answer text;
    v_cloze_text text;
    v_card_id bigint;
    v_kept bigint[] := '{}';
    v_retired bigint[];
    v_report jsonb;
BEGIN
    v_job := study_card_held_job(p_job_id, p_worker);
    IF jsonb_typeof(p_result) IS DISTINCT FROM 'object' OR jsonb_typeof(p_result -> 'cards') IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'the result must be a JSON object {"cards": [...]}'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('got %s', coalesce(left(p_result::text, 200), 'SQL NULL'));
    END IF;
    v_review_reason := study_card_review_reason(p_result -> 'needs_review');

    -- The lock first, then the version: a commit that waited here behind another one
    -- of the user must see a version that changed meanwhile, or it would write cards
    -- of the old version over (and retire) those of a newer job committed just before.
    PERFORM pg_advisory_xact_lock(hashtextextended('study_card_commit user ' || v_job.user_id, 0));
    v_problem := study_card_source_problem(v_job.source_kind, v_job.source_id, v_job.source_version);
    IF v_problem IS NOT NULL THEN
        v_report := study_card_close_job(v_job.id, 'skipped', v_problem,
                                         format('the source is %s', replace(v_problem, '_', ' ')), '{}', '{}', '[]');
        PERFORM study_card_carry_request(v_job.id);
        RETURN v_report;
    END IF;

    v_handles := coalesce(v_job.payload -> 'handles', '{}');

    FOR v_card, v_index IN
        SELECT c.value, c.ord - 1 FROM jsonb_array_elements(p_result -> 'cards') WITH ORDINALITY AS c(value, ord)
    LOOP
        IF v_index >= c_max_cards THEN
            v_reason := 'invalid_shape';
            v_detail := format('card %s is past the limit of %s cards per result', v_index, c_max_cards);
        ELSE
            SELECT g.reason, g.detail INTO v_reason, v_detail FROM study_card_check(v_card, v_handles) AS g;
        END IF;
        IF v_reason IS NULL THEN
            v_key := study_card_norm_key(v_card);
            IF v_passed ? v_key THEN
                v_reason := 'duplicate_in_batch';
                v_detail := format('same card as card %s of this result', v_passed ->> v_key);
            ELSE
                v_passed := v_passed || jsonb_build_object(v_key, v_index);
                SELECT c.id, c.source_kind, c.source_id INTO v_other
                  FROM study_memo_cards c
                 WHERE c.user_id = v_job.user_id AND c.norm_key = v_key AND c.deleted_at IS NULL
                   AND (c.source_kind, c.source_id) IS DISTINCT FROM (v_job.source_kind, v_job.source_id);
                IF FOUND THEN
                    v_reason := 'duplicate';
                    v_detail := format('card %s (from %s %s) says the same', v_other.id, v_other.source_kind, v_other.source_id);
                ELSE
                    SELECT c.id, c.source_kind, c.source_id INTO v_other
                      FROM study_memo_cards c
                     WHERE c.user_id = v_job.user_id AND c.norm_key = v_key AND c.retired_reason = 'user_deleted'
                     ORDER BY c.id DESC
                     LIMIT 1;
                    IF FOUND THEN
                        v_reason := 'user_deleted';
                        v_detail := format('the user deleted this card (card %s)', v_other.id);
                    END IF;
                END IF;
            END IF;
        END IF;
        IF v_reason IS NULL THEN
            v_survivors := v_survivors || jsonb_build_array(jsonb_build_object('index', v_index, 'key', v_key, 'card', v_card));
        ELSE
            v_dropped := v_dropped || jsonb_build_array(jsonb_build_object('index', v_index, 'reason', v_reason, 'detail', v_detail));
        END IF;
    END LOOP;

    FOR v_card, v_key IN
        SELECT s.value -> 'card', s.value ->> 'key' FROM jsonb_array_elements(v_survivors) WITH ORDINALITY AS s(value, ord) ORDER BY s.ord
    LOOP
        -- Only the fields of the card's type: the others are unknown keys, ignored.
        v_cue := CASE v_card ->> 'type' WHEN 'qa' THEN btrim(v_card ->> 'cue') END;
        v_answer := CASE v_card ->> 'type' WHEN 'qa' THEN btrim(v_card ->> 'answer') END;
        v_cloze_text := CASE v_card ->> 'type' WHEN 'cloze' THEN btrim(v_card ->> 'text') END;
        UPDATE study_memo_cards
           SET cue = v_cue, answer = v_answer, cloze_text = v_cloze_text,
               source_version = v_job.source_version, job_id = v_job.id, updated_at = now()
         WHERE user_id = v_job.user_id AND norm_key = v_key AND deleted_at IS NULL
           AND source_kind = v_job.source_kind AND source_id = v_job.source_id
        RETURNING id INTO v_card_id;
        IF FOUND THEN
            DELETE FROM study_memo_card_evidence WHERE card_id = v_card_id;
        ELSE
            INSERT INTO study_memo_cards (user_id, source_kind, source_id, source_version, job_id,
                                          card_type, cue, answer, cloze_text)
            VALUES (v_job.user_id, v_job.source_kind, v_job.source_id, v_job.source_version, v_job.id,
                    v_card ->> 'type', v_cue, v_answer, v_cloze_text)
            RETURNING id INTO v_card_id;
        END IF;
        INSERT INTO study_memo_card_evidence (card_id, source_kind, source_id, quote)
        SELECT v_card_id, e.kind, e.id, e.quote  -- in the card's order, each quote once
          FROM (SELECT v_handles -> (item.value ->> 'source') ->> 'kind' AS kind,
                       (v_handles -> (item.value ->> 'source') ->> 'id')::bigint AS id,
                       btrim(item.value ->> 'quote') AS quote, min(item.ord) AS first
                  FROM jsonb_array_elements(v_card -> 'evidence') WITH ORDINALITY AS item(value, ord)
                 GROUP BY 1, 2, 3) AS e
         ORDER BY e.first;
        v_kept := v_kept || v_card_id;
    END LOOP;

    WITH retired AS (
        UPDATE study_memo_cards
           SET deleted_at = now(), retired_reason = 'superseded', superseded_by_job = v_job.id, updated_at = now()
         WHERE source_kind = v_job.source_kind AND source_id = v_job.source_id AND deleted_at IS NULL
           AND id <> ALL (v_kept)
        RETURNING id)
    SELECT coalesce(array_agg(id ORDER BY id), '{}') INTO v_retired FROM retired;

    IF v_job.source_kind = 'question' AND (v_review_reason IS NOT NULL OR cardinality(v_kept) = 0) THEN
        UPDATE study_questions
           SET needs_review = true, needs_review_reason = coalesce(v_review_reason, 'all_dropped'), needs_review_at = now()
         WHERE id = v_job.source_id;
    END IF;

    RETURN study_card_close_job(
        v_job.id, 'completed',
        CASE WHEN cardinality(v_kept) = 0 THEN 'all_dropped' END,
        CASE WHEN cardinality(v_kept) = 0
             THEN format('no card passed the guards (%s dropped)', jsonb_array_length(v_dropped)) END,
        v_kept, v_retired, v_dropped);
END
$$;

CREATE FUNCTION public.study_card_card_text(p_card jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT CASE p_card ->> 'type'
        WHEN 'qa' THEN concat_ws(E'\n', p_card ->> 'cue', p_card ->> 'answer')
        ELSE regexp_replace(p_card ->> 'text', '\{\{[ \t]*c[0-9]+::|::|[{}]', ' ', 'g')
    END
$$;

CREATE FUNCTION public.study_card_carry_request(p_job_id bigint) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_new_id bigint;
BEGIN
    INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind, priority)
    SELECT j.user_id, j.source_kind, j.source_id, s.version, j.kind, j.priority
      FROM study_memo_card_jobs j
     CROSS JOIN LATERAL study_card_source(j.source_kind, j.source_id) AS s
     WHERE j.id = p_job_id AND j.source_kind = 'document' AND j.error_code = 'stale_version'
       AND j.status = 'skipped' AND s.version IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING id INTO v_new_id;
    PERFORM study_card_notify(CASE WHEN v_new_id IS NULL THEN 0 ELSE 1 END);
    RETURN v_new_id;
END
$$;

CREATE FUNCTION public.study_card_check(p_card jsonb, p_handles jsonb, OUT reason text, OUT detail text) RETURNS record
    LANGUAGE plpgsql STABLE
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_evidence jsonb := coalesce(nullif(p_card -> 'evidence', 'null'), '[]');
    v_item jsonb;
    v_index integer;
    v_source jsonb;
    v_text text;
    v_missing text[];
BEGIN
    detail := study_card_shape_problem(p_card);
    IF detail IS NOT NULL THEN
        reason := 'invalid_shape';
        RETURN;
    END IF;
    IF jsonb_array_length(v_evidence) = 0 THEN
        reason := 'evidence_missing';
        detail := 'the card cites no evidence';
        RETURN;
    END IF;
    FOR v_item, v_index IN
        SELECT e.value, e.ord - 1 FROM jsonb_array_elements(v_evidence) WITH ORDINALITY AS e(value, ord)
    LOOP
        v_source := CASE WHEN jsonb_typeof(v_item -> 'source') = 'string'
                         THEN p_handles -> (v_item ->> 'source') END;
        IF jsonb_typeof(v_source) IS DISTINCT FROM 'object' THEN
            reason := 'evidence_foreign';
            detail := format('evidence %s cites %s, which is not a source gathered for this job',
                             v_index, v_item -> 'source');
            RETURN;
        END IF;
    END LOOP;
    FOR v_item, v_index IN
        SELECT e.value, e.ord - 1 FROM jsonb_array_elements(v_evidence) WITH ORDINALITY AS e(value, ord)
    LOOP
        v_source := p_handles -> (v_item ->> 'source');
        v_text := study_card_source_text(v_source ->> 'kind', (v_source ->> 'id')::bigint);
        IF coalesce(strpos(study_card_norm(v_text), study_card_norm(v_item ->> 'quote')), 0) = 0 THEN
            reason := 'evidence_not_found';
            detail := format('evidence %s: the quote is not in %s', v_index, v_item ->> 'source');
            RETURN;
        END IF;
        v_missing := study_card_unsupported_quantities(v_item ->> 'quote', v_text);
        IF cardinality(v_missing) > 0 THEN
            reason := 'evidence_not_found';
            detail := format('evidence %s: the quote''s number %s is not a number of %s',
                             v_index, array_to_string(v_missing, ', '), v_item ->> 'source');
            RETURN;
        END IF;
    END LOOP;
    v_missing := study_card_unsupported_quantities(
        study_card_card_text(p_card),
        (SELECT string_agg(e.value ->> 'quote', E'\n') FROM jsonb_array_elements(v_evidence) AS e));
    IF cardinality(v_missing) > 0 THEN
        reason := 'quantity_unsupported';
        detail := array_to_string(v_missing, ', ') || ' not in evidence';
        RETURN;
    END IF;
    IF p_card ->> 'type' = 'qa' THEN
        IF study_card_leaks(p_card ->> 'answer', p_card ->> 'cue') THEN
            reason := 'cue_leaks_answer';
            detail := format('the answer "%s" is visible in the cue', p_card ->> 'answer');
        END IF;
        RETURN;
    END IF;
    detail := study_card_cloze_problem(p_card ->> 'text');
    IF detail IS NOT NULL THEN
        reason := 'cloze_malformed';
        RETURN;
    END IF;
    detail := study_card_cloze_leak(p_card ->> 'text');
    IF detail IS NOT NULL THEN
        reason := 'cloze_leaks_answer';
    END IF;
END
$$;

CREATE TABLE public.study_memo_card_jobs (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    source_kind character varying(40) NOT NULL,
    source_id bigint NOT NULL,
    source_version timestamp with time zone,
    kind character varying(40) NOT NULL,
    status character varying(20) DEFAULT 'pending'::character varying NOT NULL,
    attempts smallint DEFAULT 0 NOT NULL,
    max_attempts smallint DEFAULT 2 NOT NULL,
    error_code character varying(40),
    error_message text,
    payload jsonb,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    started_at timestamp with time zone,
    completed_at timestamp with time zone,
    priority smallint DEFAULT 0 NOT NULL,
    run_after timestamp with time zone DEFAULT now() NOT NULL,
    locked_by text,
    lease_expires_at timestamp with time zone,
    CONSTRAINT study_memo_card_jobs_lease_check CHECK ((((status)::text = 'processing'::text) = ((locked_by IS NOT NULL) AND (lease_expires_at IS NOT NULL)))),
    CONSTRAINT study_memo_card_jobs_status_check CHECK (((status)::text = ANY ((ARRAY['pending'::character varying, 'processing'::character varying, 'completed'::character varying, 'failed'::character varying, 'skipped'::character varying])::text[])))
);

CREATE FUNCTION public.study_card_claim(p_worker text, p_limit integer DEFAULT 1, p_lease interval DEFAULT '00:10:00'::interval) RETURNS SETOF public.study_memo_card_jobs
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_wanted int := p_limit;
    v_ids bigint[];
    v_claimed int;
BEGIN
    IF btrim(coalesce(p_worker, '')) = '' THEN
        RAISE EXCEPTION 'p_worker must name the worker' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_limit IS NULL OR p_limit < 1 THEN
        RAISE EXCEPTION 'p_limit must be at least 1, got %', p_limit USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_lease IS NULL OR p_lease <= interval '0' THEN
        RAISE EXCEPTION 'p_lease must be positive, got %', p_lease USING ERRCODE = 'invalid_parameter_value';
    END IF;

    UPDATE study_memo_card_jobs
       SET status = 'failed', error_code = 'lease_expired', completed_at = now(),
           error_message = format('lease of %s expired at %s; no attempt left', locked_by, lease_expires_at),
           locked_by = NULL, lease_expires_at = NULL
     WHERE id IN (SELECT id FROM study_memo_card_jobs
                   WHERE status = 'processing' AND lease_expires_at < now()
                     AND attempts >= max_attempts
                     FOR UPDATE SKIP LOCKED);

    LOOP
        v_ids := ARRAY(SELECT id FROM study_memo_card_jobs
                        WHERE status = 'processing' AND lease_expires_at < now()
                          AND attempts < max_attempts
                        ORDER BY priority DESC, id
                        LIMIT v_wanted
                          FOR UPDATE SKIP LOCKED);
        IF cardinality(v_ids) < v_wanted THEN
            v_ids := v_ids || ARRAY(SELECT id FROM study_memo_card_jobs
                                     WHERE status = 'pending' AND run_after <= now()
                                     ORDER BY priority DESC, id
                                     LIMIT v_wanted - cardinality(v_ids)
                                       FOR UPDATE SKIP LOCKED);
        END IF;
        EXIT WHEN cardinality(v_ids) = 0;

        UPDATE study_memo_card_jobs j
           SET status = 'skipped', error_code = c.problem, completed_at = now(),
               error_message = format('closed at claim by %s', p_worker),
               locked_by = NULL, lease_expires_at = NULL
          FROM (SELECT id, study_card_source_problem(source_kind, source_id, source_version) AS problem
                  FROM study_memo_card_jobs
                 WHERE id = ANY (v_ids)) AS c
         WHERE j.id = c.id AND c.problem IS NOT NULL;
        PERFORM study_card_carry_request(id) FROM unnest(v_ids) AS id;

        RETURN QUERY
        UPDATE study_memo_card_jobs j
           SET status = 'processing', attempts = j.attempts + 1, started_at = now(),
               locked_by = p_worker, lease_expires_at = now() + p_lease,
               error_code = CASE WHEN j.status = 'processing' THEN 'lease_expired' ELSE j.error_code END,
               error_message = CASE WHEN j.status = 'processing'
                                    THEN format('lease of %s expired at %s; taken over by %s',
                                                j.locked_by, j.lease_expires_at, p_worker)
                                    ELSE j.error_message END
         WHERE j.id = ANY (v_ids) AND j.status IN ('pending', 'processing')
        RETURNING j.*;
        GET DIAGNOSTICS v_claimed = ROW_COUNT;

        -- Fewer candidates than wanted means the queue has nothing more to give.
        EXIT WHEN v_claimed = v_wanted OR cardinality(v_ids) < v_wanted;
        v_wanted := v_wanted - v_claimed;
    END LOOP;
END
$$;

CREATE FUNCTION public.study_card_close_job(p_job_id bigint, p_status text, p_error_code text, p_error_message text, p_kept bigint[], p_retired bigint[], p_dropped jsonb) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_report jsonb := jsonb_build_object(
        'job_id', p_job_id, 'status', p_status, 'error_code', p_error_code,
        'kept', to_jsonb(p_kept), 'retired', to_jsonb(p_retired), 'dropped', p_dropped);
BEGIN
    UPDATE study_memo_card_jobs
       SET status = p_status, error_code = p_error_code, error_message = p_error_message,
           completed_at = now(), locked_by = NULL, lease_expires_at = NULL,
           payload = coalesce(payload, '{}') || jsonb_build_object('report', v_report)
     WHERE id = p_job_id;
    RETURN v_report;
END
$$;

CREATE FUNCTION public.study_card_cloze_deletions(p_text text) RETURNS TABLE(ord integer, n integer, answer text, hint text)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT d.ord::integer, d.parts[1]::integer,
           CASE WHEN strpos(d.parts[2], '::') > 0
                THEN left(d.parts[2], strpos(d.parts[2], '::') - 1) ELSE d.parts[2] END,
           CASE WHEN strpos(d.parts[2], '::') > 0
                THEN substr(d.parts[2], strpos(d.parts[2], '::') + 2) END
      FROM regexp_matches(p_text, '\{\{c([0-9]{1,4})::([^{}]*)\}\}', 'g') WITH ORDINALITY AS d(parts, ord)
$$;

CREATE FUNCTION public.study_card_cloze_leak(p_text text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT CASE
               WHEN study_card_leaks(d.answer, d.hint)
                   THEN format('c%s answer "%s" is visible in its hint "%s"', d.n, d.answer, d.hint)
               ELSE format('c%s answer "%s" is visible in the rest of the sentence', d.n, d.answer)
           END
      FROM study_card_cloze_deletions(p_text) AS d
     WHERE study_card_leaks(d.answer, study_card_cloze_visible(p_text, d.n))
        OR study_card_leaks(d.answer, d.hint)
     ORDER BY d.ord
     LIMIT 1
$$;

CREATE FUNCTION public.study_card_cloze_problem(p_text text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT CASE
        WHEN NOT EXISTS (SELECT FROM study_card_cloze_deletions(p_text)) THEN
            CASE WHEN strpos(p_text, '{') > 0 OR strpos(p_text, '}') > 0
                 THEN 'no well-formed {{cN::…}} deletion (unbalanced or malformed braces)'
                 ELSE 'no {{cN::…}} deletion' END
        WHEN strpos(rest, '{{') > 0 OR strpos(rest, '}}') > 0
             OR char_length(rest) - char_length(replace(rest, '{', ''))
                <> char_length(rest) - char_length(replace(rest, '}', ''))
            THEN 'unbalanced or malformed braces outside the deletions'
        WHEN EXISTS (SELECT FROM study_card_cloze_deletions(p_text) WHERE n = 0)
            THEN 'c0 is not a cloze number (they start at c1)'
        ELSE coalesce(
            (SELECT format('c%s has an empty deletion', d.n)
               FROM study_card_cloze_deletions(p_text) AS d
              WHERE coalesce(study_card_norm(d.answer), '') = ''
              ORDER BY d.ord LIMIT 1),
            CASE WHEN study_card_norm(rest) = '' THEN 'no text outside the deletions' END)
    END
      FROM (SELECT regexp_replace(p_text, '\{\{c([0-9]{1,4})::([^{}]*)\}\}', '', 'g') AS rest) AS r
$$;

CREATE FUNCTION public.study_card_cloze_visible(p_text text, p_n integer) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT string_agg(part.piece || coalesce(CASE WHEN d.n = p_n THEN ' [' || coalesce(d.hint, '…') || '] '
                                                  ELSE d.answer END, ''),
                      '' ORDER BY part.ord)
      FROM regexp_split_to_table(p_text, '\{\{c[0-9]{1,4}::[^{}]*\}\}') WITH ORDINALITY AS part(piece, ord)
      LEFT JOIN study_card_cloze_deletions(p_text) AS d ON d.ord = part.ord
$$;

CREATE FUNCTION public.study_card_delete(p_card_id bigint) RETURNS boolean
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
    WITH deleted AS (
        UPDATE study_memo_cards
           SET deleted_at = now(), retired_reason = 'user_deleted', updated_at = now()
         WHERE id = p_card_id AND deleted_at IS NULL
        RETURNING id)
    SELECT EXISTS (SELECT FROM deleted)
$$;

CREATE FUNCTION public.study_card_enqueue(p_limit integer DEFAULT 100) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_enqueued int;
    v_runnable int;
BEGIN
    IF p_limit IS NULL OR p_limit < 1 THEN
        RAISE EXCEPTION 'p_limit must be at least 1, got %', p_limit USING ERRCODE = 'invalid_parameter_value';
    END IF;
    WITH due AS (
        SELECT *
          FROM (SELECT q.user_id, 'question' AS source_kind, q.id AS source_id,
                       q.ai_explanation_generated_at AS version, q.topic_id, now() AS run_after
                  FROM study_questions q
                 WHERE q.ai_explanation_generated_at IS NOT NULL
                   AND q.deleted_at IS NULL
                   AND NOT study_card_is_blank(q.ai_explanation)
                   AND NOT EXISTS (SELECT FROM study_memo_card_jobs j
                                    WHERE j.source_kind = 'question' AND j.source_id = q.id
                                      AND j.source_version = q.ai_explanation_generated_at
                                      AND j.kind = 'card_extract')
                UNION ALL
                SELECT n.user_id, 'subject_note', n.id, n.updated_at, n.topic_id,
                       now() + study_card_note_debounce()
                  FROM study_subject_notes n
                 WHERE n.deleted_at IS NULL
                   AND NOT study_card_is_blank(n.body)
                   AND NOT EXISTS (SELECT FROM study_memo_card_jobs j
                                    WHERE j.source_kind = 'subject_note' AND j.source_id = n.id
                                      AND j.source_version = n.updated_at
                                      AND j.kind = 'card_extract')) AS candidates
         ORDER BY version, source_kind, source_id
         LIMIT p_limit
    ), enqueued AS (
        INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind,
                                          priority, run_after)
        SELECT d.user_id, d.source_kind, d.source_id, d.version, 'card_extract',
               study_card_priority(t.focused_at), d.run_after
          FROM due d
          LEFT JOIN study_topics t ON t.id = d.topic_id
        ON CONFLICT DO NOTHING
        RETURNING source_kind, source_id, source_version, run_after
    ), superseded AS (
        UPDATE study_memo_card_jobs j
           SET status = 'skipped', error_code = 'stale_version', completed_at = now(),
               error_message = format('superseded by version %s', e.source_version)
          FROM enqueued e
         WHERE e.source_kind = 'subject_note'
           AND j.source_kind = 'subject_note' AND j.source_id = e.source_id
           AND j.status = 'pending' AND j.source_version <> e.source_version
    )
    SELECT count(*), count(*) FILTER (WHERE run_after <= now())
      INTO v_enqueued, v_runnable
      FROM enqueued;
    PERFORM study_card_notify(v_runnable);
    RETURN v_enqueued;
END
$$;

CREATE FUNCTION public.study_card_fail(p_job_id bigint, p_worker text, p_error_code text, p_message text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_job study_memo_card_jobs;
    v_status text;
BEGIN
    IF p_error_code IN ('all_dropped', 'lease_expired') THEN
        RAISE EXCEPTION 'error code % is not reported through study_card_fail', p_error_code
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'all_dropped is written by commit_cards; lease_expired by claim and reap';
    ELSIF p_error_code IS NULL OR p_error_code NOT IN ('parse_fail', 'llm_timeout', 'unknown',
            'no_ready_explanation', 'stale_version', 'source_deleted') THEN
        RAISE EXCEPTION 'unknown error code %', p_error_code
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'one of parse_fail, llm_timeout, unknown, no_ready_explanation, stale_version, source_deleted';
    END IF;
    v_job := study_card_held_job(p_job_id, p_worker);
    v_status := CASE
        WHEN p_error_code IN ('no_ready_explanation', 'stale_version', 'source_deleted') THEN 'skipped'
        WHEN v_job.attempts >= v_job.max_attempts THEN 'failed'
        ELSE 'pending'
    END;
    UPDATE study_memo_card_jobs
       SET status = v_status, error_code = p_error_code, error_message = left(p_message, 2000),
           run_after = CASE WHEN v_status = 'pending' THEN now() + study_card_retry_delay(attempts)
                            ELSE run_after END,
           completed_at = CASE WHEN v_status = 'pending' THEN NULL ELSE now() END,
           locked_by = NULL, lease_expires_at = NULL
     WHERE id = p_job_id;
    RETURN v_status;
END
$$;

CREATE FUNCTION public.study_card_gather(p_job_id bigint, p_k integer DEFAULT 6, p_query_embedding public.vector DEFAULT NULL::public.vector, p_worker text DEFAULT NULL::text) RETURNS TABLE(handle text, source_kind text, source_id bigint, title text, body text, score double precision)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    SET enable_seqscan TO 'off'
    SET enable_bitmapscan TO 'off'
    SET plan_cache_mode TO 'force_custom_plan'
    SET "pg_trgm.word_similarity_threshold" TO '0.2'
    AS $$
DECLARE
    v_job study_memo_card_jobs;
    v_pool integer;  -- candidates taken from each ranking before fusion
    v_query vector;
    v_ef_search text;
    v_iterative_scan text;
    v_related jsonb;
    v_handles jsonb;
BEGIN
    IF p_k IS NULL OR p_k NOT BETWEEN 0 AND 50 THEN
        RAISE EXCEPTION 'k must be between 0 and 50, not %', p_k USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_worker IS NOT NULL THEN
        v_job := study_card_held_job(p_job_id, p_worker);
    ELSE
        SELECT * INTO v_job FROM study_memo_card_jobs j WHERE j.id = p_job_id;
    END IF;
    IF v_job.id IS NULL OR v_job.status <> 'processing' THEN
        RAISE EXCEPTION 'study card job % is not being processed', p_job_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('status %s', coalesce(v_job.status, 'missing'));
    END IF;
    IF NOT EXISTS (SELECT FROM study_card_source(v_job.source_kind, v_job.source_id)) THEN
        RAISE EXCEPTION 'the source of study card job % (% %) is gone', p_job_id, v_job.source_kind, v_job.source_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    v_pool := greatest(20, p_k * 4);
    v_query := coalesce(p_query_embedding, study_card_source_embedding(v_job.source_kind, v_job.source_id));

    -- HNSW returns hnsw.ef_search candidates before the user filter; let it look far
    -- enough for the pool, and with pgvector >= 0.8 keep scanning until the filter is
    -- satisfied (iterative scan). Both are restored before returning. The vector cast
    -- loads pgvector, so its settings are known to current_setting.
    PERFORM '[0]'::vector;
    v_ef_search := current_setting('hnsw.ef_search', true);
    v_iterative_scan := current_setting('hnsw.iterative_scan', true);
    IF v_ef_search IS NOT NULL THEN
        PERFORM set_config('hnsw.ef_search', greatest(v_pool, v_ef_search::integer)::text, true);
    END IF;
    IF v_iterative_scan IS NOT NULL THEN
        PERFORM set_config('hnsw.iterative_scan', 'relaxed_order', true);
    END IF;

    SELECT coalesce(jsonb_agg(jsonb_build_object('kind', f.kind, 'id', f.id, 'score', f.score)
                              ORDER BY f.score DESC, f.kind, f.id), '[]')
      INTO v_related
      FROM (SELECT hit.source_kind AS kind, hit.source_id AS id, sum(1.0 / (60 + hit.rank))::double precision AS score
              FROM (SELECT * FROM study_card_related_by_vector(v_job.user_id, v_query, v_pool,
                                                               v_job.source_kind, v_job.source_id)
                     WHERE v_query IS NOT NULL
                    UNION ALL
                    SELECT * FROM study_card_related_by_text(v_job.user_id,
                                                             study_card_source_query(v_job.source_kind, v_job.source_id),
                                                             v_pool, v_job.source_kind, v_job.source_id)) AS hit
             GROUP BY hit.source_kind, hit.source_id
             ORDER BY 3 DESC, 1, 2
             LIMIT p_k) AS f;

    IF v_ef_search IS NOT NULL THEN
        PERFORM set_config('hnsw.ef_search', v_ef_search, true);
    END IF;
    IF v_iterative_scan IS NOT NULL THEN
        PERFORM set_config('hnsw.iterative_scan', v_iterative_scan, true);
    END IF;

    v_related := jsonb_build_array(jsonb_build_object('kind', v_job.source_kind, 'id', v_job.source_id)) || v_related;
    SELECT jsonb_object_agg('S' || r.ord, jsonb_build_object('kind', r.value ->> 'kind', 'id', (r.value ->> 'id')::bigint))
      INTO v_handles
      FROM jsonb_array_elements(v_related) WITH ORDINALITY AS r(value, ord);
    UPDATE study_memo_card_jobs j
       SET payload = coalesce(j.payload, '{}') || jsonb_build_object('handles', v_handles)
     WHERE j.id = p_job_id;

    RETURN QUERY
        SELECT 'S' || r.ord, r.value ->> 'kind', (r.value ->> 'id')::bigint,
               study_card_source_title(r.value ->> 'kind', (r.value ->> 'id')::bigint),
               study_card_source_text(r.value ->> 'kind', (r.value ->> 'id')::bigint),
               (r.value ->> 'score')::double precision
          FROM jsonb_array_elements(v_related) WITH ORDINALITY AS r(value, ord)
         ORDER BY r.ord;
END
$$;

CREATE FUNCTION public.study_card_heartbeat(p_job_id bigint, p_worker text, p_lease interval DEFAULT '00:10:00'::interval) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    IF p_lease IS NULL OR p_lease <= interval '0' THEN
        RAISE EXCEPTION 'p_lease must be positive, got %', p_lease USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE study_memo_card_jobs
       SET lease_expires_at = now() + p_lease
     WHERE id = p_job_id AND status = 'processing' AND locked_by = p_worker;
    RETURN FOUND;
END
$$;

CREATE FUNCTION public.study_card_held_job(p_job_id bigint, p_worker text) RETURNS public.study_memo_card_jobs
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_job study_memo_card_jobs;
BEGIN
    SELECT * INTO v_job FROM study_memo_card_jobs WHERE id = p_job_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'study card job % does not exist', p_job_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF v_job.status <> 'processing' OR v_job.locked_by IS DISTINCT FROM p_worker THEN
        RAISE EXCEPTION 'study card job % is not held by worker %', p_job_id, p_worker
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('status %s, locked by %s', v_job.status, coalesce(v_job.locked_by, 'nobody'));
    END IF;
    RETURN v_job;
END
$$;

CREATE FUNCTION public.study_card_is_blank(p_text text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (btrim(COALESCE(p_text, ''::text), '

 　'::text) = ''::text);

CREATE FUNCTION public.study_card_leaks(p_answer text, p_visible text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT CASE
        WHEN coalesce(study_card_norm(p_answer), '') = '' OR p_visible IS NULL THEN false
        WHEN number.value IS NOT NULL THEN EXISTS (
            SELECT FROM study_card_quantities(p_visible) AS v
             WHERE v.value = number.value
               AND (v.unit IS NULL OR number.unit IS NULL OR v.unit = number.unit))
        WHEN char_length(study_card_norm(p_answer)) = 1 THEN
            study_card_norm(p_answer) = ANY (study_card_tokens(p_visible))
        ELSE strpos(study_card_norm(p_visible), study_card_norm(p_answer)) > 0
    END
      FROM (SELECT 1) AS one
      LEFT JOIN LATERAL (
          SELECT q.value, q.unit
            FROM study_card_quantities(p_answer) AS q
           WHERE study_card_norm(q.match) = study_card_norm(p_answer)
             AND (SELECT count(*) FROM study_card_quantities(p_answer)) = 1) AS number ON true
$$;

CREATE FUNCTION public.study_card_norm(p_text text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN regexp_replace(lower((NORMALIZE(p_text, NFKC) COLLATE "C")), '[^0-9a-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u0370-\u03FF\u0400-\u04FF\u1100-\u11FF\u3040-\u30FF\u3131-\u318E\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7A3]'::text, ''::text, 'g'::text);

CREATE FUNCTION public.study_card_norm_key(p_card jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT study_card_norm_key(p_card ->> 'type', p_card ->> 'cue', p_card ->> 'answer', p_card ->> 'text')
$$;

CREATE FUNCTION public.study_card_norm_key(p_card_type text, p_cue text, p_answer text, p_cloze_text text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE p_card_type WHEN 'qa'::text THEN ((('qa:'::text || public.study_card_norm(p_cue)) || '|'::text) || public.study_card_norm(p_answer)) ELSE ('cloze:'::text || public.study_card_norm(p_cloze_text)) END;

CREATE FUNCTION public.study_card_note_debounce() RETURNS interval
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT coalesce(
        CASE WHEN pg_input_is_valid(setting, 'interval') THEN
            CASE WHEN setting::interval >= interval '0' THEN setting::interval END
        END,
        interval '3 minutes')
      FROM coalesce(current_setting('study_card.note_debounce', true), '') AS setting
$$;

CREATE FUNCTION public.study_card_notify(p_runnable integer) RETURNS void
    LANGUAGE sql
    AS $$
    SELECT pg_notify('study_card_jobs', jsonb_build_object('count', p_runnable)::text)
     WHERE p_runnable > 0
$$;

CREATE FUNCTION public.study_card_priority(p_focused_at timestamp with time zone) RETURNS smallint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN (p_focused_at IS NULL) THEN 0 ELSE 10 END;

CREATE FUNCTION public.study_card_prune(p_older_than interval) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_pruned int;
BEGIN
    IF p_older_than IS NULL OR p_older_than < interval '0' THEN
        RAISE EXCEPTION 'p_older_than must be a non-negative interval, got %', p_older_than
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    DELETE FROM study_memo_card_jobs j
     WHERE j.status IN ('completed', 'failed', 'skipped')
       AND coalesce(j.completed_at, j.created_at) < now() - p_older_than
       AND NOT EXISTS (SELECT FROM study_card_source(j.source_kind, j.source_id) AS s
                        WHERE s.version = j.source_version);
    GET DIAGNOSTICS v_pruned = ROW_COUNT;
    RETURN v_pruned;
END
$$;

CREATE FUNCTION public.study_card_quantities(p_text text) RETURNS TABLE(ord integer, match text, value numeric, unit text, quantity text)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT n.ord::integer, n.match, n.value, n.unit,
           trim_scale(n.value)::text || coalesce(n.unit, '')
      FROM (SELECT m.ord,
                   m.parts[1] || coalesce(m.parts[2], '') || coalesce(m.parts[3], '') AS match,
                   replace(m.parts[1], ',', '')::numeric * CASE m.parts[2]
                       WHEN '천' THEN 1000 WHEN '만' THEN 10000 WHEN '백만' THEN 1000000
                       WHEN '천만' THEN 10000000 WHEN '억' THEN 100000000
                       WHEN '조' THEN 1000000000000 ELSE 1 END AS value,
                   CASE m.parts[3] WHEN '퍼센트' THEN '%' ELSE m.parts[3] END AS unit
              FROM regexp_matches(
                       regexp_replace(normalize(p_text, NFKC), '[\u00AD\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF]', '', 'g'),
                       '([0-9]+(?:,[0-9]{3}(?![0-9]))*(?:\.[0-9]+)?)[ \t]*(천만|백만|천|만|억|조)?[ \t]*'
                       '(개월|시간|퍼센트|분기|세기|세대|주년|%|년|주|일|분|초|원|명|개|건|회|배|층|세|'
                       '(?:km|cm|mm|nm|μm|m|kg|mg|g|ms|μs|ns|s|min|KB|kB|MB|GB|TB|B|bps|Kbps|Mbps|Gbps|'
                       'Hz|kHz|MHz|GHz|kW|W|V|mL|L|°C|°F)(?![A-Za-z]))?',
                       'g') WITH ORDINALITY AS m(parts, ord)) AS n
$$;

CREATE FUNCTION public.study_card_reap() RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_reaped int;
    v_requeued int;
BEGIN
    WITH reaped AS (
        UPDATE study_memo_card_jobs
           SET status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
               completed_at = CASE WHEN attempts >= max_attempts THEN now() END,
               run_after = now(), error_code = 'lease_expired',
               error_message = format('lease of %s expired at %s; reaped', locked_by, lease_expires_at),
               locked_by = NULL, lease_expires_at = NULL
         WHERE id IN (SELECT id FROM study_memo_card_jobs
                       WHERE status = 'processing' AND lease_expires_at < now()
                         FOR UPDATE SKIP LOCKED)
        RETURNING status
    )
    SELECT count(*), count(*) FILTER (WHERE status = 'pending') INTO v_reaped, v_requeued FROM reaped;
    PERFORM study_card_notify(v_requeued);
    RETURN v_reaped;
END
$$;

CREATE FUNCTION public.study_card_related_by_text(p_user_id bigint, p_query text, p_limit integer, p_skip_kind text, p_skip_id bigint) RETURNS TABLE(source_kind text, source_id bigint, rank bigint)
    LANGUAGE sql STABLE
    AS $$
    SELECT hit.kind, hit.id, row_number() OVER (ORDER BY hit.distance, hit.kind, hit.id)
      FROM ((SELECT 'document_chunk'::text AS kind, c.id, p_query <<-> c.content AS distance
               FROM document_chunks c JOIN documents d ON d.id = c.document_id
              WHERE p_query <% c.content AND d.user_id = p_user_id AND d.deleted_at IS NULL
                AND btrim(c.content) <> '' AND (p_skip_kind <> 'document' OR d.id <> p_skip_id)
              ORDER BY p_query <<-> c.content
              LIMIT p_limit)
            UNION ALL
            (SELECT 'subject_note'::text, n.id, p_query <<-> n.body
               FROM study_subject_notes n
              WHERE p_query <% n.body AND n.user_id = p_user_id AND n.deleted_at IS NULL
                AND btrim(n.body) <> '' AND (p_skip_kind <> 'subject_note' OR n.id <> p_skip_id)
              ORDER BY p_query <<-> n.body
              LIMIT p_limit)) AS hit
     ORDER BY hit.distance, hit.kind, hit.id
     LIMIT p_limit
$$;

CREATE FUNCTION public.study_card_related_by_vector(p_user_id bigint, p_query public.vector, p_limit integer, p_skip_kind text, p_skip_id bigint) RETURNS TABLE(source_kind text, source_id bigint, rank bigint)
    LANGUAGE sql STABLE
    AS $$
    SELECT hit.kind, hit.id, row_number() OVER (ORDER BY hit.distance, hit.kind, hit.id)
      FROM ((SELECT 'document_chunk'::text AS kind, c.id, c.embedding <=> p_query AS distance
               FROM document_chunks c JOIN documents d ON d.id = c.document_id
              WHERE d.user_id = p_user_id AND d.deleted_at IS NULL AND c.embedding IS NOT NULL
                AND btrim(c.content) <> '' AND (p_skip_kind <> 'document' OR d.id <> p_skip_id)
              ORDER BY c.embedding <=> p_query
              LIMIT p_limit)
            UNION ALL
            (SELECT 'subject_note'::text, n.id, n.embedding <=> p_query
               FROM study_subject_notes n
              WHERE n.user_id = p_user_id AND n.deleted_at IS NULL AND n.embedding IS NOT NULL
                AND btrim(n.body) <> '' AND (p_skip_kind <> 'subject_note' OR n.id <> p_skip_id)
              ORDER BY n.embedding <=> p_query
              LIMIT p_limit)) AS hit
     ORDER BY hit.distance, hit.kind, hit.id
     LIMIT p_limit
$$;

CREATE FUNCTION public.study_card_release(p_job_id bigint, p_worker text, p_delay interval DEFAULT '00:00:00'::interval) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    IF p_delay IS NULL OR p_delay < interval '0' THEN
        RAISE EXCEPTION 'p_delay must not be negative, got %', p_delay USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM study_card_held_job(p_job_id, p_worker);
    UPDATE study_memo_card_jobs
       SET status = 'pending', attempts = greatest(attempts - 1, 0), run_after = now() + p_delay,
           locked_by = NULL, lease_expires_at = NULL
     WHERE id = p_job_id;
    PERFORM study_card_notify(CASE WHEN p_delay = interval '0' THEN 1 ELSE 0 END);
END
$$;

CREATE FUNCTION public.study_card_request(p_kind text, p_id bigint) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_source record;
    v_job_id bigint;
    v_made_runnable boolean := true;
BEGIN
    IF p_kind IS NULL OR p_kind NOT IN ('question', 'subject_note', 'document') THEN
        RAISE EXCEPTION 'unknown source kind %, expected question, subject_note or document', p_kind
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO v_source FROM study_card_source(p_kind, p_id);
    IF NOT FOUND THEN
        RAISE EXCEPTION '% % does not exist or is deleted', p_kind, p_id USING ERRCODE = 'no_data_found';
    END IF;
    IF v_source.version IS NULL OR NOT v_source.ready THEN
        RAISE EXCEPTION '% % has nothing to extract from', p_kind, p_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'a question needs a non-blank ai_explanation and ai_explanation_generated_at';
    END IF;

    INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind, priority)
    VALUES (v_source.user_id, p_kind, p_id, v_source.version, 'card_extract',
            study_card_priority((SELECT t.focused_at FROM study_topics t WHERE t.id = v_source.topic_id)))
    ON CONFLICT DO NOTHING
    RETURNING id INTO v_job_id;

    IF v_job_id IS NULL THEN
        UPDATE study_memo_card_jobs j
           SET status = 'pending', attempts = 0, run_after = now(), completed_at = NULL,
               error_code = NULL, error_message = NULL
         WHERE j.source_kind = p_kind AND j.source_id = p_id
           AND j.source_version = v_source.version AND j.kind = 'card_extract'
           AND j.status IN ('completed', 'failed', 'skipped')
        RETURNING j.id INTO v_job_id;
    END IF;
    IF v_job_id IS NULL THEN
        UPDATE study_memo_card_jobs j
           SET run_after = now()
         WHERE j.source_kind = p_kind AND j.source_id = p_id
           AND j.source_version = v_source.version AND j.kind = 'card_extract'
           AND j.status = 'pending' AND j.run_after > now()
        RETURNING j.id INTO v_job_id;
    END IF;
    IF v_job_id IS NULL THEN  -- already runnable, or running: left alone
        v_made_runnable := false;
        SELECT j.id INTO v_job_id
          FROM study_memo_card_jobs j
         WHERE j.source_kind = p_kind AND j.source_id = p_id
           AND j.source_version = v_source.version AND j.kind = 'card_extract';
    END IF;

    UPDATE study_memo_card_jobs j
       SET status = 'skipped', error_code = 'stale_version', completed_at = now(),
           error_message = format('superseded by version %s', v_source.version)
     WHERE j.source_kind = p_kind AND j.source_id = p_id
       AND j.status = 'pending' AND j.source_version <> v_source.version;

    PERFORM study_card_notify(CASE WHEN v_made_runnable THEN 1 ELSE 0 END);
    RETURN v_job_id;
END
$$;

CREATE FUNCTION public.study_card_retry(p_job_id bigint) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    UPDATE study_memo_card_jobs
       SET status = 'pending', attempts = 0, run_after = now(), completed_at = NULL
     WHERE id = p_job_id AND status = 'failed';
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM study_card_notify(1);
    RETURN true;
END
$$;

CREATE FUNCTION public.study_card_retry_delay(p_attempts integer) RETURNS interval
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT least(
        coalesce(CASE WHEN pg_input_is_valid(setting, 'interval') THEN
                     CASE WHEN setting::interval >= interval '0' THEN setting::interval END
                 END, interval '1 minute')
            * power(2, greatest(p_attempts, 1) - 1),
        interval '1 hour')
      FROM coalesce(current_setting('study_card.retry_delay', true), '') AS setting
$$;

CREATE FUNCTION public.study_card_retry_failed(p_error_code text DEFAULT NULL::text) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_retried int;
BEGIN
    UPDATE study_memo_card_jobs
       SET status = 'pending', attempts = 0, run_after = now(), completed_at = NULL
     WHERE status = 'failed' AND (p_error_code IS NULL OR error_code = p_error_code);
    GET DIAGNOSTICS v_retried = ROW_COUNT;
    PERFORM study_card_notify(v_retried);
    RETURN v_retried;
END
$$;

CREATE FUNCTION public.study_card_review_reason(p_needs_review jsonb) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    IF p_needs_review IS NULL OR p_needs_review IN ('null', 'false') THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(p_needs_review) = 'object'
       AND jsonb_typeof(p_needs_review -> 'reason') = 'string'
       AND btrim(p_needs_review ->> 'reason') <> ''
       AND char_length(p_needs_review ->> 'reason') <= 1000 THEN
        RETURN btrim(p_needs_review ->> 'reason');
    END IF;
    RAISE EXCEPTION 'needs_review must be null or {"reason": "…"} with a reason of 1 to 1000 characters'
        USING ERRCODE = 'invalid_parameter_value', DETAIL = format('got %s', left(p_needs_review::text, 200));
END
$$;

CREATE FUNCTION public.study_card_shape_problem(p_card jsonb) RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_field text;
    v_limit integer;
    v_item jsonb;
    v_index integer;
BEGIN
    IF jsonb_typeof(p_card) IS DISTINCT FROM 'object' THEN
        RETURN format('a card must be a JSON object, not %s', coalesce(jsonb_typeof(p_card), 'SQL NULL'));
    END IF;
    IF p_card -> 'type' IS NULL OR p_card ->> 'type' NOT IN ('qa', 'cloze') OR jsonb_typeof(p_card -> 'type') <> 'string' THEN
        RETURN format('type must be "qa" or "cloze", not %s', coalesce((p_card -> 'type')::text, 'missing'));
    END IF;
    FOR v_field, v_limit IN
        SELECT f.name, f.max_length
          FROM (VALUES ('qa', 'cue', 300), ('qa', 'answer', 300), ('cloze', 'text', 600))
               AS f(card_type, name, max_length)
         WHERE f.card_type = p_card ->> 'type'
    LOOP
        IF jsonb_typeof(p_card -> v_field) IS DISTINCT FROM 'string' THEN
            RETURN format('%s must be a string, not %s', v_field,
                          coalesce(jsonb_typeof(p_card -> v_field), 'missing'));
        ELSIF study_card_norm(p_card ->> v_field) = '' THEN
            RETURN format('%s is empty', v_field);
        ELSIF char_length(p_card ->> v_field) > v_limit THEN
            RETURN format('%s is %s characters long; the limit is %s',
                          v_field, char_length(p_card ->> v_field), v_limit);
        END IF;
    END LOOP;
    IF jsonb_typeof(p_card -> 'evidence') NOT IN ('array', 'null') THEN
        RETURN format('evidence must be an array, not %s', jsonb_typeof(p_card -> 'evidence'));
    ELSIF jsonb_array_length(coalesce(nullif(p_card -> 'evidence', 'null'), '[]')) > 5 THEN
        RETURN format('%s evidence items; the limit is 5', jsonb_array_length(p_card -> 'evidence'));
    END IF;
    FOR v_item, v_index IN
        SELECT e.value, e.ord - 1
          FROM jsonb_array_elements(coalesce(nullif(p_card -> 'evidence', 'null'), '[]')) WITH ORDINALITY AS e(value, ord)
    LOOP
        IF jsonb_typeof(v_item) IS DISTINCT FROM 'object' THEN
            RETURN format('evidence %s must be an object {"source", "quote"}', v_index);
        ELSIF coalesce(jsonb_typeof(v_item -> 'source'), 'missing') NOT IN ('string', 'number') THEN
            RETURN format('evidence %s: source must be a handle such as "S1", not %s',
                          v_index, coalesce(jsonb_typeof(v_item -> 'source'), 'missing'));
        ELSIF jsonb_typeof(v_item -> 'quote') IS DISTINCT FROM 'string' THEN
            RETURN format('evidence %s: quote must be a string, not %s',
                          v_index, coalesce(jsonb_typeof(v_item -> 'quote'), 'missing'));
        ELSIF study_card_norm(v_item ->> 'quote') = '' THEN
            RETURN format('evidence %s: quote is empty', v_index);
        ELSIF char_length(v_item ->> 'quote') > 1000 THEN
            RETURN format('evidence %s: quote is %s characters long; the limit is 1000',
                          v_index, char_length(v_item ->> 'quote'));
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE FUNCTION public.study_card_source(p_kind text, p_id bigint) RETURNS TABLE(user_id bigint, topic_id bigint, version timestamp with time zone, ready boolean)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT q.user_id, q.topic_id, q.ai_explanation_generated_at,
           q.ai_explanation_generated_at IS NOT NULL AND NOT study_card_is_blank(q.ai_explanation)
      FROM study_questions q
     WHERE p_kind = 'question' AND q.id = p_id AND q.deleted_at IS NULL
    UNION ALL
    SELECT n.user_id, n.topic_id, n.updated_at, NOT study_card_is_blank(n.body)
      FROM study_subject_notes n
     WHERE p_kind = 'subject_note' AND n.id = p_id AND n.deleted_at IS NULL
    UNION ALL
    SELECT d.user_id, NULL::bigint, d.updated_at,
           EXISTS (SELECT FROM document_chunks c WHERE c.document_id = d.id AND NOT study_card_is_blank(c.content))
      FROM documents d
     WHERE p_kind = 'document' AND d.id = p_id AND d.deleted_at IS NULL
$$;

CREATE FUNCTION public.study_card_source_embedding(p_kind text, p_id bigint) RETURNS public.vector
    LANGUAGE sql STABLE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT CASE p_kind
        WHEN 'question' THEN (SELECT q.embedding FROM study_questions q WHERE q.id = p_id)
        WHEN 'subject_note' THEN (SELECT n.embedding FROM study_subject_notes n WHERE n.id = p_id)
        WHEN 'document' THEN (SELECT avg(c.embedding) FROM document_chunks c WHERE c.document_id = p_id)
    END
$$;

CREATE FUNCTION public.study_card_source_problem(p_kind text, p_id bigint, p_version timestamp with time zone) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT CASE
        WHEN s.user_id IS NULL THEN 'source_deleted'
        WHEN s.version IS NOT NULL AND s.version IS DISTINCT FROM p_version THEN 'stale_version'
        WHEN NOT s.ready OR s.version IS NULL THEN 'no_ready_explanation'
    END
      FROM (SELECT 1) AS one
      LEFT JOIN study_card_source(p_kind, p_id) AS s ON true
$$;

CREATE FUNCTION public.study_card_source_query(p_kind text, p_id bigint) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT CASE p_kind
        WHEN 'question' THEN (SELECT q.stem FROM study_questions q WHERE q.id = p_id)
        WHEN 'subject_note' THEN (SELECT coalesce(nullif(btrim(n.title), ''), left(n.body, 200))
                                    FROM study_subject_notes n WHERE n.id = p_id)
        WHEN 'document' THEN (SELECT coalesce(nullif(btrim(d.title), ''),
                                              (SELECT left(c.content, 200) FROM document_chunks c
                                                WHERE c.document_id = d.id ORDER BY c.ord, c.id LIMIT 1))
                                FROM documents d WHERE d.id = p_id)
    END
$$;

CREATE FUNCTION public.study_card_source_text(p_kind text, p_id bigint) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT CASE p_kind
        WHEN 'question' THEN (
            SELECT concat_ws(E'\n', q.stem,
                CASE jsonb_typeof(q.choices)
                    WHEN 'array' THEN (SELECT string_agg(c.value, E'\n' ORDER BY c.ord)
                                         FROM jsonb_array_elements_text(q.choices) WITH ORDINALITY AS c(value, ord))
                    WHEN 'object' THEN (SELECT string_agg(c.key || '. ' || c.value, E'\n' ORDER BY c.key)
                                          FROM jsonb_each_text(q.choices) AS c)
                    ELSE q.choices #>> '{}'
                END,
                q.answer, q.ai_explanation)
              FROM study_questions q
             WHERE q.id = p_id AND q.deleted_at IS NULL)
        WHEN 'subject_note' THEN (
            SELECT concat_ws(E'\n', n.title, n.body)
              FROM study_subject_notes n
             WHERE n.id = p_id AND n.deleted_at IS NULL)
        WHEN 'document_chunk' THEN (
            SELECT c.content
              FROM document_chunks c JOIN documents d ON d.id = c.document_id
             WHERE c.id = p_id AND d.deleted_at IS NULL)
        WHEN 'document' THEN (
            SELECT string_agg(c.content, E'\n' ORDER BY c.ord, c.id)
              FROM documents d JOIN document_chunks c ON c.document_id = d.id
             WHERE d.id = p_id AND d.deleted_at IS NULL)
    END
$$;

CREATE FUNCTION public.study_card_source_title(p_kind text, p_id bigint) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT CASE p_kind
        WHEN 'question' THEN (SELECT t.name FROM study_questions q JOIN study_topics t ON t.id = q.topic_id
                               WHERE q.id = p_id)
        WHEN 'subject_note' THEN (SELECT n.title FROM study_subject_notes n WHERE n.id = p_id)
        WHEN 'document' THEN (SELECT d.title FROM documents d WHERE d.id = p_id)
        WHEN 'document_chunk' THEN (SELECT d.title FROM document_chunks c JOIN documents d ON d.id = c.document_id
                                     WHERE c.id = p_id)
    END
$$;

CREATE FUNCTION public.study_card_tokens(p_text text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT coalesce(array_agg(t.token[1] ORDER BY t.ord), '{}')
      FROM regexp_matches(
               lower(normalize(p_text, NFKC) COLLATE "C"),
               '([0-9a-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u0370-\u03FF\u0400-\u04FF]+'
               '|[\u1100-\u11FF\u3040-\u30FF\u3131-\u318E\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7A3]+)',
               'g') WITH ORDINALITY AS t(token, ord)
$$;

CREATE FUNCTION public.study_card_unsupported_quantities(p_card_text text, p_evidence_text text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT coalesce(array_agg(c.quantity ORDER BY c.first), '{}')
      FROM (SELECT q.quantity, q.value, q.unit, min(q.ord) AS first
              FROM study_card_quantities(p_card_text) AS q
             GROUP BY q.quantity, q.value, q.unit) AS c
     WHERE NOT EXISTS (SELECT FROM study_card_quantities(p_evidence_text) AS e
                        WHERE e.value = c.value AND (c.unit IS NULL OR e.unit = c.unit))
$$;

CREATE FUNCTION public.tg_study_questions__study_card_enqueue() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_old_ids bigint[];
    v_old_versions timestamptz[];
    v_new_ids bigint[];
    v_new_versions timestamptz[];
    v_enqueued int;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind, priority)
        SELECT n.user_id, 'question', n.id, n.ai_explanation_generated_at, 'card_extract',
               study_card_priority(t.focused_at)
          FROM new_rows n
          LEFT JOIN study_topics t ON t.id = n.topic_id
         WHERE n.ai_explanation_generated_at IS NOT NULL
           AND n.deleted_at IS NULL
           AND NOT study_card_is_blank(n.ai_explanation)
        ON CONFLICT DO NOTHING;
    ELSE
        -- The cheap exit for updates of other columns. Both transition tables hold the
        -- rows in the same order; when ids and timestamps are equal position by
        -- position, no timestamp changed. (Were the order ever to differ, the arrays
        -- would differ too and the exact comparison below runs: correct either way.)
        SELECT array_agg(id), array_agg(ai_explanation_generated_at)
          INTO v_old_ids, v_old_versions FROM old_rows;
        SELECT array_agg(id), array_agg(ai_explanation_generated_at)
          INTO v_new_ids, v_new_versions FROM new_rows;
        IF v_old_ids IS NOT DISTINCT FROM v_new_ids
           AND v_old_versions IS NOT DISTINCT FROM v_new_versions THEN
            RETURN NULL;
        END IF;

        INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind, priority)
        SELECT n.user_id, 'question', n.id, n.ai_explanation_generated_at, 'card_extract',
               study_card_priority(t.focused_at)
          FROM new_rows n
          JOIN old_rows o ON o.id = n.id
          LEFT JOIN study_topics t ON t.id = n.topic_id
         WHERE n.ai_explanation_generated_at IS NOT NULL
           AND n.ai_explanation_generated_at IS DISTINCT FROM o.ai_explanation_generated_at
           AND n.deleted_at IS NULL
           AND NOT study_card_is_blank(n.ai_explanation)
        ON CONFLICT DO NOTHING;
    END IF;
    GET DIAGNOSTICS v_enqueued = ROW_COUNT;
    PERFORM study_card_notify(v_enqueued);
    RETURN NULL;
END
$$;

CREATE FUNCTION public.tg_study_subject_notes__study_card_enqueue() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_runnable int;
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH enqueued AS (
            INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind,
                                              priority, run_after)
            SELECT n.user_id, 'subject_note', n.id, n.updated_at, 'card_extract',
                   study_card_priority(t.focused_at), now() + study_card_note_debounce()
              FROM new_rows n
              LEFT JOIN study_topics t ON t.id = n.topic_id
             WHERE n.deleted_at IS NULL AND NOT study_card_is_blank(n.body)
            ON CONFLICT DO NOTHING
            RETURNING run_after
        )
        SELECT count(*) FILTER (WHERE run_after <= now()) INTO v_runnable FROM enqueued;
    ELSE
        WITH enqueued AS (
            INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind,
                                              priority, run_after)
            SELECT n.user_id, 'subject_note', n.id, n.updated_at, 'card_extract',
                   study_card_priority(t.focused_at), now() + study_card_note_debounce()
              FROM new_rows n
              JOIN old_rows o ON o.id = n.id
              LEFT JOIN study_topics t ON t.id = n.topic_id
             WHERE (n.body IS DISTINCT FROM o.body OR n.title IS DISTINCT FROM o.title)
               AND n.deleted_at IS NULL AND NOT study_card_is_blank(n.body)
            ON CONFLICT DO NOTHING
            RETURNING source_id, source_version, run_after
        ), superseded AS (
            UPDATE study_memo_card_jobs j
               SET status = 'skipped', error_code = 'stale_version', completed_at = now(),
                   error_message = format('superseded by version %s', e.source_version)
              FROM enqueued e
             WHERE j.source_kind = 'subject_note' AND j.source_id = e.source_id
               AND j.status = 'pending' AND j.source_version <> e.source_version
        )
        SELECT count(*) FILTER (WHERE run_after <= now()) INTO v_runnable FROM enqueued;
    END IF;
    PERFORM study_card_notify(v_runnable);
    RETURN NULL;
END
$$;

CREATE FUNCTION public.tg_study_topics__study_card_focus() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    UPDATE study_memo_card_jobs j
       SET priority = study_card_priority(NEW.focused_at)
     WHERE j.status IN ('pending', 'processing')
       AND j.priority <> study_card_priority(NEW.focused_at)
       AND ((j.source_kind = 'question'
             AND j.source_id IN (SELECT q.id FROM study_questions q WHERE q.topic_id = NEW.id))
         OR (j.source_kind = 'subject_note'
             AND j.source_id IN (SELECT n.id FROM study_subject_notes n WHERE n.topic_id = NEW.id)));
    RETURN NULL;
END
$$;

CREATE TABLE public.document_chunks (
    id bigint NOT NULL,
    document_id bigint NOT NULL,
    ord integer DEFAULT 0 NOT NULL,
    content text NOT NULL,
    embedding public.vector(1024)
);

CREATE SEQUENCE public.document_chunks_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.document_chunks_id_seq OWNED BY public.document_chunks.id;

CREATE TABLE public.documents (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    title text DEFAULT ''::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp with time zone
);

CREATE SEQUENCE public.documents_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.documents_id_seq OWNED BY public.documents.id;

CREATE VIEW public.study_card_job_stats AS
 SELECT status,
    error_code,
    count(*) AS jobs,
    count(*) FILTER (WHERE (((status)::text = 'pending'::text) AND (run_after <= now()))) AS runnable,
    count(*) FILTER (WHERE (((status)::text = 'processing'::text) AND (lease_expires_at < now()))) AS expired_leases,
    (now() - min(created_at) FILTER (WHERE ((status)::text = ANY ((ARRAY['pending'::character varying, 'processing'::character varying])::text[])))) AS oldest_age,
    count(*) FILTER (WHERE (completed_at > (now() - '1 day'::interval))) AS finished_last_day,
    percentile_cont((0.5)::double precision) WITHIN GROUP (ORDER BY (completed_at - started_at)) FILTER (WHERE (completed_at > (now() - '1 day'::interval))) AS median_duration,
    percentile_cont((0.95)::double precision) WITHIN GROUP (ORDER BY (completed_at - started_at)) FILTER (WHERE (completed_at > (now() - '1 day'::interval))) AS p95_duration
   FROM public.study_memo_card_jobs
  GROUP BY status, error_code
  ORDER BY (array_position(ARRAY['pending'::character varying, 'processing'::character varying, 'completed'::character varying, 'failed'::character varying, 'skipped'::character varying], status)), error_code NULLS FIRST;

CREATE TABLE public.study_memo_cards (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    source_kind character varying(40) NOT NULL,
    source_id bigint NOT NULL,
    source_version timestamp with time zone,
    job_id bigint,
    card_type character varying(10) NOT NULL,
    cue text,
    answer text,
    cloze_text text,
    norm_key text GENERATED ALWAYS AS (public.study_card_norm_key((card_type)::text, cue, answer, cloze_text)) STORED,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp with time zone,
    retired_reason character varying(40),
    superseded_by_job bigint,
    CONSTRAINT study_memo_cards_retired_check CHECK (((deleted_at IS NULL) = (retired_reason IS NULL))),
    CONSTRAINT study_memo_cards_type_check CHECK (((((card_type)::text = 'qa'::text) AND (cue IS NOT NULL) AND (answer IS NOT NULL) AND (cloze_text IS NULL)) OR (((card_type)::text = 'cloze'::text) AND (cloze_text IS NOT NULL) AND (cue IS NULL) AND (answer IS NULL))))
);

CREATE TABLE public.study_questions (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    topic_id bigint,
    stem text NOT NULL,
    choices jsonb,
    answer text,
    ai_explanation text,
    ai_explanation_generated_at timestamp with time zone,
    embedding public.vector(1024),
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp with time zone,
    needs_review boolean DEFAULT false NOT NULL,
    needs_review_reason text,
    needs_review_at timestamp with time zone
);

CREATE TABLE public.study_topics (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    name text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    focused_at timestamp with time zone
);

CREATE VIEW public.study_card_review_queue AS
 SELECT q.id AS question_id,
    q.user_id,
    q.topic_id,
    t.name AS topic_name,
    q.stem,
    q.needs_review_reason,
    q.needs_review_at,
    q.ai_explanation_generated_at,
    ( SELECT count(*) AS count
           FROM public.study_memo_cards c
          WHERE (((c.source_kind)::text = 'question'::text) AND (c.source_id = q.id) AND (c.deleted_at IS NULL))) AS active_cards
   FROM (public.study_questions q
     LEFT JOIN public.study_topics t ON ((t.id = q.topic_id)))
  WHERE (q.needs_review AND (q.deleted_at IS NULL))
  ORDER BY q.needs_review_at DESC NULLS LAST, q.id DESC;

CREATE TABLE public.study_memo_card_evidence (
    id bigint NOT NULL,
    card_id bigint NOT NULL,
    source_kind character varying(40) NOT NULL,
    source_id bigint NOT NULL,
    quote text NOT NULL
);

CREATE SEQUENCE public.study_memo_card_evidence_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.study_memo_card_evidence_id_seq OWNED BY public.study_memo_card_evidence.id;

CREATE SEQUENCE public.study_memo_card_jobs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.study_memo_card_jobs_id_seq OWNED BY public.study_memo_card_jobs.id;

CREATE TABLE public.study_memo_card_progress (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    card_id bigint NOT NULL,
    state character varying(20) DEFAULT 'new'::character varying NOT NULL,
    stability double precision,
    difficulty double precision,
    due_at timestamp with time zone,
    last_reviewed_at timestamp with time zone,
    reps integer DEFAULT 0 NOT NULL,
    lapses integer DEFAULT 0 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE SEQUENCE public.study_memo_card_progress_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.study_memo_card_progress_id_seq OWNED BY public.study_memo_card_progress.id;

CREATE TABLE public.study_subject_notes (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    topic_id bigint,
    title text DEFAULT ''::text NOT NULL,
    body text DEFAULT ''::text NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    embedding public.vector(1024),
    deleted_at timestamp with time zone
);

CREATE VIEW public.study_memo_cards_active AS
 SELECT id,
    user_id,
    card_type,
    cue,
    answer,
    cloze_text,
    source_kind,
    source_id,
        CASE source_kind
            WHEN 'question'::text THEN ( SELECT q.stem
               FROM public.study_questions q
              WHERE (q.id = c.source_id))
            WHEN 'subject_note'::text THEN ( SELECT n.title
               FROM public.study_subject_notes n
              WHERE (n.id = c.source_id))
            WHEN 'document'::text THEN ( SELECT d.title
               FROM public.documents d
              WHERE (d.id = c.source_id))
            ELSE NULL::text
        END AS source_title,
    source_version,
    job_id,
    created_at,
    updated_at,
    COALESCE(( SELECT jsonb_agg(jsonb_build_object('source_kind', e.source_kind, 'source_id', e.source_id, 'quote', e.quote) ORDER BY e.id) AS jsonb_agg
           FROM public.study_memo_card_evidence e
          WHERE (e.card_id = c.id)), '[]'::jsonb) AS evidence
   FROM public.study_memo_cards c
  WHERE (deleted_at IS NULL);

CREATE SEQUENCE public.study_memo_cards_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.study_memo_cards_id_seq OWNED BY public.study_memo_cards.id;

CREATE SEQUENCE public.study_questions_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.study_questions_id_seq OWNED BY public.study_questions.id;

CREATE TABLE public.study_reminders (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    topic_id bigint,
    card_id bigint,
    remind_at timestamp with time zone NOT NULL,
    channel character varying(40) DEFAULT 'app'::character varying NOT NULL,
    sent_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp with time zone
);

CREATE SEQUENCE public.study_reminders_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.study_reminders_id_seq OWNED BY public.study_reminders.id;

CREATE SEQUENCE public.study_subject_notes_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.study_subject_notes_id_seq OWNED BY public.study_subject_notes.id;

CREATE SEQUENCE public.study_topics_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.study_topics_id_seq OWNED BY public.study_topics.id;

CREATE TABLE public.users (
    id bigint NOT NULL,
    email text,
    display_name text,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE SEQUENCE public.users_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.users_id_seq OWNED BY public.users.id;

ALTER TABLE ONLY public.document_chunks ALTER COLUMN id SET DEFAULT nextval('public.document_chunks_id_seq'::regclass);

ALTER TABLE ONLY public.documents ALTER COLUMN id SET DEFAULT nextval('public.documents_id_seq'::regclass);

ALTER TABLE ONLY public.study_memo_card_evidence ALTER COLUMN id SET DEFAULT nextval('public.study_memo_card_evidence_id_seq'::regclass);

ALTER TABLE ONLY public.study_memo_card_jobs ALTER COLUMN id SET DEFAULT nextval('public.study_memo_card_jobs_id_seq'::regclass);

ALTER TABLE ONLY public.study_memo_card_progress ALTER COLUMN id SET DEFAULT nextval('public.study_memo_card_progress_id_seq'::regclass);

ALTER TABLE ONLY public.study_memo_cards ALTER COLUMN id SET DEFAULT nextval('public.study_memo_cards_id_seq'::regclass);

ALTER TABLE ONLY public.study_questions ALTER COLUMN id SET DEFAULT nextval('public.study_questions_id_seq'::regclass);

ALTER TABLE ONLY public.study_reminders ALTER COLUMN id SET DEFAULT nextval('public.study_reminders_id_seq'::regclass);

ALTER TABLE ONLY public.study_subject_notes ALTER COLUMN id SET DEFAULT nextval('public.study_subject_notes_id_seq'::regclass);

ALTER TABLE ONLY public.study_topics ALTER COLUMN id SET DEFAULT nextval('public.study_topics_id_seq'::regclass);

ALTER TABLE ONLY public.users ALTER COLUMN id SET DEFAULT nextval('public.users_id_seq'::regclass);

ALTER TABLE ONLY public.document_chunks
    ADD CONSTRAINT document_chunks_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.documents
    ADD CONSTRAINT documents_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.study_memo_card_evidence
    ADD CONSTRAINT study_memo_card_evidence_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.study_memo_card_jobs
    ADD CONSTRAINT study_memo_card_jobs_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.study_memo_card_progress
    ADD CONSTRAINT study_memo_card_progress_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.study_memo_card_progress
    ADD CONSTRAINT study_memo_card_progress_user_card_uniq UNIQUE (user_id, card_id);

ALTER TABLE ONLY public.study_memo_cards
    ADD CONSTRAINT study_memo_cards_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.study_questions
    ADD CONSTRAINT study_questions_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.study_reminders
    ADD CONSTRAINT study_reminders_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.study_subject_notes
    ADD CONSTRAINT study_subject_notes_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.study_topics
    ADD CONSTRAINT study_topics_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

CREATE INDEX study_card_document_chunks_content_trgm_idx ON public.document_chunks USING gist (content public.gist_trgm_ops);

CREATE INDEX study_card_document_chunks_embedding_idx ON public.document_chunks USING hnsw (embedding public.vector_cosine_ops);

CREATE INDEX study_card_subject_notes_body_trgm_idx ON public.study_subject_notes USING gist (body public.gist_trgm_ops);

CREATE INDEX study_card_subject_notes_embedding_idx ON public.study_subject_notes USING hnsw (embedding public.vector_cosine_ops);

CREATE INDEX study_memo_card_evidence_card_idx ON public.study_memo_card_evidence USING btree (card_id);

CREATE INDEX study_memo_card_jobs_claim_idx ON public.study_memo_card_jobs USING btree (priority DESC, id) WHERE ((status)::text = 'pending'::text);

CREATE INDEX study_memo_card_jobs_lease_idx ON public.study_memo_card_jobs USING btree (lease_expires_at) WHERE ((status)::text = 'processing'::text);

CREATE UNIQUE INDEX study_memo_card_jobs_version_uniq ON public.study_memo_card_jobs USING btree (source_kind, source_id, source_version, kind) NULLS NOT DISTINCT;

CREATE INDEX study_memo_card_progress_due_idx ON public.study_memo_card_progress USING btree (user_id, due_at);

CREATE UNIQUE INDEX study_memo_cards_active_norm_key_uniq ON public.study_memo_cards USING btree (user_id, norm_key) WHERE (deleted_at IS NULL);

CREATE INDEX study_memo_cards_active_source_idx ON public.study_memo_cards USING btree (source_kind, source_id) WHERE (deleted_at IS NULL);

CREATE INDEX study_memo_cards_user_deleted_idx ON public.study_memo_cards USING btree (user_id, norm_key) WHERE ((retired_reason)::text = 'user_deleted'::text);

CREATE INDEX study_reminders_due_idx ON public.study_reminders USING btree (remind_at) WHERE ((sent_at IS NULL) AND (deleted_at IS NULL));

CREATE TRIGGER study_card_enqueue_inserted AFTER INSERT ON public.study_questions REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tg_study_questions__study_card_enqueue();

CREATE TRIGGER study_card_enqueue_inserted AFTER INSERT ON public.study_subject_notes REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tg_study_subject_notes__study_card_enqueue();

CREATE TRIGGER study_card_enqueue_updated AFTER UPDATE ON public.study_questions REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tg_study_questions__study_card_enqueue();

CREATE TRIGGER study_card_enqueue_updated AFTER UPDATE ON public.study_subject_notes REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tg_study_subject_notes__study_card_enqueue();

CREATE TRIGGER study_card_focus AFTER UPDATE OF focused_at ON public.study_topics FOR EACH ROW WHEN (((old.focused_at IS NULL) IS DISTINCT FROM (new.focused_at IS NULL))) EXECUTE FUNCTION public.tg_study_topics__study_card_focus();

ALTER TABLE ONLY public.document_chunks
    ADD CONSTRAINT document_chunks_document_id_fkey FOREIGN KEY (document_id) REFERENCES public.documents(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.documents
    ADD CONSTRAINT documents_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.study_memo_card_evidence
    ADD CONSTRAINT study_memo_card_evidence_card_id_fkey FOREIGN KEY (card_id) REFERENCES public.study_memo_cards(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.study_memo_card_jobs
    ADD CONSTRAINT study_memo_card_jobs_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.study_memo_card_progress
    ADD CONSTRAINT study_memo_card_progress_card_id_fkey FOREIGN KEY (card_id) REFERENCES public.study_memo_cards(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.study_memo_card_progress
    ADD CONSTRAINT study_memo_card_progress_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.study_memo_cards
    ADD CONSTRAINT study_memo_cards_job_id_fkey FOREIGN KEY (job_id) REFERENCES public.study_memo_card_jobs(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.study_memo_cards
    ADD CONSTRAINT study_memo_cards_superseded_by_job_fkey FOREIGN KEY (superseded_by_job) REFERENCES public.study_memo_card_jobs(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.study_memo_cards
    ADD CONSTRAINT study_memo_cards_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.study_questions
    ADD CONSTRAINT study_questions_topic_id_fkey FOREIGN KEY (topic_id) REFERENCES public.study_topics(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.study_questions
    ADD CONSTRAINT study_questions_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.study_reminders
    ADD CONSTRAINT study_reminders_card_id_fkey FOREIGN KEY (card_id) REFERENCES public.study_memo_cards(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.study_reminders
    ADD CONSTRAINT study_reminders_topic_id_fkey FOREIGN KEY (topic_id) REFERENCES public.study_topics(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.study_reminders
    ADD CONSTRAINT study_reminders_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.study_subject_notes
    ADD CONSTRAINT study_subject_notes_topic_id_fkey FOREIGN KEY (topic_id) REFERENCES public.study_topics(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.study_subject_notes
    ADD CONSTRAINT study_subject_notes_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.study_topics
    ADD CONSTRAINT study_topics_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

REVOKE ALL ON FUNCTION public.commit_cards(p_job_id bigint, p_worker text, p_result jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION public.commit_cards(p_job_id bigint, p_worker text, p_result jsonb) TO study_card_worker;

REVOKE ALL ON FUNCTION public.study_card_card_text(p_card jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_carry_request(p_job_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_check(p_card jsonb, p_handles jsonb, OUT reason text, OUT detail text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_claim(p_worker text, p_limit integer, p_lease interval) FROM PUBLIC;
GRANT ALL ON FUNCTION public.study_card_claim(p_worker text, p_limit integer, p_lease interval) TO study_card_worker;

REVOKE ALL ON FUNCTION public.study_card_close_job(p_job_id bigint, p_status text, p_error_code text, p_error_message text, p_kept bigint[], p_retired bigint[], p_dropped jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_cloze_deletions(p_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_cloze_leak(p_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_cloze_problem(p_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_cloze_visible(p_text text, p_n integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_delete(p_card_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_enqueue(p_limit integer) FROM PUBLIC;
GRANT ALL ON FUNCTION public.study_card_enqueue(p_limit integer) TO study_card_worker;

REVOKE ALL ON FUNCTION public.study_card_fail(p_job_id bigint, p_worker text, p_error_code text, p_message text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.study_card_fail(p_job_id bigint, p_worker text, p_error_code text, p_message text) TO study_card_worker;

REVOKE ALL ON FUNCTION public.study_card_gather(p_job_id bigint, p_k integer, p_query_embedding public.vector, p_worker text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.study_card_gather(p_job_id bigint, p_k integer, p_query_embedding public.vector, p_worker text) TO study_card_worker;

REVOKE ALL ON FUNCTION public.study_card_heartbeat(p_job_id bigint, p_worker text, p_lease interval) FROM PUBLIC;
GRANT ALL ON FUNCTION public.study_card_heartbeat(p_job_id bigint, p_worker text, p_lease interval) TO study_card_worker;

REVOKE ALL ON FUNCTION public.study_card_held_job(p_job_id bigint, p_worker text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_is_blank(p_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_leaks(p_answer text, p_visible text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_norm(p_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_norm_key(p_card jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_norm_key(p_card_type text, p_cue text, p_answer text, p_cloze_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_note_debounce() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_notify(p_runnable integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_priority(p_focused_at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_prune(p_older_than interval) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_quantities(p_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_reap() FROM PUBLIC;
GRANT ALL ON FUNCTION public.study_card_reap() TO study_card_worker;

REVOKE ALL ON FUNCTION public.study_card_related_by_text(p_user_id bigint, p_query text, p_limit integer, p_skip_kind text, p_skip_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_related_by_vector(p_user_id bigint, p_query public.vector, p_limit integer, p_skip_kind text, p_skip_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_release(p_job_id bigint, p_worker text, p_delay interval) FROM PUBLIC;
GRANT ALL ON FUNCTION public.study_card_release(p_job_id bigint, p_worker text, p_delay interval) TO study_card_worker;

REVOKE ALL ON FUNCTION public.study_card_request(p_kind text, p_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_retry(p_job_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_retry_delay(p_attempts integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_retry_failed(p_error_code text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_review_reason(p_needs_review jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_shape_problem(p_card jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_source(p_kind text, p_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_source_embedding(p_kind text, p_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_source_problem(p_kind text, p_id bigint, p_version timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_source_query(p_kind text, p_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_source_text(p_kind text, p_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_source_title(p_kind text, p_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_tokens(p_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_unsupported_quantities(p_card_text text, p_evidence_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.tg_study_questions__study_card_enqueue() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.tg_study_subject_notes__study_card_enqueue() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.tg_study_topics__study_card_focus() FROM PUBLIC;
