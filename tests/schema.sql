CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;

CREATE FUNCTION public.commit_cards(p_job_id bigint, p_worker text, p_result jsonb, p_review jsonb DEFAULT NULL::jsonb) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
    AS $$
DECLARE
    v_job study_memo_card_jobs := study_card_lock_job(p_job_id, p_worker);
    v_cards jsonb := study_card_result_cards(p_result);
    v_review_reason text := study_card_review_reason(p_result -> 'needs_review');
    v_problem text;
    v_handles jsonb := coalesce(v_job.payload -> 'handles', '{}');
    v_judged jsonb;
    v_card jsonb;
    v_key text;
    v_cue text;
    v_answer text;
    v_cloze_text text;
    v_card_id bigint;
    v_kept bigint[] := '{}';
    v_retired bigint[];
    v_report jsonb;
BEGIN
    -- The locks first, then the version: a commit that waited here behind another one
    -- of the source must see a version that changed meanwhile, or it would write cards
    -- of the old version over (and retire) those of a newer job committed just before.
    PERFORM study_card_lock_commit(v_job, v_cards);
    v_problem := study_card_source_problem(v_job.source_kind, v_job.source_id, v_job.source_version);
    IF v_problem IS NOT NULL THEN
        v_report := study_card_close_job(v_job.id, 'skipped', v_problem,
                                         format('the source is %s', replace(v_problem, '_', ' ')), '{}', '{}', '[]');
        PERFORM study_card_carry_request(v_job.id);
        RETURN v_report;
    END IF;

    -- an empty result (the LLM found nothing to ask) has nothing to judge: 40 of the
    -- ~230 µs such a commit costs (bench/README.md, queue_throughput)
    v_judged := CASE WHEN jsonb_array_length(v_cards) = 0 THEN '{"survivors": [], "dropped": []}'
                     ELSE study_card_judge(v_job, v_cards) END;
    IF p_review IS NOT NULL THEN  -- drops the survivors it rejects, after every other guard
        v_judged := study_card_apply_review(v_judged, p_review);
    END IF;
    -- Supersede: an active card of this source (of an earlier job, whatever its version)
    -- that a survivor reproduces (same norm_key) is kept, same id, so its progress rows
    -- stay: it takes this job's text, version and evidence. The other survivors are
    -- inserted; the unique index study_memo_cards_active_norm_key_uniq is the last line
    -- of defence against a concurrent commit.
    FOR v_card, v_key IN
        SELECT s.value -> 'card', s.value ->> 'key' FROM jsonb_array_elements(v_judged -> 'survivors') WITH ORDINALITY AS s(value, ord) ORDER BY s.ord
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

    -- the source's other active cards are retired, also when nothing survived
    WITH retired AS (
        UPDATE study_memo_cards
           SET deleted_at = now(), retired_reason = 'superseded', superseded_by_job = v_job.id, updated_at = now()
         WHERE source_kind = v_job.source_kind AND source_id = v_job.source_id AND deleted_at IS NULL
           AND id <> ALL (v_kept)
        RETURNING id)
    SELECT coalesce(array_agg(id ORDER BY id), '{}') INTO v_retired FROM retired;

    -- flag the source for a person: the LLM's reason, else all_dropped
    IF v_review_reason IS NOT NULL OR cardinality(v_kept) = 0 THEN
        PERFORM study_card_flag_for_review(v_job.source_kind, v_job.source_id, coalesce(v_review_reason, 'all_dropped'));
    END IF;

    RETURN study_card_close_job(
        v_job.id, 'completed',
        CASE WHEN cardinality(v_kept) = 0 THEN 'all_dropped' END,
        CASE WHEN cardinality(v_kept) = 0
             THEN format('no card passed the guards (%s dropped%s)', jsonb_array_length(v_judged -> 'dropped'),
                         CASE WHEN jsonb_array_length(v_judged -> 'review' -> 'rejected') > 0
                              THEN format(', %s by the review', jsonb_array_length(v_judged -> 'review' -> 'rejected')) END) END,
        v_kept, v_retired, v_judged -> 'dropped', v_judged -> 'review');
END
$$;

CREATE FUNCTION public.study_card_add_source_jobs(p_kind text, p_source_ids bigint[], OUT made integer, OUT runnable integer) RETURNS record
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
DECLARE
    v_debounce interval;
BEGIN
    made := 0;
    runnable := 0;
    IF coalesce(cardinality(p_source_ids), 0) = 0 THEN
        RETURN;
    END IF;
    -- One statement per kind, the kind a constant: the planner drops the other branch
    -- of study_card_ready_sources, and a question's insert carries no UPDATE to set up.
    -- The focus by a join, not study_card_topic_focus per row: a SQL function with a
    -- FROM clause is not inlined, and its call cost ~8 us a row in a bulk update.
    -- The ids are read back through the views: one missing, deleted, not ready, or whose
    -- version has its job already (ON CONFLICT DO NOTHING) makes nothing.
    IF p_kind = 'question' THEN
        WITH enqueued AS (
            INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind, priority)
            SELECT s.user_id, 'question', s.source_id, s.version, 'card_extract', study_card_priority(t.focus)
              FROM study_card_ready_sources() AS s
              LEFT JOIN study_card_host_topics t ON t.id = s.topic_id
             WHERE s.source_kind = 'question' AND s.source_id = ANY (p_source_ids)
            ON CONFLICT DO NOTHING
            RETURNING run_after)
        SELECT count(*), count(*) FILTER (WHERE e.run_after <= now()) INTO made, runnable FROM enqueued e;
    ELSIF p_kind = 'subject_note' THEN
        -- a note's job waits the debounce and closes the note's older pending jobs
        -- (skipped, stale_version), so typing in a note calls the LLM once
        v_debounce := study_card_note_debounce();
        WITH enqueued AS (
            INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind, priority, run_after)
            SELECT s.user_id, 'subject_note', s.source_id, s.version, 'card_extract', study_card_priority(t.focus),
                   now() + v_debounce
              FROM study_card_ready_sources() AS s
              LEFT JOIN study_card_host_topics t ON t.id = s.topic_id
             WHERE s.source_kind = 'subject_note' AND s.source_id = ANY (p_source_ids)
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
        SELECT count(*), count(*) FILTER (WHERE e.run_after <= now()) INTO made, runnable FROM enqueued e;
    ELSE
        RAISE EXCEPTION 'unknown source kind % to enqueue, expected question or subject_note', p_kind
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

CREATE FUNCTION public.study_card_invisibles() RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN '\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF0-\uFFF8\U0001BCA0-\U0001BCA3\U0001D173-\U0001D17A\U000E0000-\U000E0FFF'::text;

CREATE FUNCTION public.study_card_letters() RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN '0-9a-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u0370-\u03FF\u0400-\u04FF\u1100-\u11FF\u3040-\u30FF\u3131-\u318E\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7A3'::text;

CREATE FUNCTION public.study_card_operators() RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN '-+*/%=<>|&^~@#$_\\\u00AC\u00B1\u00D7\u00F7\u2190-\u21FF\u2200-\u22FF'::text;

CREATE FUNCTION public.study_card_spaces() RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN '\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000'::text;

CREATE FUNCTION public.study_card_visible(p_text text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN regexp_replace(NORMALIZE(regexp_replace(p_text, (('['::text || public.study_card_invisibles()) || ']'::text), ''::text, 'g'::text), NFKC), (('['::text || public.study_card_invisibles()) || ']'::text), ''::text, 'g'::text);

CREATE FUNCTION public.study_card_norm(p_text text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN (SELECT CASE WHEN ((t.letters = ''::text) AND ((t.compact ~ (('['::text || public.study_card_operators()) || ']'::text)) OR (t.compact ~ '^[.,:;!]$'::text))) THEN t.compact ELSE t.letters END AS letters FROM (SELECT regexp_replace(v.visible, (('['::text || public.study_card_spaces()) || ']'::text), ''::text, 'g'::text) AS compact, regexp_replace(lower((v.visible COLLATE "C")), (('[^'::text || public.study_card_letters()) || ']'::text), ''::text, 'g'::text) AS letters FROM (SELECT public.study_card_visible(study_card_norm.p_text) AS visible) v) t);

CREATE FUNCTION public.study_card_answer_key(p_card_type text, p_answer text, p_cloze_text text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE p_card_type WHEN 'qa'::text THEN public.study_card_norm(p_answer) ELSE (SELECT string_agg(public.study_card_norm(split_part(d.parts[1], '::'::text, 1)), '|'::text ORDER BY d.ord) AS string_agg FROM regexp_matches(study_card_answer_key.p_cloze_text, '\{\{c[0-9]{1,4}::([^{}]*)\}\}'::text, 'g'::text) WITH ORDINALITY d(parts, ord)) END;

CREATE FUNCTION public.study_card_apply_review(p_judged jsonb, p_review jsonb) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_problem text := study_card_review_problem(p_review);
    v_item jsonb;
    v_index numeric;
    v_dropped_reason text;
    v_seen numeric[] := '{}';
    v_rejected jsonb := '{}';    -- index (as text) -> the review_rejected drop
    v_ignored jsonb[] := '{}';
    v_why text;
BEGIN
    IF v_problem IS NOT NULL THEN  -- malformed (study_card_review_problem): every survivor kept
        RETURN p_judged || jsonb_build_object('review', jsonb_build_object('applied', false, 'problem', v_problem));
    END IF;
    -- ignored: verdicts naming no card of the result, a card a guard already dropped, or
    -- a card an earlier verdict named (the first verdict for a card counts)
    FOR v_item IN SELECT v.value FROM jsonb_array_elements(p_review -> 'verdicts') WITH ORDINALITY AS v(value, ord) ORDER BY v.ord
    LOOP
        v_index := (v_item ->> 'index')::numeric;
        v_why := NULL;
        IF v_index = ANY (v_seen) THEN
            v_why := format('card %s has an earlier verdict', v_index);
        ELSIF NOT EXISTS (SELECT FROM jsonb_array_elements(p_judged -> 'survivors') AS s
                           WHERE (s.value ->> 'index')::numeric = v_index) THEN
            SELECT d.value ->> 'reason' INTO v_dropped_reason
              FROM jsonb_array_elements(p_judged -> 'dropped') AS d
             WHERE (d.value ->> 'index')::numeric = v_index;
            v_why := CASE WHEN FOUND THEN format('card %s was already dropped (%s)', v_index, v_dropped_reason)
                          ELSE format('the result has no card %s', v_index) END;
        ELSIF v_item ->> 'verdict' = 'reject' THEN
            v_rejected := v_rejected || jsonb_build_object(v_index::integer::text, jsonb_build_object(
                'index', v_index::integer, 'reason', 'review_rejected',
                'detail', format('%s: %s', v_item ->> 'class', btrim(v_item ->> 'reason'))));
        END IF;
        IF v_why IS NOT NULL THEN
            v_ignored := v_ignored || jsonb_build_object('index', v_item -> 'index', 'verdict', v_item -> 'verdict', 'why', v_why);
        ELSE
            v_seen := v_seen || v_index;
        END IF;
    END LOOP;
    RETURN jsonb_build_object(
        'survivors', (SELECT coalesce(jsonb_agg(s.value ORDER BY s.ord), '[]')
                        FROM jsonb_array_elements(p_judged -> 'survivors') WITH ORDINALITY AS s(value, ord)
                       WHERE NOT v_rejected ? (s.value ->> 'index')),
        'dropped', (p_judged -> 'dropped') || (SELECT coalesce(jsonb_agg(r.value ORDER BY r.key::integer), '[]')
                                                 FROM jsonb_each(v_rejected) AS r),
        'review', jsonb_build_object(
            'applied', true,
            'rejected', (SELECT coalesce(jsonb_agg(r.value -> 'index' ORDER BY r.key::integer), '[]') FROM jsonb_each(v_rejected) AS r),
            'ignored', to_jsonb(v_ignored)));
END
$$;

CREATE FUNCTION public.study_card_card_text(p_card jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
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
    -- documents only: no trigger or sweep follows their versions, so the request would
    -- be lost; the other kinds' new versions are enqueued by their triggers and the sweep
    INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind, priority)
    SELECT j.user_id, j.source_kind, j.source_id, s.version, j.kind, j.priority
      FROM study_memo_card_jobs j
     CROSS JOIN LATERAL study_card_source(j.source_kind, j.source_id) AS s
     WHERE j.id = p_job_id AND j.source_kind = 'document' AND j.error_code = 'stale_version'
       AND j.status = 'skipped' AND s.version IS NOT NULL
    ON CONFLICT DO NOTHING  -- study_memo_card_jobs_version_uniq: that version's job stays
    RETURNING id INTO v_new_id;
    PERFORM study_card_notify(CASE WHEN v_new_id IS NULL THEN 0 ELSE 1 END);
    RETURN v_new_id;
END
$$;

CREATE FUNCTION public.study_card_check(p_card jsonb, p_sources jsonb, OUT reason text, OUT detail text) RETURNS record
    LANGUAGE plpgsql STABLE
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
    AS $$
DECLARE
    v_evidence jsonb := coalesce(nullif(p_card -> 'evidence', 'null'), '[]');
    v_item jsonb;
    v_index integer;
    v_handle text;
    v_missing text[];
    v_quantities text[];
    v_needs text[];
    v_names text[];
    v_card_text text;
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
        IF jsonb_typeof(v_item -> 'source') <> 'string' OR NOT p_sources ? (v_item ->> 'source') THEN
            reason := 'evidence_foreign';
            detail := format('evidence %s cites %s, which is not a source gathered for this job',
                             v_index, v_item -> 'source');
            RETURN;
        END IF;
    END LOOP;
    FOR v_item, v_index IN
        SELECT e.value, e.ord - 1 FROM jsonb_array_elements(v_evidence) WITH ORDINALITY AS e(value, ord)
    LOOP
        -- path lookups (#>>) copy one string out of p_sources, not the source's whole entry
        v_handle := v_item ->> 'source';
        IF coalesce(strpos(p_sources #>> ARRAY[v_handle, 'norm'], study_card_norm(v_item ->> 'quote')), 0) = 0 THEN
            reason := 'evidence_not_found';
            detail := format('evidence %s: the quote is not in %s', v_index, v_item ->> 'source');
            RETURN;
        END IF;
        IF NOT (p_sources #>> ARRAY[v_handle, 'bidi'])::boolean AND v_item ->> 'quote' ~ '[\u202A-\u202E\u2066-\u2069]' THEN
            reason := 'evidence_not_found';
            detail := format('evidence %s: the quote has bidi controls that %s does not have', v_index, v_item ->> 'source');
            RETURN;
        END IF;
        IF study_card_in_place(v_item ->> 'quote', p_sources #>> ARRAY[v_handle, 'text']) THEN
            CONTINUE;  -- verbatim: its numbers and names are the source's
        END IF;
        -- one read of the quote for its numbers and its names
        SELECT f.quantities, f.needs, f.names INTO v_quantities, v_needs, v_names
          FROM study_card_number_facts(v_item ->> 'quote') AS f;
        v_missing := study_card_unsupported_quantities(
            v_quantities, v_needs, ARRAY(SELECT jsonb_array_elements_text(p_sources #> ARRAY[v_handle, 'keys'])));
        IF cardinality(v_missing) > 0 THEN
            reason := 'evidence_not_found';
            detail := format('evidence %s: the quote''s number %s is not a number of %s',
                             v_index, array_to_string(v_missing, ', '), v_item ->> 'source');
            RETURN;
        END IF;
        v_missing := study_card_names_not_in(v_names, p_sources #>> ARRAY[v_handle, 'norm'],
                                             ARRAY(SELECT jsonb_array_elements_text(p_sources #> ARRAY[v_handle, 'names'])));
        IF cardinality(v_missing) > 0 THEN
            reason := 'evidence_not_found';
            detail := format('evidence %s: the quote''s name %s is not a name of %s',
                             v_index, array_to_string(v_missing, ', '), v_item ->> 'source');
            RETURN;
        END IF;
    END LOOP;
    v_card_text := study_card_card_text(p_card);
    -- one read of the card's text for its numbers and its names; the quotes are read only
    -- when the card states a number
    SELECT f.quantities, f.needs, f.names INTO v_quantities, v_needs, v_names
      FROM study_card_number_facts(v_card_text) AS f;
    IF cardinality(v_quantities) > 0 THEN
        v_missing := study_card_unsupported_quantities(v_quantities, v_needs, study_card_quantity_keys(
            (SELECT string_agg(e.value ->> 'quote', E'\n') FROM jsonb_array_elements(v_evidence) AS e)));
        IF cardinality(v_missing) > 0 THEN
            reason := 'quantity_unsupported';
            detail := array_to_string(v_missing, ', ') || ' not in evidence';
            RETURN;
        END IF;
    END IF;
    -- the cited handles once each; each source's text is read out of p_sources once
    v_missing := (SELECT study_card_names_not_in(
                             v_names,
                             string_agg(p_sources #>> ARRAY[c.handle, 'norm'], '|'),
                             ARRAY(SELECT DISTINCT n.name
                                     FROM unnest(array_agg(c.handle)) AS h(handle),
                                          jsonb_array_elements_text(p_sources #> ARRAY[h.handle, 'names']) AS n(name)))
                    FROM (SELECT DISTINCT e.value ->> 'source' AS handle
                            FROM jsonb_array_elements(v_evidence) AS e) AS c);
    IF cardinality(v_missing) > 0 THEN
        reason := 'quantity_unsupported';
        detail := format('the name %s is not in the cited sources', array_to_string(v_missing, ', '));
        RETURN;
    END IF;
    IF p_card ->> 'type' = 'qa' THEN
        IF study_card_leaks(p_card ->> 'answer', study_card_without_options(p_card ->> 'cue')) THEN
            reason := 'cue_leaks_answer';
            detail := format('the answer "%s" is visible in the cue', p_card ->> 'answer');
            RETURN;
        END IF;
        -- the answer only: a cue may list options ('GROUP BY, HAVING, ORDER BY 중 …')
        detail := (SELECT format('the answer "%s" lists %s items; one fact per card', p_card ->> 'answer', l.items)
                     FROM (SELECT study_card_list_items(p_card ->> 'answer') AS items) AS l
                    WHERE l.items IS NOT NULL);
    ELSE
        detail := study_card_cloze_problem(p_card ->> 'text');
        IF detail IS NOT NULL THEN
            reason := 'cloze_malformed';
            RETURN;
        END IF;
        detail := study_card_cloze_leak(p_card ->> 'text');
        IF detail IS NOT NULL THEN
            reason := 'cloze_leaks_answer';
            RETURN;
        END IF;
        -- each deletion's answer, not its hint; one deletion per item is fine
        -- ('{{c1::A}}, {{c2::B}}')
        detail := (SELECT format('c%s answer "%s" lists %s items; one deletion per item', d.n, d.answer, l.items)
                     FROM study_card_cloze_deletions(p_card ->> 'text') AS d,
                          LATERAL (SELECT study_card_list_items(d.answer) AS items) AS l
                    WHERE l.items IS NOT NULL
                    ORDER BY d.ord LIMIT 1);
    END IF;
    IF detail IS NOT NULL THEN
        reason := 'list_answer';
    END IF;
END
$$;

CREATE FUNCTION public.study_card_check_result(p_job_id bigint, p_worker text, p_result jsonb) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
    AS $$
DECLARE
    v_job study_memo_card_jobs := study_card_lock_job(p_job_id, p_worker);
    v_cards jsonb := study_card_result_cards(p_result);
    v_problem text := study_card_source_problem(v_job.source_kind, v_job.source_id, v_job.source_version);
    v_judged jsonb;
BEGIN
    IF v_problem IS NOT NULL THEN
        RETURN jsonb_build_object('job_id', v_job.id, 'status', 'skipped', 'error_code', v_problem,
                                  'kept', '[]'::jsonb, 'dropped', '[]'::jsonb);
    END IF;
    v_judged := study_card_judge(v_job, v_cards);
    RETURN jsonb_build_object(
        'job_id', v_job.id, 'status', 'completed',
        'error_code', CASE WHEN jsonb_array_length(v_judged -> 'survivors') = 0 THEN 'all_dropped' END,
        'kept', (SELECT coalesce(jsonb_agg(s.value -> 'index'), '[]') FROM jsonb_array_elements(v_judged -> 'survivors') AS s),
        'dropped', v_judged -> 'dropped');
END
$$;

CREATE FUNCTION public.study_card_choice_key(p_label text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN regexp_replace(regexp_replace(lower(regexp_replace(public.study_card_visible(p_label), (('['::text || public.study_card_spaces()) || ']+'::text), ''::text, 'g'::text)), '^[(\[](.*)[)\]]$'::text, '\1'::text), '(번|\.|\))$'::text, ''::text);

CREATE FUNCTION public.study_card_choice_label(p_n integer) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN ((p_n >= 1) AND (p_n <= 20)) THEN (chr((9311 + p_n)) || '.'::text) ELSE (('('::text || p_n) || ')'::text) END;

CREATE FUNCTION public.study_card_cited_sources(p_handles jsonb, p_cards jsonb) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
    AS $$
DECLARE
    v_sources jsonb;
    v_items jsonb;  -- [{"source", "quote", "card"}]: the evidence items with a string quote
    v_handle text;
    v_raw text;
BEGIN
    SELECT coalesce(jsonb_object_agg(cited.handle, jsonb_build_object(
               'kind', r.ref ->> 'kind', 'id', (r.ref ->> 'id')::bigint, 'text', study_card_collapsed(src.text),
               'norm', study_card_norm(src.text), 'bidi', coalesce(src.text ~ '[\u202A-\u202E\u2066-\u2069]', false))), '{}')
      INTO v_sources
      FROM (SELECT DISTINCT item.value ->> 'source' AS handle
              FROM jsonb_array_elements(p_cards) AS card
             CROSS JOIN jsonb_array_elements(CASE WHEN jsonb_typeof(card.value -> 'evidence') = 'array'
                                                  THEN card.value -> 'evidence' ELSE '[]' END) AS item
             WHERE jsonb_typeof(item.value -> 'source') = 'string') AS cited
     CROSS JOIN LATERAL (SELECT p_handles -> cited.handle AS ref) AS r
     CROSS JOIN LATERAL (SELECT study_card_source_text(r.ref ->> 'kind', (r.ref ->> 'id')::bigint) AS text) AS src
     WHERE jsonb_typeof(r.ref) = 'object';

    -- keys and names only for a source that a quote cites not study_card_in_place, or
    -- whose norm lacks a name of a card citing it: reading every number of a large
    -- document costs seconds, and a verbatim quote needs none of it. The cheap test first,
    -- over all of a source's quotes: a card's names cost a read of its text (0.6 ms or
    -- more), not needed once one quote is not in place.
    SELECT coalesce(jsonb_agg(jsonb_build_object('source', item.value ->> 'source', 'quote', item.value ->> 'quote',
                                                 'card', card.value)), '[]')
      INTO v_items
      FROM jsonb_array_elements(p_cards) AS card
     CROSS JOIN jsonb_array_elements(CASE WHEN jsonb_typeof(card.value -> 'evidence') = 'array'
                                          THEN card.value -> 'evidence' ELSE '[]' END) AS item
     WHERE v_sources ? (item.value ->> 'source') AND jsonb_typeof(item.value -> 'quote') = 'string';
    FOR v_handle IN SELECT DISTINCT i.value ->> 'source' FROM jsonb_array_elements(v_items) AS i LOOP
        IF NOT EXISTS (SELECT FROM jsonb_array_elements(v_items) AS i
                        WHERE i.value ->> 'source' = v_handle
                          AND NOT study_card_in_place(i.value ->> 'quote', v_sources #>> ARRAY[v_handle, 'text'])) THEN
            CONTINUE WHEN NOT EXISTS (
                SELECT FROM jsonb_array_elements(v_items) AS i
                 WHERE i.value ->> 'source' = v_handle
                   AND cardinality(study_card_missing_names(study_card_card_text(i.value -> 'card'),
                                                            v_sources #>> ARRAY[v_handle, 'norm'])) > 0);
        END IF;
        v_raw := study_card_source_text(p_handles -> v_handle ->> 'kind', (p_handles -> v_handle ->> 'id')::bigint);
        -- one read for both (study_card_number_facts: each distinct already)
        v_sources := jsonb_set(v_sources, ARRAY[v_handle], (v_sources -> v_handle) || (
            SELECT jsonb_build_object('keys', to_jsonb(f.keys), 'names', to_jsonb(f.names))
              FROM study_card_number_facts(v_raw) AS f));
    END LOOP;
    RETURN v_sources;
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
    locked_by_role text,
    lease_renewed_at timestamp with time zone,
    takeovers integer DEFAULT 0 NOT NULL,
    CONSTRAINT study_memo_card_jobs_error_code_check CHECK (((error_code)::text = ANY ((ARRAY['all_dropped'::character varying, 'lease_expired'::character varying, 'llm_timeout'::character varying, 'no_ready_explanation'::character varying, 'parse_fail'::character varying, 'source_deleted'::character varying, 'stale_version'::character varying, 'unknown'::character varying])::text[]))),
    CONSTRAINT study_memo_card_jobs_lease_check CHECK (
CASE
    WHEN ((status)::text = 'processing'::text) THEN (num_nulls(locked_by, locked_by_role, lease_expires_at, lease_renewed_at) = 0)
    ELSE (num_nonnulls(locked_by, lease_expires_at) = 0)
END),
    CONSTRAINT study_memo_card_jobs_status_check CHECK (((status)::text = ANY ((ARRAY['pending'::character varying, 'processing'::character varying, 'completed'::character varying, 'failed'::character varying, 'skipped'::character varying])::text[]))),
    CONSTRAINT study_memo_card_jobs_takeovers_check CHECK ((takeovers >= 0))
);

CREATE FUNCTION public.study_card_claim(p_worker text, p_limit integer DEFAULT 1, p_lease interval DEFAULT '00:10:00'::interval) RETURNS SETOF public.study_memo_card_jobs
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
DECLARE
    v_wanted int := p_limit;
    v_ids bigint[];
    v_stale bigint[];  -- of v_ids, those closed as stale_version: a requested document's may be carried
    v_claimed int;
    v_max_lease constant interval := study_card_max_lease();
    v_lease interval;
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
    v_lease := least(p_lease, v_max_lease);
    -- A claim is a lease, not a result: if a crash loses its commit, its jobs are back as
    -- they were (pending, or processing under the old lease) and are claimed again; the
    -- worker that had them gets 55000 from commit_cards and drops one LLM answer. Nothing
    -- is lost or done twice in the database. Not waiting for the flush saves one of the
    -- two WAL flushes per job (bench/README.md, queue_throughput). Only when the claim is
    -- the transaction's first write, so that no earlier write of the caller's loses its
    -- durability.
    IF pg_current_xact_id_if_assigned() IS NULL THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;

    -- A lost lease is an attempt ended with lease_expired: a job the vocabulary does not
    -- send back to pending is closed here, the others are taken over below. The ids are
    -- collected once (an ARRAY, an InitPlan), not as `id IN (SELECT …)`: a generic plan
    -- made while the table was empty (a worker polling an empty queue) joins that as a
    -- nested loop that scans the whole table again for each of its rows (50,000 jobs: one
    -- claim took 133 s).
    UPDATE study_memo_card_jobs
       SET status = study_card_next_status('lease_expired', attempts, max_attempts),
           error_code = 'lease_expired', completed_at = now(),
           error_message = format('lease of %s (%s) expired at %s; no attempt left', locked_by, locked_by_role,
                                  study_card_lease_end(lease_expires_at, lease_renewed_at, v_max_lease)),
           locked_by = NULL, lease_expires_at = NULL, takeovers = takeovers + 1
     WHERE id = ANY (ARRAY(SELECT id FROM study_memo_card_jobs
                            WHERE status = 'processing'
                              AND study_card_lease_end(lease_expires_at, lease_renewed_at, v_max_lease) < now()
                              AND study_card_next_status('lease_expired', attempts, max_attempts) <> 'pending'
                              FOR UPDATE SKIP LOCKED));

    -- Until limit jobs: first the jobs whose lease is over (a vanished worker's) and that
    -- have an attempt left, then pending jobs whose run_after has come; highest priority
    -- first, then the oldest.
    LOOP
        v_ids := ARRAY(SELECT id FROM study_memo_card_jobs
                        WHERE status = 'processing' AND study_card_lease_end(lease_expires_at, lease_renewed_at, v_max_lease) < now()
                          AND study_card_next_status('lease_expired', attempts, max_attempts) = 'pending'
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

        -- A job whose source is gone, not ready or at another version is closed with
        -- study_card_source_problem's code (closes_with: skipped) and not returned; a
        -- requested document that changed is carried to its current version.
        WITH closed AS (
            UPDATE study_memo_card_jobs j
               SET status = e.closes_with, error_code = c.problem, completed_at = now(),
                   error_message = format('closed at claim by %s', p_worker),
                   locked_by = NULL, lease_expires_at = NULL
              FROM (SELECT id, study_card_source_problem(source_kind, source_id, source_version) AS problem
                      FROM study_memo_card_jobs
                     WHERE id = ANY (v_ids)) AS c
              JOIN study_card_error_codes e ON e.code = c.problem
             WHERE j.id = c.id
            RETURNING j.id, j.error_code)
        SELECT array_agg(id) FILTER (WHERE error_code = 'stale_version') INTO v_stale FROM closed;
        IF v_stale IS NOT NULL THEN
            PERFORM study_card_carry_request(id) FROM unnest(v_stale) AS id;
        END IF;

        -- locked_by_role: every later call for the job must come from this login role; a
        -- longer lease is capped, not refused (the rows returned show the lease granted);
        -- a job taken over records the lost attempt as lease_expired
        RETURN QUERY
        UPDATE study_memo_card_jobs j
           SET status = 'processing', attempts = j.attempts + 1, started_at = now(),
               locked_by = p_worker, locked_by_role = session_user,
               lease_expires_at = now() + v_lease, lease_renewed_at = now(),
               takeovers = j.takeovers + CASE WHEN j.status = 'processing' THEN 1 ELSE 0 END,
               error_code = CASE WHEN j.status = 'processing' THEN 'lease_expired' ELSE j.error_code END,
               error_message = CASE WHEN j.status = 'processing'
                                    THEN format('lease of %s (%s) expired at %s; taken over by %s (%s)',
                                                j.locked_by, j.locked_by_role,
                                                study_card_lease_end(j.lease_expires_at, j.lease_renewed_at, v_max_lease),
                                                p_worker, session_user)
                                    ELSE j.error_message END
         WHERE j.id = ANY (v_ids)  -- and not closed just above:
           AND j.status IN (SELECT status FROM study_card_job_statuses WHERE NOT terminal)
        RETURNING j.*;
        GET DIAGNOSTICS v_claimed = ROW_COUNT;

        -- Fewer candidates than wanted means the queue has nothing more to give.
        EXIT WHEN v_claimed = v_wanted OR cardinality(v_ids) < v_wanted;
        v_wanted := v_wanted - v_claimed;
    END LOOP;
END
$$;

CREATE FUNCTION public.study_card_close_job(p_job_id bigint, p_status text, p_error_code text, p_error_message text, p_kept bigint[], p_retired bigint[], p_dropped jsonb, p_review jsonb DEFAULT NULL::jsonb) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_report jsonb := jsonb_build_object(
        'job_id', p_job_id, 'status', p_status, 'error_code', p_error_code,
        'kept', to_jsonb(p_kept), 'retired', to_jsonb(p_retired), 'dropped', p_dropped)
        || CASE WHEN p_review IS NOT NULL THEN jsonb_build_object('review', p_review) ELSE '{}' END;
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
    SET standard_conforming_strings TO 'on'
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
    SET standard_conforming_strings TO 'on'
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
    SET standard_conforming_strings TO 'on'
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
    SET standard_conforming_strings TO 'on'
    AS $$
    SELECT string_agg(part.piece || coalesce(CASE WHEN d.n = p_n THEN ' [' || coalesce(d.hint, '…') || '] '
                                                  ELSE d.answer END, ''),
                      '' ORDER BY part.ord)
      FROM regexp_split_to_table(p_text, '\{\{c[0-9]{1,4}::[^{}]*\}\}') WITH ORDINALITY AS part(piece, ord)
      LEFT JOIN study_card_cloze_deletions(p_text) AS d ON d.ord = part.ord
$$;

CREATE FUNCTION public.study_card_collapsed(p_text text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN regexp_replace(public.study_card_visible(p_text), (('['::text || public.study_card_spaces()) || ']+'::text), ' '::text, 'g'::text);

CREATE FUNCTION public.study_card_commit_lock(p_scope text, p_value text) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN hashtextextended(((('study_card commit '::text || p_scope) || ' '::text) || p_value), (0)::bigint);

CREATE FUNCTION public.study_card_delete(p_card_id bigint) RETURNS boolean
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
    WITH deleted AS (
        UPDATE study_memo_cards
           SET deleted_at = now(), retired_reason = 'user_deleted', updated_at = now()
         -- active only: a card already retired by a newer version is not one the user
         -- saw and rejected
         WHERE id = p_card_id AND deleted_at IS NULL
        RETURNING id)
    SELECT EXISTS (SELECT FROM deleted)
$$;

CREATE FUNCTION public.study_card_enqueue(p_limit integer DEFAULT 100) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_made int := 0;
    v_runnable int := 0;
    v_kind text;
    v_ids bigint[];
    v_added record;
BEGIN
    IF p_limit IS NULL OR p_limit < 1 THEN
        RAISE EXCEPTION 'p_limit must be at least 1, got %', p_limit USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR v_kind, v_ids IN
        SELECT d.source_kind, array_agg(d.source_id)
          FROM (SELECT s.source_kind, s.source_id
                  FROM study_card_ready_sources() AS s
                 WHERE NOT EXISTS (SELECT FROM study_memo_card_jobs j
                                    WHERE j.source_kind = s.source_kind AND j.source_id = s.source_id
                                      AND j.source_version = s.version AND j.kind = 'card_extract')
                 ORDER BY s.version, s.source_kind, s.source_id
                 LIMIT p_limit) AS d
         GROUP BY d.source_kind
    LOOP
        v_added := study_card_add_source_jobs(v_kind, v_ids);
        v_made := v_made + v_added.made;
        v_runnable := v_runnable + v_added.runnable;
    END LOOP;
    PERFORM study_card_notify(v_runnable);
    RETURN v_made;
END
$$;

CREATE FUNCTION public.study_card_enqueue_ids(p_kind text, p_ids text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_added record;
BEGIN
    v_added := study_card_add_source_jobs(p_kind, string_to_array(p_ids, ',')::bigint[]);
    IF v_added.runnable > 0 THEN
        PERFORM set_config('study_card.runnable',
                           (coalesce(nullif(current_setting('study_card.runnable', true), ''), '0')::int
                            + v_added.runnable)::text, true);
    END IF;
END
$$;

CREATE FUNCTION public.study_card_enqueue_source(p_kind text, p_id bigint) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_pending text;
BEGIN
    IF p_kind = 'question' THEN
        v_pending := current_setting('study_card.pending_question', true);
    ELSIF p_kind = 'subject_note' THEN
        v_pending := current_setting('study_card.pending_subject_note', true);
    ELSE
        RAISE EXCEPTION 'unknown source kind % for a trigger, expected question or subject_note', p_kind
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_pending IS NULL OR v_pending = '' THEN
        PERFORM set_config('study_card.pending_' || p_kind, p_id::text, true);
    -- a row costs an append to a short string (~2 us; a longer one costs more per row);
    -- a bulk update, one INSERT ... SELECT per ~300 rows instead of one INSERT per row
    -- (~25 us each: bench/README.md)
    ELSIF octet_length(v_pending) < 2000 THEN  -- octet_length: length() counts characters
        PERFORM set_config('study_card.pending_' || p_kind, v_pending || ',' || p_id, true);
    ELSE
        PERFORM set_config('study_card.pending_' || p_kind, '', true);
        PERFORM study_card_enqueue_ids(p_kind, v_pending || ',' || p_id);
    END IF;
END
$$;

CREATE FUNCTION public.study_card_enqueue_sources(p_kind text, p_source_ids bigint[]) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_added record;
BEGIN
    v_added := study_card_add_source_jobs(p_kind, p_source_ids);
    PERFORM study_card_notify(v_added.runnable);
    RETURN v_added.made;
END
$$;

CREATE FUNCTION public.study_card_enqueue_statement() RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_pending text;
    v_runnable int;
BEGIN
    v_pending := current_setting('study_card.pending_question', true);
    IF v_pending <> '' THEN
        PERFORM set_config('study_card.pending_question', '', true);
        PERFORM study_card_enqueue_ids('question', v_pending);
    END IF;
    v_pending := current_setting('study_card.pending_subject_note', true);
    IF v_pending <> '' THEN
        PERFORM set_config('study_card.pending_subject_note', '', true);
        PERFORM study_card_enqueue_ids('subject_note', v_pending);
    END IF;
    v_runnable := coalesce(nullif(current_setting('study_card.runnable', true), ''), '0')::int;
    IF v_runnable > 0 THEN
        PERFORM set_config('study_card.runnable', '0', true);
        PERFORM study_card_notify(v_runnable);
    END IF;
    RETURN v_runnable;
END
$$;

CREATE FUNCTION public.study_card_fail(p_job_id bigint, p_worker text, p_error_code text, p_message text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_code study_card_error_codes;
    v_job study_memo_card_jobs;
    v_status text;
    v_worker_codes text := (SELECT string_agg(code, ', ' ORDER BY code)
                              FROM study_card_error_codes WHERE recorded_by = 'worker');
BEGIN
    SELECT * INTO v_code FROM study_card_error_codes WHERE code = p_error_code;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown error code %', coalesce(quote_literal(p_error_code), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('a worker records one of: %s', v_worker_codes);
    -- The other codes are the database's (claim, reap and commit_cards record them): a
    -- worker that could record one that ends a job for good would close a current
    -- version for good (the sweep never extracts it again).
    ELSIF v_code.recorded_by <> 'worker' THEN
        RAISE EXCEPTION 'error code % is recorded by the database only, not through study_card_fail', p_error_code
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = v_code.meaning,
                  HINT = format('a worker records one of: %s', v_worker_codes);
    END IF;
    v_job := study_card_held_job(p_job_id, p_worker);
    v_status := study_card_next_status(p_error_code, v_job.attempts, v_job.max_attempts);
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

CREATE FUNCTION public.study_card_flag_for_review(p_kind text, p_id bigint, p_reason text) RETURNS void
    LANGUAGE sql
    SET search_path TO 'public', 'pg_temp'
    AS $$
    UPDATE study_questions
       SET needs_review = true, needs_review_reason = p_reason, needs_review_at = now()
     WHERE p_kind = 'question' AND id = p_id
$$;

CREATE FUNCTION public.study_card_gather(p_job_id bigint, p_k integer DEFAULT 6, p_query_embedding public.vector DEFAULT NULL::public.vector, p_worker text DEFAULT NULL::text) RETURNS TABLE(handle text, source_kind text, source_id bigint, title text, body text, score double precision)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    SET enable_seqscan TO 'off'
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
    v_problem text;
BEGIN
    IF p_k IS NULL OR p_k NOT BETWEEN 0 AND 50 THEN
        RAISE EXCEPTION 'k must be between 0 and 50, not %', p_k USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_worker IS NULL THEN
        RAISE EXCEPTION 'study_card_gather needs p_worker, the worker name job % was claimed with', p_job_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_job := study_card_held_job(p_job_id, p_worker);
    v_problem := study_card_source_problem(v_job.source_kind, v_job.source_id, v_job.source_version);
    IF v_problem IS NOT NULL THEN
        -- closed as commit_cards would, with study_card_source_problem's code
        PERFORM study_card_close_job(v_job.id, 'skipped', v_problem,
                                     format('closed at gather: the source is %s', replace(v_problem, '_', ' ')),
                                     '{}', '{}', '[]');
        PERFORM study_card_carry_request(v_job.id);
        RETURN;
    END IF;
    v_pool := greatest(20, p_k * 4);
    -- query_embedding NULL: the source's own embedding
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
      FROM (WITH near AS MATERIALIZED (
                SELECT * FROM study_card_related_by_vector(v_job.user_id, v_query, v_pool,
                                                           v_job.source_kind, v_job.source_id)
                 WHERE v_query IS NOT NULL)
            -- reciprocal-rank fusion; no embedding (v_query NULL): the text ranking alone
            SELECT hit.source_kind AS kind, hit.source_id AS id, sum(1.0 / (60 + hit.rank))::double precision AS score
              FROM (SELECT * FROM near
                    UNION ALL
                    SELECT * FROM study_card_related_by_text(
                        v_job.user_id, study_card_source_query(v_job.source_kind, v_job.source_id),
                        v_pool, v_job.source_kind, v_job.source_id,
                        ARRAY(SELECT n.source_id FROM near n WHERE n.source_kind = 'document_chunk'),
                        ARRAY(SELECT n.source_id FROM near n WHERE n.source_kind = 'subject_note'))) AS hit
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
    -- replaces earlier handles; body below is study_card_source_text, what quotes are checked against
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

CREATE FUNCTION public.study_card_generic_words() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ARRAY['패턴'::text, '방법'::text, '방식'::text, '기법'::text, '시대'::text, '구조'::text, '단계'::text, '과정'::text, '원칙'::text, '개념'::text, '종류'::text, '유형'::text, '기능'::text, '특징'::text, '역할'::text, '형태'::text, '이론'::text, '모델'::text, '기술'::text, '현상'::text, '제도'::text, '정책'::text, '연산자'::text, '명령어'::text, '키워드'::text, '함수'::text, '대첩'::text, '전투'::text, '전쟁'::text, '운동'::text, '조약'::text, '사건'::text, '왕조'::text, 'pattern'::text, 'method'::text, 'model'::text, 'operator'::text];

CREATE FUNCTION public.study_card_heartbeat(p_job_id bigint, p_worker text, p_lease interval DEFAULT '00:10:00'::interval) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_job study_memo_card_jobs;
    v_locked boolean;
BEGIN
    IF p_lease IS NULL OR p_lease <= interval '0' THEN
        RAISE EXCEPTION 'p_lease must be positive, got %', p_lease USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- never wait: the row's holder may be commit_cards closing the job, which can take a
    -- while
    SELECT * INTO v_job FROM study_memo_card_jobs WHERE id = p_job_id FOR NO KEY UPDATE SKIP LOCKED;
    v_locked := FOUND;
    IF NOT v_locked THEN  -- missing, or its row is locked by another transaction
        SELECT * INTO v_job FROM study_memo_card_jobs WHERE id = p_job_id;
    END IF;
    IF v_job.status IS DISTINCT FROM 'processing' THEN
        RETURN NULL;
    ELSIF v_job.locked_by IS DISTINCT FROM p_worker OR v_job.locked_by_role IS DISTINCT FROM session_user THEN
        RETURN false;
    END IF;
    IF v_locked THEN
        UPDATE study_memo_card_jobs
           SET lease_expires_at = now() + least(p_lease, study_card_max_lease()), lease_renewed_at = now()
         WHERE id = p_job_id;
    END IF;
    RETURN true;
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
    -- session_user, not current_user: inside the SECURITY DEFINER functions that call
    -- this, current_user is their owner, and a member of study_card_worker cannot change
    -- its session_user
    IF v_job.locked_by_role IS DISTINCT FROM session_user THEN
        RAISE EXCEPTION 'study card job % was claimed by login role %, not by this session''s role %',
                        p_job_id, v_job.locked_by_role, session_user
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('worker %s holds it; only the session role that claimed a job may act for its worker',
                                  v_job.locked_by);
    END IF;
    RETURN v_job;
END
$$;

CREATE FUNCTION public.study_card_in_place(p_quote text, p_text text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
    AS $$
    -- the quote's first and last characters tested alone, with the one expression the
    -- text's are: PostgreSQL keeps 32 compiled expressions per session, and a job's
    -- gather and guards use about that many (bench/README.md, llm_overhead)
    SELECT q.quote <> '' AND p.at > 0
           AND NOT (left(q.quote, 1) ~ '[0-9A-Za-z]' AND substr(p_text, p.at - 1, 1) ~ '[0-9A-Za-z]')
           AND NOT (right(q.quote, 1) ~ '[0-9A-Za-z]' AND substr(p_text, p.at + char_length(q.quote), 1) ~ '[0-9A-Za-z]')
           AND NOT (strpos('0123456789', right(q.quote, 1)) > 0
                    AND substr(p_text, p.at + char_length(q.quote), 2) ~ '^[.,][0-9]')
      FROM (SELECT btrim(study_card_collapsed(p_quote)) AS quote) AS q
     CROSS JOIN LATERAL (SELECT strpos(p_text, q.quote) AS at) AS p
$$;

CREATE FUNCTION public.study_card_is_blank(p_text text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ((p_text IS NULL) OR ((p_text !~ '[0-9A-Za-z\uAC00-\uD7A3]'::text) AND (public.study_card_visible(p_text) !~ (('[^'::text || public.study_card_spaces()) || ']'::text))));

CREATE FUNCTION public.study_card_judge(p_job public.study_memo_card_jobs, p_cards jsonb) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    c_max_cards constant integer := (study_card_limits()).cards;
    -- the cards past study_card_limits().cards are never read, and dropped as
    -- invalid_shape at the end: never truncated silently
    v_cards jsonb := (SELECT coalesce(jsonb_agg(c.value ORDER BY c.ord), '[]')
                        FROM jsonb_array_elements(p_cards) WITH ORDINALITY AS c(value, ord)
                       WHERE c.ord <= c_max_cards);
    -- the cited sources, read once for all the cards
    v_sources jsonb := study_card_cited_sources(coalesce(p_job.payload -> 'handles', '{}'), v_cards);
    v_card jsonb;
    v_index integer;
    v_reason text;
    v_detail text;
    v_key text;
    v_answer_key text;
    v_prompt text;
    v_quotes text[];
    v_other record;
    v_passed jsonb[] := '{}';    -- {"index", "key", "answer_key", "prompt", "quotes"} of the cards kept so far
    v_survivors jsonb[] := '{}';
    v_dropped jsonb[] := '{}';
BEGIN
    FOR v_card, v_index IN
        SELECT c.value, c.ord - 1 FROM jsonb_array_elements(v_cards) WITH ORDINALITY AS c(value, ord)
    LOOP
        SELECT g.reason, g.detail INTO v_reason, v_detail FROM study_card_check(v_card, v_sources) AS g;
        IF v_reason IS NULL THEN
            v_key := study_card_norm_key(v_card);
            v_answer_key := study_card_answer_key(v_card ->> 'type', v_card ->> 'answer', v_card ->> 'text');
            v_prompt := study_card_prompt_text(v_card ->> 'type', v_card ->> 'cue', v_card ->> 'text');
            v_quotes := ARRAY(SELECT study_card_norm(e.value ->> 'quote') FROM jsonb_array_elements(v_card -> 'evidence') AS e);
            -- duplicate_in_batch: the same norm_key as an earlier kept card of this result,
            -- or a near-duplicate of one (study_card_near_duplicate)
            SELECT m.idx, m.how INTO v_other
              FROM (SELECT p.value ->> 'index' AS idx,
                           CASE WHEN p.value ->> 'key' = v_key THEN 'the same card'
                                ELSE study_card_near_duplicate(v_answer_key, v_prompt, v_quotes, p.value ->> 'answer_key',
                                                               p.value ->> 'prompt', ARRAY(SELECT jsonb_array_elements_text(p.value -> 'quotes')))
                           END AS how
                      FROM unnest(v_passed) AS p(value)
                     WHERE p.value ->> 'key' = v_key OR p.value ->> 'answer_key' = v_answer_key) AS m
             WHERE m.how IS NOT NULL
             ORDER BY (m.how = 'the same card') DESC, m.idx::integer
             LIMIT 1;
            IF FOUND THEN
                v_reason := 'duplicate_in_batch';
                v_detail := CASE v_other.how WHEN 'the same card' THEN format('same card as card %s of this result', v_other.idx)
                            ELSE format('near-duplicate of card %s of this result: %s', v_other.idx, v_other.how) END;
            ELSE
                -- duplicate: an active card of the user from another source, the same or a
                -- near-duplicate (found through study_memo_cards_active_answer_key_idx)
                SELECT m.id, m.source_kind, m.source_id, m.how INTO v_other
                  FROM (SELECT c.id, c.source_kind, c.source_id,
                               CASE WHEN c.norm_key = v_key THEN 'the same card'
                                    ELSE study_card_near_duplicate(v_answer_key, v_prompt, v_quotes, c.answer_key,
                                                                   study_card_prompt_text(c.card_type, c.cue, c.cloze_text),
                                                                   ARRAY(SELECT study_card_norm(e.quote) FROM study_memo_card_evidence e
                                                                          WHERE e.card_id = c.id))
                               END AS how
                          FROM study_memo_cards c
                         WHERE c.user_id = p_job.user_id AND c.deleted_at IS NULL
                           AND (c.norm_key = v_key OR c.answer_key = v_answer_key)
                           AND (c.source_kind, c.source_id) IS DISTINCT FROM (p_job.source_kind, p_job.source_id)) AS m
                 WHERE m.how IS NOT NULL
                 ORDER BY (m.how = 'the same card') DESC, m.id
                 LIMIT 1;
                IF FOUND THEN
                    v_reason := 'duplicate';
                    v_detail := format(CASE v_other.how WHEN 'the same card' THEN 'card %s (from %s %s) says the same'
                                         ELSE 'card %s (from %s %s) is a near-duplicate: %s' END,
                                       v_other.id, v_other.source_kind, v_other.source_id, v_other.how);
                ELSE
                    -- user_deleted: the user deleted a card with this norm_key
                    SELECT c.id INTO v_other
                      FROM study_memo_cards c
                     WHERE c.user_id = p_job.user_id AND c.norm_key = v_key AND c.retired_reason = 'user_deleted'
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
            v_passed := v_passed || jsonb_build_object('index', v_index, 'key', v_key, 'answer_key', v_answer_key,
                                                       'prompt', v_prompt, 'quotes', to_jsonb(v_quotes));
            v_survivors := v_survivors || jsonb_build_object('index', v_index, 'key', v_key, 'card', v_card);
        ELSE
            v_dropped := v_dropped || jsonb_build_object('index', v_index, 'reason', v_reason, 'detail', v_detail);
        END IF;
    END LOOP;
    RETURN jsonb_build_object(
        'survivors', to_jsonb(v_survivors),
        'dropped', to_jsonb(v_dropped) || (
            SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'index', c.ord - 1, 'reason', 'invalid_shape',
                       'detail', format('card %s is past the limit of %s cards per result', c.ord - 1, c_max_cards))
                       ORDER BY c.ord), '[]')
              FROM jsonb_array_elements(p_cards) WITH ORDINALITY AS c(value, ord)
             WHERE c.ord > c_max_cards));
END
$$;

CREATE FUNCTION public.study_card_keywords() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ARRAY['select'::text, 'from'::text, 'where'::text, 'group'::text, 'order'::text, 'by'::text, 'having'::text, 'join'::text, 'on'::text, 'and'::text, 'or'::text, 'not'::text, 'in'::text, 'is'::text, 'null'::text, 'as'::text, 'asc'::text, 'desc'::text, 'distinct'::text, 'set'::text, 'values'::text, 'into'::text, 'update'::text, 'delete'::text, 'insert'::text, 'create'::text, 'table'::text, 'view'::text, 'index'::text, 'like'::text, 'between'::text, 'union'::text, 'all'::text];

CREATE FUNCTION public.study_card_leaks(p_answer text, p_visible text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET plan_cache_mode TO 'force_generic_plan'
    SET standard_conforming_strings TO 'on'
    AS $$
    SELECT CASE
        WHEN a.norm = '' OR v.norm IS NULL THEN false
        -- a symbol answer (no letter or digit: '||', '>=', '+'): through a run of symbols
        -- of the visible text (white space removed, prose punctuation and brackets not
        -- counted) that contains it; one symbol only through exactly it ('+' leaks
        -- through 'a + b', not 'C++')
        WHEN a.norm !~ ('[' || study_card_letters() || ']') THEN EXISTS (
            SELECT FROM regexp_matches(regexp_replace(study_card_visible(p_visible), '[' || study_card_spaces() || ']', '', 'g'),
                                       '[^' || study_card_letters() || 'A-Z.,;?''"()\[\]{}…·「」『』“”‘’〈〉《》【】、。]+', 'g') AS run
             WHERE CASE WHEN char_length(a.norm) = 1 THEN run[1] = a.norm ELSE strpos(run[1], a.norm) > 0 END)
        -- a number answer (one number, with or without a unit): only as a whole number of
        -- the same value whose unit is the answer's or none ('1' not through '1970년',
        -- '30' through '30%'); NULL, to the rules after it, when the answer is not one
        -- number. The answer is read here, inside the CASE (coalesce evaluates lazily), and
        -- once (count(*) OVER ()): no read when an earlier branch decides (a cloze
        -- deletion without a hint, a symbol answer); a read costs about 0.6 ms.
        ELSE coalesce(
            (SELECT EXISTS (SELECT FROM study_card_quantities(p_visible) AS q
                             WHERE q.value = number.value
                               AND (q.unit IS NULL OR number.unit IS NULL OR q.unit = number.unit))
               FROM (SELECT q.value, q.unit, q.match, count(*) OVER () AS numbers
                       FROM study_card_quantities(p_answer) AS q) AS number
              WHERE number.numbers = 1 AND number.value IS NOT NULL AND study_card_norm(number.match) = a.norm),
            CASE
            -- one character: only as a whole token ('B' through 'A와 B 중', not 'BCNF')
            WHEN char_length(a.norm) = 1 THEN a.norm = ANY (study_card_tokens(p_visible))
            -- an answer written with operators is compared with them: (*p).age is not
            -- p->age (a hyphen alone joins words: 클라이언트-서버, 3-way); both without
            -- white space, lower-cased
            WHEN replace(a.compact, '-', '') ~ ('[' || study_card_operators() || ']') THEN strpos(v.compact, a.compact) > 0
            -- anything else: as a substring, or when it has two or more tokens of two or
            -- more characters (SQL keywords not counted), at least one a content token (not
            -- a generic word), and every content token is a substring ('클라이언트-서버
            -- 패턴' through '서버와 클라이언트가 나뉜 구조는?')
            ELSE strpos(v.norm, a.norm) > 0
                 OR (SELECT count(*) >= 2 AND count(*) FILTER (WHERE t.content) >= 1
                            AND coalesce(bool_and(strpos(v.norm, t.token) > 0) FILTER (WHERE t.content), false)
                       FROM (SELECT u.token, u.token <> ALL (study_card_generic_words()) AS content
                               FROM unnest(study_card_tokens(p_answer)) AS u(token)
                              WHERE char_length(u.token) >= 2 AND u.token <> ALL (study_card_keywords())) AS t)
            END)
    END
      FROM (SELECT coalesce(study_card_norm(p_answer), '') AS norm,
                   lower(regexp_replace(study_card_visible(p_answer), '[' || study_card_spaces() || ']', '', 'g')) AS compact) AS a
     CROSS JOIN (SELECT study_card_norm(p_visible) AS norm,
                        lower(regexp_replace(study_card_visible(p_visible), '[' || study_card_spaces() || ']', '', 'g')) AS compact) AS v
$$;

CREATE FUNCTION public.study_card_lease_end(p_lease_expires_at timestamp with time zone, p_lease_renewed_at timestamp with time zone) RETURNS timestamp with time zone
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT study_card_lease_end(p_lease_expires_at, p_lease_renewed_at, study_card_max_lease()) $$;

CREATE FUNCTION public.study_card_lease_end(p_lease_expires_at timestamp with time zone, p_lease_renewed_at timestamp with time zone, p_max_lease interval) RETURNS timestamp with time zone
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN LEAST(p_lease_expires_at, (p_lease_renewed_at + p_max_lease));

CREATE FUNCTION public.study_card_limits(OUT cards integer, OUT cue integer, OUT answer integer, OUT cloze_text integer, OUT evidence integer, OUT quote integer, OUT reason integer) RETURNS record
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT 20, 300, 300, 600, 5, 1000, 1000
$$;

CREATE FUNCTION public.study_card_list_items(p_answer text) RETURNS integer
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
    AS $_$
DECLARE
    -- the fullwidth and halfwidth ideographic commas as 、 (NFKC would make '，' a bare
    -- ','), the middle dots as U+00B7; white space collapsed to one space
    v_text text := btrim(regexp_replace(
        study_card_visible(translate(p_answer, '，､・･ㆍ‧∙', '、、·····')),
        '[' || study_card_spaces() || ']+', ' ', 'g'));
    v_before text;
    v_items text[];
    -- a letter: study_card_letters without the digits, upper case too
    c_letter constant text := '[A-Z' || replace(study_card_letters(), '0-9', '') || ']';
    -- a SQL keyword (study_card_keywords), as a whole word
    c_keyword constant text := '(' || array_to_string(study_card_keywords(), '|') || ')\M';
BEGIN
    IF v_text IS NULL THEN
        RETURN NULL;
    END IF;
    -- brackets and quotes, innermost first, each made one piece: a function call's or a
    -- set's commas separate its arguments, not facts ('ROUND(AVG(x), 2)', '{1, 2}', 'a, b')
    LOOP
        v_before := v_text;
        v_text := regexp_replace(v_text,
            '\([^()]*\)|\[[^\[\]]*\]|\{[^{}]*\}|〈[^〈〉]*〉|《[^《》]*》|「[^「」]*」|『[^『』]*』|【[^【】]*】'
            '|"[^"]*"|''[^'']*''|“[^“”]*”|‘[^‘’]*’', '…', 'g');
        EXIT WHEN v_text = v_before;
    END LOOP;
    -- ', ' and 、 always separate; a middle dot only in a run of three or more parts of
    -- two or more letters, since two-part and one-syllable joins are compound words
    -- (입·출력, 정보·통신, 기·승·전·결) and digits around it a name (3·1 운동)
    v_items := regexp_split_to_array(v_text,
        CASE WHEN v_text ~ (c_letter || '{2,}( ?· ?' || c_letter || '{2,}){2,}')
             THEN ', | ?、 ?| ?· ?' ELSE ', | ?、 ?' END);
    v_items := array_remove(ARRAY(SELECT btrim(i) FROM unnest(v_items) AS i), '');
    IF cardinality(v_items) < 2
       -- items are short: a longer piece is a phrase or a sentence with a comma in it
       OR EXISTS (SELECT FROM unnest(v_items) AS i WHERE array_length(string_to_array(i, ' '), 1) > 3)
       -- a connective ending before a separator makes the text one sentence of clauses
       -- ('모두 반영되거나, 전혀 반영되지 않음')
       OR EXISTS (SELECT FROM unnest(v_items[1:cardinality(v_items) - 1]) AS i
                   WHERE i ~ '(거나|지만|는데|으며|이며|하며|되며|하고|되고|이고|하면|되면|으면|이면|해서|하여|되어|도록)$')
       -- SQL keywords and then an identifier: one SQL clause, whose commas separate its
       -- columns or tables ('SELECT A.col1, B.col2', 'FROM TAB1 A, TAB2 B'); keywords
       -- alone are items ('GROUP BY, HAVING, ORDER BY')
       OR lower(v_items[1] COLLATE "C") ~ ('^' || c_keyword || '( ' || c_keyword || ')* (?!' || c_keyword || ')[a-z_]')
    THEN
        RETURN NULL;
    END IF;
    RETURN cardinality(v_items);
END
$_$;

CREATE FUNCTION public.study_card_lock_commit(p_job public.study_memo_card_jobs, p_cards jsonb) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_key bigint;
BEGIN
    -- a commit of another version of the same source: supersede and the version check
    -- must see each other
    PERFORM pg_advisory_xact_lock(study_card_commit_lock('source', p_job.source_kind || ':' || p_job.source_id));
    -- exact duplicates share an answer_key, and the near-duplicate guard compares only
    -- cards that share it: two sources committing one fact at once queue here and the
    -- second sees the first's card; commits of one user with other answers run in parallel
    FOR v_key IN
        SELECT DISTINCT study_card_commit_lock('answer', p_job.user_id || ':' || k.answer_key)
          FROM (SELECT study_card_answer_key(c.value ->> 'type', c.value ->> 'answer', c.value ->> 'text') AS answer_key
                  FROM jsonb_array_elements(p_cards) WITH ORDINALITY AS c(value, ord)
                 WHERE c.ord <= (study_card_limits()).cards AND jsonb_typeof(c.value) = 'object') AS k
         WHERE k.answer_key IS NOT NULL
         ORDER BY 1
    LOOP
        PERFORM pg_advisory_xact_lock(v_key);
    END LOOP;
END
$$;

CREATE FUNCTION public.study_card_lock_job(p_job_id bigint, p_worker text) RETURNS public.study_memo_card_jobs
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    -- the version check after the advisory locks must see a commit that happened while
    -- it waited, which a REPEATABLE READ snapshot taken before the wait cannot
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'commit_cards must run at isolation level READ COMMITTED, not %',
                        upper(current_setting('transaction_isolation'))
            USING ERRCODE = 'invalid_transaction_state',
                  HINT = 'check default_transaction_isolation of the worker''s role, database and connection options';
    END IF;
    -- the owner before the job: the order of the host's cascading delete of a user, so
    -- such a delete waits or goes first, never deadlocks
    PERFORM study_card_lock_owner((SELECT j.user_id FROM study_memo_card_jobs j WHERE j.id = p_job_id));
    RETURN study_card_held_job(p_job_id, p_worker);
END
$$;

CREATE FUNCTION public.study_card_lock_owner(p_user_id bigint) RETURNS void
    LANGUAGE sql
    SET search_path TO 'public', 'pg_temp'
    AS $$
    -- the host's DELETE FROM users locks the user, then cascades to the jobs; in the
    -- same order such a delete waits for a commit, or goes first, never deadlocks with it
    SELECT FROM users u WHERE u.id = p_user_id FOR KEY SHARE
$$;

CREATE FUNCTION public.study_card_max_lease() RETURNS interval
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    SELECT coalesce(
        (SELECT CASE WHEN pg_input_is_valid(v.value, 'interval') THEN
                    CASE WHEN v.value::interval > interval '0' THEN v.value::interval END
                END
           FROM (SELECT substr(c.setting, strpos(c.setting, '=') + 1) AS value, s.setdatabase
                   FROM pg_db_role_setting s
                  CROSS JOIN unnest(s.setconfig) AS c(setting)
                  -- the database's defaults only: a session's SET, PGOPTIONS and a
                  -- role's own default are a worker's to set, for a long lease of its
                  -- own or a short cap under which every other lease looks expired
                  WHERE s.setrole = 0
                    AND s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
                    AND split_part(c.setting, '=', 1) = 'study_card.max_lease') AS v
          ORDER BY v.setdatabase DESC  -- the database's own setting before every database's
          LIMIT 1),
        interval '1 hour')
$$;

CREATE FUNCTION public.study_card_missing_names(p_text text, p_source_norm text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
    AS $$
    SELECT study_card_missing_names(p_text, p_source_norm, '{}'::text[])
$$;

CREATE FUNCTION public.study_card_missing_names(p_text text, p_source_norm text, p_source_names text[]) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
    AS $$
    SELECT study_card_names_not_in(study_card_names(p_text), p_source_norm, p_source_names)
$$;

CREATE FUNCTION public.study_card_names(p_text text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
    AS $$
    SELECT f.names FROM study_card_number_facts(p_text, true) AS f
$$;

CREATE FUNCTION public.study_card_names_not_in(p_names text[], p_source_norm text, p_source_names text[]) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
    AS $_$
    SELECT coalesce(array_agg(x.name ORDER BY x.ord), '{}')
      FROM unnest(p_names) WITH ORDINALITY AS x(name, ord)
     -- missing: not one of the sources' names (source_norm alone cannot tell a longer
     -- number from two tokens it glued together: 'IPv4 32비트' normalises to 'ipv432비트')
     WHERE x.name <> ALL (coalesce(p_source_names, '{}'))
       -- nor in source_norm as a whole: a digit at either end of the name must not
       -- continue a longer number there ('col2' is not in '…col20…', '2nf' not in '…12nf…')
       AND NOT (strpos(coalesce(p_source_norm, ''), x.name) > 0  -- cheap test first
                AND coalesce(p_source_norm, '') ~ (
                    CASE WHEN x.name ~ '^[0-9]' THEN '(?:^|[^0-9])' ELSE '' END
                    -- a normalised name is letters and digits; quote anything else anyway
                    || regexp_replace(x.name, '([^0-9A-Za-z\u00C0-\uD7A3])', '\\\1', 'g')
                    || CASE WHEN x.name ~ '[0-9]$' THEN '(?:[^0-9]|$)' ELSE '' END))
$_$;

CREATE FUNCTION public.study_card_near_duplicate(p_answer_key text, p_prompt text, p_quotes text[], p_other_answer_key text, p_other_prompt text, p_other_quotes text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT CASE
        WHEN p_answer_key IS DISTINCT FROM p_other_answer_key
             -- a truth value: many different facts share it, their cards differing in a word or two
             OR p_answer_key = ANY (ARRAY['o', 'x', 'ox', '참', '거짓', '예', '아니오', '아니요', 'true', 'false', 'yes', 'no',
                                          '맞다', '틀리다', '옳다', '옳지않다', '맞음', '틀림'])
            THEN NULL
        -- 0.4: chosen from the table in bench/README.md
        WHEN similarity(p_prompt, p_other_prompt) >= 0.4
            THEN format('a similar card (similarity %s) with the same answer',
                        round(similarity(p_prompt, p_other_prompt)::numeric, 2))
        -- one character (a choice number, B, +) only with a similar prompt
        WHEN p_quotes && p_other_quotes AND char_length(p_answer_key) >= 2
            THEN 'the same quote with the same answer'
    END
$$;

CREATE FUNCTION public.study_card_next_status(p_error_code text, p_attempts integer, p_max_attempts integer) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT CASE WHEN e.retryable AND p_attempts < p_max_attempts THEN 'pending' ELSE e.closes_with END
      FROM study_card_error_codes e
     WHERE e.code = p_error_code
$$;

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

CREATE FUNCTION public.study_card_number_facts(p_text text, p_names_only boolean DEFAULT false, OUT keys text[], OUT names text[], OUT quantities text[], OUT needs text[]) RETURNS record
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
    AS $$
    WITH t AS MATERIALIZED (SELECT * FROM study_card_number_tokens(p_text, p_names_only))
    SELECT
        -- what the numbers can support: each number's quantity ('1972년') and its any-unit
        -- key ('1972*'); the digits inside names only an any-unit key ('IPv4' gives '4*');
        -- distinct, sorted
        (SELECT coalesce(array_agg(DISTINCT k.key), '{}')
           FROM t
          CROSS JOIN LATERAL (
              SELECT t.quantity AS key WHERE t.kind <> 'name'
              UNION ALL SELECT t.num || '*' WHERE t.kind <> 'name'
              UNION ALL SELECT trim_scale(d[1]::numeric)::text || '*'
                          FROM regexp_matches(t.match, '[0-9]+(?:\.[0-9]+)?', 'g') AS d
                         WHERE t.kind = 'name') AS k),
        -- the names, each once, in order of first appearance
        (SELECT coalesce(array_agg(n.name ORDER BY n.first), '{}')
           FROM (SELECT t.name, min(t.ord) AS first
                   FROM t
                  WHERE t.kind = 'name' AND t.name <> ''
                  GROUP BY t.name) AS n),
        -- the numbers and what supports each: a number with a unit needs that quantity, a
        -- unitless one its any-unit key (docs/cards.md, "Numbers")
        c.quantities, c.needs
      FROM (SELECT coalesce(array_agg(g.quantity ORDER BY g.first), '{}') AS quantities,
                   coalesce(array_agg(g.needs ORDER BY g.first), '{}') AS needs
              FROM (SELECT t.quantity, CASE WHEN t.unit IS NULL THEN t.num || '*' ELSE t.quantity END AS needs,
                           min(t.ord) AS first
                      FROM t
                     WHERE t.kind <> 'name'
                     GROUP BY 1, 2) AS g) AS c
$$;

CREATE FUNCTION public.study_card_number_tokens(p_text text, p_names_only boolean DEFAULT false) RETURNS TABLE(ord integer, kind text, match text, value numeric, unit text, num text, quantity text, name text)
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
    SET plan_cache_mode TO 'force_generic_plan'
    AS $_$
DECLARE
    c_hangul CONSTANT text := '\uAC00-\uD7A3';
    -- Nd digits other than 0-9 that NFKC keeps (full-width, mathematical, segmented
    -- and outlined digits become 0-9), Unicode 16
    c_other_digits CONSTANT text :=
        '\u0660-\u0669\u06F0-\u06F9\u07C0-\u07C9\u0966-\u096F\u09E6-\u09EF\u0A66-\u0A6F\u0AE6-\u0AEF'
        '\u0B66-\u0B6F\u0BE6-\u0BEF\u0C66-\u0C6F\u0CE6-\u0CEF\u0D66-\u0D6F\u0DE6-\u0DEF\u0E50-\u0E59'
        '\u0ED0-\u0ED9\u0F20-\u0F29\u1040-\u1049\u1090-\u1099\u17E0-\u17E9\u1810-\u1819\u1946-\u194F'
        '\u19D0-\u19D9\u1A80-\u1A89\u1A90-\u1A99\u1B50-\u1B59\u1BB0-\u1BB9\u1C40-\u1C49\u1C50-\u1C59'
        '\uA620-\uA629\uA8D0-\uA8D9\uA900-\uA909\uA9D0-\uA9D9\uA9F0-\uA9F9\uAA50-\uAA59\uABF0-\uABF9'
        '\U000104A0-\U000104A9\U00010D30-\U00010D39\U00010D40-\U00010D49\U00011066-\U0001106F'
        '\U000110F0-\U000110F9\U00011136-\U0001113F\U000111D0-\U000111D9\U000112F0-\U000112F9'
        '\U00011450-\U00011459\U000114D0-\U000114D9\U00011650-\U00011659\U000116C0-\U000116C9'
        '\U000116D0-\U000116E3\U00011730-\U00011739\U000118E0-\U000118E9\U00011950-\U00011959'
        '\U00011BF0-\U00011BF9\U00011C50-\U00011C59\U00011D50-\U00011D59\U00011DA0-\U00011DA9'
        '\U00011F50-\U00011F59\U00016130-\U00016139\U00016A60-\U00016A69\U00016AC0-\U00016AC9'
        '\U00016B50-\U00016B59\U00016D70-\U00016D79\U0001CCF0-\U0001CCF9\U0001E140-\U0001E149'
        '\U0001E2F0-\U0001E2F9\U0001E4F0-\U0001E4F9\U0001E5F1-\U0001E5FA\U0001E950-\U0001E959';
    c_number CONSTANT text := '[0-9]+(?:,[0-9]{3}(?![0-9]))*(?:\.[0-9]+)?';
    c_latin_units CONSTANT text := study_card_quantity_words('latin_units');
    -- the first syllables of the Hangul units: a cheap class for the scan
    c_unit_start CONSTANT text := '[퍼개시분세주년일초원명건회배층비바]';
    c_korean_numerals CONSTANT text := '일이삼사오육칠팔구십백천만억조영공';
    c_hanja_numerals CONSTANT text := '〇零一二三四五六七八九十百千萬万億兆';
    c_hanja_suffixes CONSTANT text := '間|前|後|以上|以下|以內|以内|未滿|未満|餘|當';
    -- The scan, leftmost-longest; no capture group: captures make PostgreSQL dissect
    -- every match (bench/README.md, "The cost of commit_cards on big sources"). Each
    -- match, a few words long, is then split by a small expression (head).
    c_scan_numbers CONSTANT text :=
        -- a Latin word touching digits (col2, IPv4, utf8mb4, UTF-8, HTTP/2, X.509)
        '[A-Za-z_]+(?:[-/:.]?[0-9]+(?:\.[0-9]+)*[A-Za-z_]*)+'
        -- 제 + digits + its word, 제 starting a word (문제2 is not an ordinal)
        || '|(?<![' || c_hangul || '])제[ \t]?' || c_number || '[' || c_hangul || ']*'
        -- [an ALL-CAPS word and a space] a number (ASCII digits, or with digits of another
        -- script), then: a word starting with a multiplier and the unit after it; or the
        -- word after the number; or Latin letters touching it (KB, NF, D)
        || '|(?:(?<![A-Za-z0-9_])[A-Z]{2,}[ \t]+)?(?:[0-9]*[' || c_other_digits || '](?:[0-9' || c_other_digits
        || ']|[.,\u066B\u066C](?=[0-9' || c_other_digits || ']))*|' || c_number || ')'
        || '(?:[ \t]*(?:[만억조백천십][' || c_hangul || ']*(?:[ \t]*(?:' || c_unit_start || '[' || c_hangul
        || ']*|%p?|°[CF])|[A-Za-z]+)?|[' || c_hangul || ']+|%p?|°[CF]|(?:' || c_latin_units
        || ')(?![A-Za-z0-9_]))|-?[A-Za-z][A-Za-z0-9_]*|μ[A-Za-z]+)?';
    -- Sino-Korean and Hanja numerals (not needed for names: they hold no digit, and
    -- no other candidate can start inside one)
    c_scan_numerals CONSTANT text :=
        -- a Sino-Korean numeral starting a word, spaces, a unit word (one syllable spaced:
        -- not 이 'this', 조 'group', 공 'ball'); or the same attached to its unit
        '|(?<![' || c_hangul || 'A-Za-z0-9])(?:[' || c_korean_numerals || ']{2,}|[일삼사오육칠팔구십백천만억영])'
        || '[ \t]+' || c_unit_start || '[' || c_hangul || ']*'
        || '|(?<![' || c_hangul || 'A-Za-z0-9])[' || c_korean_numerals || ']+' || c_unit_start
        || '[' || c_hangul || ']*'
        -- Hanja numerals, spaces, a Hanja or Hangul unit, particles or a Hanja suffix
        || '|[' || c_hanja_numerals || ']+[ \t]*(?:箇月|個月|个月|世紀|時間|[年名個个回倍歲歳日月分秒件層元圓週]|'
        || c_unit_start || '[' || c_hangul || ']*)(?:[' || c_hangul || ']+|' || c_hanja_suffixes || ')?';
    v_text text := study_card_visible(p_text);
    v_scan text := CASE WHEN p_names_only THEN c_scan_numbers ELSE c_scan_numbers || c_scan_numerals END;
BEGIN
    -- most card texts hold no candidate at all: one match, and no query to run. With
    -- regexp_match, not `~`: PostgreSQL caches a compiled expression per pattern and
    -- flags, and `~` compiles its own (no sub-matches) copy of this 4 KB pattern, ~1 ms,
    -- whenever the guards' other expressions have pushed it out of the cache of 32
    IF v_text IS NULL OR regexp_match(v_text, v_scan) IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH m AS MATERIALIZED (
        SELECT r.g[1] AS s, r.n,
               -- what the match is, by its first character: a Latin word (a name, or an
               -- ALL-CAPS word and a space before a number), 제, a Sino-Korean or Hanja
               -- numeral, else a number (code points: no regular expression per match)
               CASE WHEN ascii(r.g[1]) BETWEEN 65 AND 90 OR ascii(r.g[1]) BETWEEN 97 AND 122 OR ascii(r.g[1]) = 95
                        THEN CASE WHEN strpos(r.g[1], ' ') > 0 OR strpos(r.g[1], E'\t') > 0 THEN 'number' ELSE 'name' END
                    WHEN left(r.g[1], 1) = '제' THEN 'ordinal'
                    WHEN strpos(c_korean_numerals, left(r.g[1], 1)) > 0 THEN 'korean'
                    WHEN strpos(c_hanja_numerals, left(r.g[1], 1)) > 0 THEN 'hanja'
                    ELSE 'number' END AS what
          FROM regexp_matches(v_text, v_scan, 'g') WITH ORDINALITY AS r(g, n)
    ),
    -- each match split: [caps] number, then what follows it (numbers); numeral, then the
    -- unit word (Sino-Korean, Hanja); digits, then their word (ordinals); the name itself
    head AS (
        SELECT m.n, m.what, m.s, x.caps, x.digits, x.after
          FROM m
         CROSS JOIN LATERAL (
             -- the common case, a number in ASCII digits then a space, Hangul, Latin, a symbol
             -- or nothing, with string functions; the others with an expression
             SELECT NULL::text AS caps, left(m.s, char_length(m.s) - char_length(d.after)) AS digits, d.after
               FROM (SELECT ltrim(m.s, '0123456789.,') AS after) AS d
              WHERE m.what = 'number' AND ascii(m.s) BETWEEN 48 AND 57
                AND (d.after = '' OR ascii(d.after) IN (9, 32, 37, 45, 176, 956) OR ascii(d.after) BETWEEN 44032 AND 55203
                     OR ascii(d.after) BETWEEN 65 AND 90 OR ascii(d.after) BETWEEN 97 AND 122)
             UNION ALL
             SELECT NULL, m.s, '' WHERE m.what = 'name'
             UNION ALL
             SELECT y[1], y[2], y[3]
               FROM regexp_match(m.s, CASE m.what
                        WHEN 'number' THEN '^(?:([A-Z]+)[ \t]+)?([^ \t\uAC00-\uD7A3A-Za-z%°μ-]+)(.*)$'
                        -- the numeral is the longest run that leaves a unit's first syllable
                        -- ('삼십일' = 삼십 + 일)
                        WHEN 'korean' THEN '^()([일이삼사오육칠팔구십백천만억조영공]+)([ \t]*[퍼개시분세주년일초원명건회배층].*)$'
                        WHEN 'hanja' THEN '^()([〇零一二三四五六七八九十百千萬万億兆]+)(.*)$'
                        ELSE '^()제[ \t]?([0-9.,]+)(.*)$' END) AS y
              WHERE m.what <> 'name'
                -- one numeral syllable attached to a unit word counts only with 년, 개월, 주일,
                -- 세기 or %: drop 사원, 사건, 구분, 이건 … here, before any expression
                AND NOT (m.what = 'korean' AND strpos(c_korean_numerals, substr(m.s, 2, 1)) = 0
                         AND substr(m.s, 2, 1) NOT IN (' ', E'\t', '년', '개', '주', '세', '퍼'))
                AND NOT (m.what = 'number' AND ascii(m.s) BETWEEN 48 AND 57
                         AND (ltrim(m.s, '0123456789.,') = '' OR ascii(ltrim(m.s, '0123456789.,')) IN (9, 32, 37, 45, 176, 956)
                              OR ascii(ltrim(m.s, '0123456789.,')) BETWEEN 44032 AND 55203
                              OR ascii(ltrim(m.s, '0123456789.,')) BETWEEN 65 AND 90
                              OR ascii(ltrim(m.s, '0123456789.,')) BETWEEN 97 AND 122))) AS x
    ),
    -- what follows: s1 (spaces) w1 (a word) s2 (spaces) w2 (the rest: one word)
    part AS MATERIALIZED (
        SELECT h.n, h.what, h.s, h.caps, h.digits,
               left(h.after, char_length(h.after) - char_length(a.a1)) AS s1, a.w1,
               left(a.a2, char_length(a.a2) - char_length(ltrim(a.a2, E' \t'))) AS s2,
               nullif(ltrim(a.a2, E' \t'), '') AS w2
          FROM head AS h
         CROSS JOIN LATERAL (
             SELECT b.a1, b.w1, substr(b.a1, char_length(b.w1) + 1) AS a2
               FROM (SELECT c.a1, split_part(translate(c.a1, E'\t', ' '), ' ', 1) AS w1
                       FROM (SELECT ltrim(h.after, E' \t') AS a1) AS c) AS b) AS a
         -- names only: the matches that can be a name
         WHERE NOT p_names_only OR h.what IN ('name', 'ordinal') OR h.caps IS NOT NULL
            OR (h.after <> '' AND (ascii(h.after) BETWEEN 65 AND 90 OR ascii(h.after) BETWEEN 97 AND 122
                                   OR ascii(h.after) = 45 OR ascii(h.after) BETWEEN 44032 AND 55203))
    ),
    -- a word after a number that starts with a multiplier: the multiplier, the rest of
    -- its Hangul, and what follows in the word ('10만km'); Hanja units
    word AS MATERIALIZED (
        SELECT q.*,
               -- the Hangul words whose unit is asked, as 'level:word' keys of unit_map
               CASE WHEN q.what = 'number' AND q.hangul IS NULL AND ascii(q.w1) BETWEEN 44032 AND 55203
                        THEN CASE WHEN q.s1 = '' THEN 'attached:' ELSE 'spaced:' END || q.w1
                    -- the unit word after a Sino-Korean or Hanja numeral
                    WHEN q.what = 'korean' OR (q.what = 'hanja' AND q.hanja_unit IS NULL)
                        THEN CASE WHEN q.s1 = '' THEN 'attached:' ELSE 'spelled:' END || q.w1
                    -- Hangul particles after a Hanja unit (those that may follow 년)
                    WHEN q.hanja_unit IS NOT NULL AND q.hrest <> '' THEN 'attached:년' || q.hrest
               END AS w1_key,
               -- a unit inside the multiplier's word, attached to the number ('1만명')
               CASE WHEN q.mult IS NOT NULL AND q.s1 = '' AND q.mrest <> '' THEN 'attached:' || q.mrest END AS mult_key,
               -- particles after the multiplier: those that may follow 년, or 개 after 조 (the
               -- same last syllable: a final consonant, or none)
               CASE WHEN q.mult IS NOT NULL AND q.mrest <> ''
                    THEN CASE WHEN q.s1 = '' THEN 'attached:' ELSE 'spaced:' END
                         || CASE q.mult WHEN '조' THEN '개' ELSE '년' END || q.mrest END AS after_mult_key,
               -- the unit word after the multiplier ('1만 명')
               CASE WHEN q.mult IS NOT NULL AND ascii(q.w2) BETWEEN 44032 AND 55203
                    THEN CASE WHEN q.s2 = '' THEN 'attached:' ELSE 'spelled:' END || q.w2 END AS w2_key
          FROM (SELECT p.*, h.mult, h.hangul, h.hanja_unit,
                       substr(h.hangul, char_length(h.mult) + 1) AS mrest,
                       substr(p.w1, char_length(h.hangul) + 1) AS mtail,
                       substr(p.w1, char_length(h.hanja_unit) + 1) AS hrest
                  FROM part AS p
                 CROSS JOIN LATERAL (
                     SELECT CASE WHEN p.what <> 'number' THEN NULL
                                 WHEN left(p.w1, 2) IN ('천만', '백만', '십만', '천억', '백억', '십억') THEN left(p.w1, 2)
                                 WHEN left(p.w1, 1) IN ('만', '억', '조', '천', '백') THEN left(p.w1, 1) END AS mult,
                            CASE WHEN p.what = 'number' AND left(p.w1, 1) IN ('만', '억', '조', '천', '백', '십')
                                 THEN substring(p.w1 FROM '^[\uAC00-\uD7A3]+') END AS hangul,
                            CASE WHEN p.what <> 'hanja' THEN NULL
                                 WHEN left(p.w1, 2) IN ('箇月', '個月', '个月', '世紀', '時間') THEN left(p.w1, 2)
                                 WHEN strpos('年名個个回倍歲歳日月分秒件層元圓週', left(p.w1, 1)) > 0 THEN left(p.w1, 1)
                            END AS hanja_unit) AS h) AS q
    ),
    -- each distinct key once, not each occurrence: an expression over many distinct
    -- syllables is slow per call; {'level:word': unit or null}; 'N분의 M' is a fraction
    unit_map AS (
        SELECT coalesce(jsonb_object_agg(d.key,
                   CASE WHEN left(split_part(d.key, ':', 2), 2) <> '분의' THEN  -- no expression: see study_card_in_place
                       (SELECT coalesce(v[1], v[2], v[3])
                          FROM regexp_match(split_part(d.key, ':', 2),
                                            CASE split_part(d.key, ':', 1)
                                                WHEN 'attached' THEN study_card_unit_word_pattern('attached')
                                                WHEN 'spaced' THEN study_card_unit_word_pattern('spaced')
                                                ELSE study_card_unit_word_pattern('spelled') END) AS v) END),
                   '{}') AS map
          FROM (SELECT DISTINCT k.key
                  FROM word AS w, unnest(ARRAY[w.w1_key, w.mult_key, w.after_mult_key, w.w2_key]) AS k(key)
                 WHERE k.key IS NOT NULL) AS d
    ),
    number AS (
        SELECT y.*,
               -- where the unit is: in the multiplier's word ('1만명', '3천만원'); Latin or a
               -- symbol right after the multiplier ('10만km'); the next word ('1만 명'); or the
               -- word after the number ('5개의', '64 KB', '30%'). A word that starts like a
               -- multiplier but is not one ('5 조건', '100 만큼') has no unit.
               CASE WHEN y.applied IS NOT NULL AND y.mult_unit IS NOT NULL THEN y.mult_unit
                    WHEN y.applied IS NOT NULL AND y.mrest IN ('', '여') AND y.mtail <> ''
                        THEN CASE WHEN y.mtail = ANY (string_to_array(c_latin_units, '|')) THEN y.mtail END
                    WHEN y.applied IS NOT NULL AND y.mrest IN ('', '여') AND ascii(y.w2) NOT BETWEEN 44032 AND 55203 THEN y.w2
                    WHEN y.applied IS NOT NULL AND y.mrest IN ('', '여') THEN y.w2_unit
                    WHEN y.hangul IS NOT NULL OR y.w1 = '' THEN NULL
                    WHEN left(y.w1, 1) IN ('%', '°') THEN y.w1
                    -- Latin letters: a unit, else (touching the number) a name
                    WHEN ascii(y.w1) NOT BETWEEN 44032 AND 55203
                        THEN CASE WHEN y.w1 = ANY (string_to_array(c_latin_units, '|')) THEN y.w1 END
                    ELSE y.w1_unit
               END AS raw_unit
          FROM (SELECT w.*, (SELECT u.map FROM unit_map AS u) ->> w.w1_key AS w1_unit,
                       (SELECT u.map FROM unit_map AS u) ->> w.mult_key AS mult_unit,
                       (SELECT u.map FROM unit_map AS u) ->> w.w2_key AS w2_unit,
                       -- the multiplier applies when it ends its word (only particles after it),
                       -- or, attached to the number, when a unit ends its word; never in the
                       -- nouns 조건, 조회, 조세, 조명, 조개
                       CASE WHEN w.mult IS NULL THEN NULL
                            WHEN w.mrest = '' OR (SELECT u.map FROM unit_map AS u) ->> w.after_mult_key IS NOT NULL
                                THEN w.mult
                            WHEN (SELECT u.map FROM unit_map AS u) ->> w.mult_key IS NOT NULL
                                 AND left(w.w1, 2) NOT IN ('조건', '조회', '조세', '조명', '조개')
                                THEN w.mult
                       END AS applied
                  FROM word AS w
                 WHERE w.what = 'number') AS y
    ),
    numeral AS (  -- Sino-Korean and Hanja numerals with a unit that ends its word
        SELECT w.n, w.digits AS numeral, w.s1,
               coalesce(w.hanja_unit, (SELECT u.map FROM unit_map AS u) ->> w.w1_key) AS unit_text,
               CASE WHEN w.hanja_unit IS NULL THEN (SELECT u.map FROM unit_map AS u) ->> w.w1_key
                    -- after a Hanja unit: nothing, a Hanja suffix (三年間) or Hangul particles
                    WHEN w.hrest = '' OR w.hrest ~ ('^(?:' || c_hanja_suffixes || ')$')
                         OR (SELECT u.map FROM unit_map AS u) ->> w.w1_key IS NOT NULL THEN
                        CASE w.hanja_unit
                            WHEN '年' THEN '년' WHEN '名' THEN '명' WHEN '個' THEN '개' WHEN '个' THEN '개'
                            WHEN '回' THEN '회' WHEN '倍' THEN '배' WHEN '歲' THEN '세' WHEN '歳' THEN '세'
                            WHEN '日' THEN '일' WHEN '分' THEN '분' WHEN '秒' THEN '초' WHEN '件' THEN '건'
                            WHEN '層' THEN '층' WHEN '元' THEN '원' WHEN '圓' THEN '원' WHEN '週' THEN '주'
                            WHEN '世紀' THEN '세기' WHEN '時間' THEN '시간' WHEN '月' THEN '月' ELSE '개월' END
               END AS raw_unit
          FROM word AS w
         WHERE w.what IN ('korean', 'hanja')
    ),
    rows AS (
        -- names: a Latin word touching digits
        SELECT w.n, 'name' AS kind, w.digits AS match, NULL::numeric AS value, NULL::text AS raw_unit,
               lower(translate(w.digits, '_-/:.', '') COLLATE "C") AS name, NULL::text AS verbatim
          FROM word AS w WHERE w.what = 'name'
        UNION ALL
        -- ordinals: 제 + digits + their word without its particles
        SELECT w.n, 'name', '제' || w.digits || w.w1, NULL, NULL,
               '제' || translate(w.digits, ',.', '')
               || regexp_replace(w.w1, '(?:' || study_card_quantity_words('any') || '|'
                                       || study_card_quantity_words('after_vowel') || '|'
                                       || study_card_quantity_words('after_consonant') || ')+$', ''),
               NULL
          FROM word AS w WHERE w.what = 'ordinal'
        UNION ALL
        -- numbers; an ALL-CAPS word, a space and a number with no multiplier and no unit
        -- is a name, and so are digits touching Latin letters that are not a unit
        SELECT r.n, r.kind,
               CASE WHEN r.kind = 'name' AND r.term IS NOT NULL THEN r.digits || r.w1
                    -- a word attached to the digits makes the name (3-way, 2NF), not the
                    -- capitals before them (TCP 3-way)
                    WHEN r.kind = 'name' AND r.latin <> '' THEN r.digits || r.latin
                    WHEN r.kind = 'name' THEN coalesce(r.caps || ' ', '') || r.digits
                    ELSE r.digits || CASE WHEN r.applied IS NOT NULL THEN r.s1 || r.applied ELSE '' END
                         || CASE WHEN r.raw_unit IS NULL THEN ''
                                 WHEN r.applied IS NULL THEN r.s1 || r.raw_unit
                                 WHEN r.mult_unit IS NOT NULL THEN r.raw_unit
                                 WHEN r.mtail <> '' THEN r.mrest || r.raw_unit
                                 ELSE r.mrest || r.s2 || r.raw_unit END END,
               CASE WHEN r.kind = 'quantity' THEN replace(r.digits, ',', '')::numeric
                   * CASE r.applied WHEN '천' THEN 1000 WHEN '백' THEN 100 WHEN '만' THEN 10000
                         WHEN '십만' THEN 100000 WHEN '백만' THEN 1000000 WHEN '천만' THEN 10000000
                         WHEN '억' THEN 100000000 WHEN '십억' THEN 1000000000 WHEN '백억' THEN 10000000000
                         WHEN '천억' THEN 100000000000 WHEN '조' THEN 1000000000000 ELSE 1 END END,
               CASE WHEN r.kind <> 'name' THEN r.raw_unit END,
               CASE WHEN r.kind = 'name' AND r.term IS NOT NULL THEN translate(r.digits, ',.', '') || r.term
                    WHEN r.kind = 'name' AND r.latin <> ''
                    THEN lower(translate(r.digits || r.latin, '_-/:.,', '') COLLATE "C")
                    WHEN r.kind = 'name' THEN lower(translate(coalesce(r.caps, '') || r.digits, '_-/:.,', '') COLLATE "C") END,
               CASE WHEN r.kind = 'verbatim' THEN r.digits || coalesce(r.applied, '') END
          FROM (SELECT z.*,
                       CASE WHEN z.w1 ~ '^-?[A-Za-z]' AND z.s1 = '' THEN z.w1 ELSE '' END AS latin,
                       CASE WHEN ltrim(z.digits, '0123456789.,') <> '' THEN 'verbatim'
                            WHEN z.w1 ~ '^-?[A-Za-z]' AND z.s1 = '' AND z.raw_unit IS NULL THEN 'name'
                            WHEN z.term IS NOT NULL THEN 'name'
                            WHEN z.caps IS NOT NULL AND z.applied IS NULL AND z.raw_unit IS NULL THEN 'name'
                            ELSE 'quantity' END AS kind
                  FROM (SELECT x.*,
                               -- digits against a Hangul word that is neither a unit nor
                               -- particles, nor starts like a unit: a term (10진수, 3계층,
                               -- 2단계), a name the sources must hold, not a quantity
                               CASE WHEN x.s1 = '' AND ascii(x.w1) BETWEEN 44032 AND 55203 AND x.raw_unit IS NULL
                                         AND x.applied IS NULL AND x.hangul IS NULL AND left(x.w1, 1) !~ c_unit_start
                                    THEN nullif(regexp_replace(regexp_replace(substring(x.w1 FROM '^[\uAC00-\uD7A3]+'),
                                                               '(?:' || study_card_quantity_words('any') || '|'
                                                               || study_card_quantity_words('after_vowel') || '|'
                                                               || study_card_quantity_words('after_consonant') || ')+$', ''),
                                                               -- counters: the number stays a number (1번, 4가지, 2차)
                                                               '^(?:번째|번지|번|가지|차|등|위|째|대)$', ''), '')
                               END AS term
                          FROM number AS x) AS z) AS r
        UNION ALL
        -- Sino-Korean and Hanja numerals; one syllable attached to its unit counts only
        -- with 년, 개월, 주일, 세기, %, 月 (사원, 구분, 삼일, 十分, 一名 are words)
        SELECT v.n, 'quantity', v.numeral || v.s1 || v.unit_text, v.value,
               CASE WHEN v.raw_unit = '月' THEN NULL ELSE v.raw_unit END, NULL, NULL
          FROM (SELECT u.*, study_card_numeral_value(u.numeral) AS value
                  FROM numeral AS u
                 WHERE u.raw_unit IS NOT NULL
                   AND (u.s1 <> '' OR char_length(u.numeral) > 1
                        OR (u.numeral !~ '^[만억조영공萬万億兆〇零]$'
                            AND u.raw_unit IN ('년', '개년', '개월', '주일', '세기', '퍼센트', '月')))) AS v
         WHERE v.value IS NOT NULL
    )
    SELECT (row_number() OVER (ORDER BY q.n))::integer, q.kind, q.match, q.value, q.unit, q.num,
           q.num || coalesce(q.unit, ''), q.name
      FROM (SELECT t.n, t.kind, t.match, t.value, t.name,
                   CASE t.raw_unit WHEN '퍼센트' THEN '%' WHEN '퍼센트포인트' THEN '%p' WHEN '주일' THEN '주'
                       WHEN '개년' THEN '년' ELSE t.raw_unit END AS unit,
                   CASE WHEN t.kind = 'verbatim' THEN t.verbatim
                        WHEN t.kind = 'quantity' THEN trim_scale(t.value)::text END AS num
              FROM rows AS t
             WHERE NOT p_names_only OR t.kind = 'name') AS q
     ORDER BY q.n;
END
$_$;

CREATE FUNCTION public.study_card_numeral_value(p_numeral text) RETURNS numeric
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
    AS $_$
DECLARE
    c_digits CONSTANT text := '일이삼사오육칠팔구';
    -- one group below 만: [d]천 [d]백 [d]십 [d]
    c_group CONSTANT text := '(?:[일이삼사오육칠팔구]?천)?(?:[일이삼사오육칠팔구]?백)?(?:[일이삼사오육칠팔구]?십)?[일이삼사오육칠팔구]?';
    v_numeral text := translate(p_numeral, '〇零一二三四五六七八九十百千萬万億兆',
                                           '영영일이삼사오육칠팔구십백천만만억조');
    v_big text[];
    v_small text[];
    v_total numeric := 0;
    v_index integer;
BEGIN
    -- positional only for Hanja digits without a multiplier; one Hangul syllable is its
    -- digit
    IF v_numeral IN ('영', '공') THEN
        RETURN 0;
    ELSIF v_numeral !~ '[십백천만억조]' THEN
        IF char_length(v_numeral) = 1 THEN
            RETURN nullif(strpos(c_digits, v_numeral), 0);
        ELSIF p_numeral ~ '^[〇零一二三四五六七八九]+$' THEN
            RETURN translate(v_numeral, '영일이삼사오육칠팔구', '0123456789')::numeric;
        END IF;
        RETURN NULL;
    END IF;
    -- multiplicative: groups of [d]천 [d]백 [d]십 [d] before 조, 억, 만 and at the end, a
    -- missing digit before a multiplier meaning 1
    v_big := regexp_match(v_numeral, '^(?:(' || c_group || ')조)?(?:(' || c_group || ')억)?(?:('
                                     || c_group || ')만)?(' || c_group || ')$');
    IF v_big IS NULL THEN
        RETURN NULL;
    END IF;
    FOR v_index IN 1 .. 4 LOOP
        CONTINUE WHEN v_big[v_index] IS NULL;
        v_small := regexp_match(v_big[v_index], '^(?:([일이삼사오육칠팔구]?)천)?(?:([일이삼사오육칠팔구]?)백)?'
                                                '(?:([일이삼사오육칠팔구]?)십)?([일이삼사오육칠팔구]?)$');
        -- a place's digit: absent (NULL) 0, written without a digit ('') 1, else the digit
        v_total := v_total
            + (CASE WHEN v_index < 4 AND v_big[v_index] = '' THEN 1
                    ELSE CASE WHEN v_small[1] IS NULL THEN 0 WHEN v_small[1] = '' THEN 1
                              ELSE strpos(c_digits, v_small[1]) END * 1000
                       + CASE WHEN v_small[2] IS NULL THEN 0 WHEN v_small[2] = '' THEN 1
                              ELSE strpos(c_digits, v_small[2]) END * 100
                       + CASE WHEN v_small[3] IS NULL THEN 0 WHEN v_small[3] = '' THEN 1
                              ELSE strpos(c_digits, v_small[3]) END * 10
                       + CASE WHEN v_small[4] = '' THEN 0 ELSE strpos(c_digits, v_small[4]) END END)
              * (ARRAY[1000000000000, 100000000, 10000, 1]::numeric[])[v_index];
    END LOOP;
    RETURN v_total;
END
$_$;

CREATE FUNCTION public.study_card_priority(p_focused_at timestamp with time zone) RETURNS smallint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN (p_focused_at IS NULL) THEN 0 ELSE 10 END;

CREATE FUNCTION public.study_card_prompt_text(p_card_type text, p_cue text, p_cloze_text text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
    AS $$
    SELECT lower(study_card_visible(CASE p_card_type
        WHEN 'qa' THEN p_cue
        ELSE regexp_replace(p_cloze_text, '\{\{c[0-9]{1,4}::([^{}:]*)(::[^{}]*)?\}\}', '\1', 'g')
    END))
$$;

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
     WHERE j.status IN (SELECT status FROM study_card_job_statuses WHERE terminal)
       AND coalesce(j.completed_at, j.created_at) < now() - p_older_than
       -- the current version's job is the idempotency record: without it the sweep would
       -- extract that version again; older versions' and deleted sources' jobs go
       AND NOT EXISTS (SELECT FROM study_card_source(j.source_kind, j.source_id) AS s
                        WHERE s.version = j.source_version);
    GET DIAGNOSTICS v_pruned = ROW_COUNT;
    RETURN v_pruned;
END
$$;

CREATE FUNCTION public.study_card_quantities(p_text text) RETURNS TABLE(ord integer, match text, value numeric, unit text, quantity text)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
    AS $$
    SELECT (row_number() OVER (ORDER BY t.ord))::integer, t.match, t.value, t.unit, t.quantity
      FROM study_card_number_tokens(p_text) AS t
     WHERE t.kind <> 'name'
     ORDER BY t.ord
$$;

CREATE FUNCTION public.study_card_quantity_keys(p_text text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
    AS $$
    SELECT f.keys FROM study_card_number_facts(p_text) AS f
$$;

CREATE FUNCTION public.study_card_quantity_words(p_list text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
    AS $$
    SELECT CASE p_list
        -- Hangul units, grouped by their last syllable (the particles that fit: after_*)
        WHEN 'units_vowel' THEN '퍼센트|분기|세기|세대|바이트|비트|주|초|개|회|배|세'
        WHEN 'units_consonant' THEN '퍼센트포인트|시간|주년|개년|년|분|원|명|건|층'
        WHEN 'units_rieul' THEN '개월|주일|일'
        -- units in Latin letters, case as written
        WHEN 'latin_units' THEN 'km|cm|mm|nm|μm|m|kg|mg|g|ms|μs|ns|s|min|KB|kB|MB|GB|TB|PB|B|bps|Kbps|Mbps|Gbps'
                                '|Hz|kHz|MHz|GHz|kW|W|V|mL|L'
        -- particles and suffixes that may follow a unit in its word: after any last
        -- syllable, then (after_*) those whose form must fit it (와 after a vowel, 과 after
        -- a consonant)
        WHEN 'any' THEN '에서|에게|에는|에도|에|의|도|만에|만|간|째|차|부터|까지|마다|씩|동안|이상|이하|미만|'
                        '이내|전|후|보다|당|짜리|쯤|가량|정도|뿐|밖에|께|여|남짓|내|인|처럼|만큼|대로|같이|'
                        -- the copula, after any last syllable ('62개이다', '1개이면')
                        '이다|이고|이며|이면|이므로|이라서|이라|이지만|이었다|이었고|이어서|임'
        WHEN 'after_vowel' THEN '는|가|를|와|로서|로써|로|라고|라는|라도|라서|라|란|며|고|다|나|면|야|'
                                '였다|였고|였으며|였던|지만'
        WHEN 'after_consonant' THEN '은|이|을|과|으로서|으로써|으로|이라고|이라는|이라도|이라서|이라|이란|'
                                    '이며|이고|이다|이나|이면|이야|이었다|이었고|이었으며|이었던|이지만'
        WHEN 'after_rieul' THEN '은|이|을|과|로서|로써|로|이라고|이라는|이라도|이라서|이라|이란|'
                                '이며|이고|이다|이나|이면|이야|이었다|이었고|이었으며|이었던|이지만'
        -- the first particle allowed when a space separates the number from its unit: not
        -- 의 과 와 로 요 도 전 후 인 다 고 …, after which the word is a noun of its own
        -- (1 회의 'a meeting', 10 초과 'over 10', 7 주로 'mostly', 2 주도 'leadership')
        WHEN 'any_spaced' THEN '에서|에게|에는|에도|에|만에|만|간|째|부터|까지|마다|씩|동안|이상|이하|미만|'
                               '이내|보다|당|짜리|쯤|가량|정도|뿐|밖에|남짓'
        WHEN 'after_vowel_spaced' THEN '는|가|를'
        WHEN 'after_consonant_spaced' THEN '은|이|을|이라|이란|이며|이고|이다|이나|이면|이었다'
    END
$$;

CREATE FUNCTION public.study_card_query_words(p_text text) RETURNS TABLE(word text, pos integer, latin boolean)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET plan_cache_mode TO 'force_generic_plan'
    AS $_$
    SELECT w.word, w.pos, w.latin
      FROM (SELECT CASE WHEN t.latin THEN t.token
                        -- one trailing particle off when two syllables or more remain
                        -- (조건을 -> 조건, 교착상태에서 -> 교착상태; 임진왜란 stays)
                        ELSE regexp_replace(t.token,
                               '^([\uAC00-\uD7A3]{2,}?)(에서는|에서|으로는|으로|에게|까지|부터|처럼|만큼|은|는|이|가|을|를|의|에|로|와|과|만)$', '\1')
                   END AS word, t.pos::integer AS pos, t.latin
              FROM (SELECT m[1] AS token, m[1] ~ '[A-Za-z]' AS latin, r.pos
                      FROM regexp_matches(normalize(coalesce(p_text, ''), NFKC),
                                          '([A-Za-z0-9_]*[A-Za-z][A-Za-z0-9_]*|[\uAC00-\uD7A3]{2,})', 'g')
                           WITH ORDINALITY AS r(m, pos)) AS t
             WHERE t.latin  -- predicates and connectives (…다, 하는, 되는, 위해, 때문 …) out
                OR t.token !~ '(다|하는|되는|하여|하고|하며|하면|되어|되며|되고|하지|하기|있는|없는|않는|않은|같은|위해|대해|통해|따라|때문|이며|이고|이면|으며|한|된|했고|였고|었고|하게|되게|려고|려는|도록|므로|지만|는데)$'
           ) AS w
     -- out: one syllable and a particle (절은, 값과), and the stock words of exam questions
     WHERE w.word !~ '^[\uAC00-\uD7A3](은|는|을|를|에|의|와|과|로|도|만)$'
       AND w.word !~ '^(다음|옳은|옳지|것은|것을|것이|설명|설명으로|가장|적절한|해당|해당하는|무엇|무엇인가|고르시오|보기|정답|해설|문제|경우|이후|모두|이를|이는|이로써|그리고|또는|그러나|따라서|어떤|어느|다른|여러|각각|하나|이상|이하|사용|있다|없다|빈칸|들어갈|알맞은|바르게|틀린|아닌|관한|대한|위한)$'
$_$;

CREATE FUNCTION public.study_card_question_answer(p_choices jsonb, p_answer text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
    SELECT CASE WHEN NOT study_card_is_blank(p_answer) THEN
        -- a choice named by its number or label ('1', '③', '1번', '(1)'; 'A', '(A)' for
        -- {"A": …}), else by its very text
        coalesce((SELECT c.line FROM study_card_question_choices(p_choices) AS c
                   WHERE c.key = study_card_choice_key(p_answer) AND c.key <> ''
                   ORDER BY c.ord LIMIT 1),
                 (SELECT c.line FROM study_card_question_choices(p_choices) AS c
                   WHERE btrim(p_answer) IN (c.body, c.line)
                   ORDER BY c.ord LIMIT 1),
                 -- anything else as stored: '1970' without choices, a number past the
                 -- last choice, a letter for array choices, '1, 3'
                 btrim(p_answer, E' \t\n\r\f\x0b\u00a0\u3000'))
    END
$$;

CREATE FUNCTION public.study_card_question_choices(p_choices jsonb) RETURNS TABLE(ord integer, key text, body text, line text)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET plan_cache_mode TO 'force_generic_plan'
    AS $_$
    -- a JSON array, in order: key is the position; line the label and the choice, or the
    -- choice as stored when it already begins with a circled number; a JSON null choice
    -- is its label alone
    SELECT c.ord::integer, c.ord::text, btrim(c.value),
           CASE WHEN c.value ~ '^[\s\u00a0\u3000]*[\u2460-\u2473]' THEN btrim(c.value)
                ELSE rtrim(study_card_choice_label(c.ord::integer) || ' ' || coalesce(btrim(c.value), '')) END
      FROM jsonb_array_elements_text(CASE jsonb_typeof(p_choices) WHEN 'array' THEN p_choices END)
           WITH ORDINALITY AS c(value, ord)
    UNION ALL
    -- a JSON object, the host's own labels: numbers first in numeric order, then the
    -- others by code point ('A' < 'B', '가' < '나'); line: a number 1–20 as its circled
    -- number ({"1": …} -> '①. …'), a label ending in '.' or ')' as it is, any other
    -- followed by '.' ({"A": …} -> 'A. …')
    SELECT row_number() OVER (ORDER BY o.number NULLS LAST, o.label COLLATE "C")::integer,
           study_card_choice_key(o.label), btrim(o.value),
           rtrim(CASE WHEN o.number BETWEEN 1 AND 20 THEN study_card_choice_label(o.number::integer)
                      WHEN o.label ~ '[.)]$' THEN o.label
                      ELSE o.label || '.' END
                 || ' ' || coalesce(btrim(o.value), ''))
      FROM (SELECT e.key AS label, e.value,
                   CASE WHEN e.key ~ '^[0-9]{1,9}$' THEN e.key::numeric END AS number
              FROM jsonb_each_text(CASE jsonb_typeof(p_choices) WHEN 'object' THEN p_choices END) AS e) AS o
     ORDER BY 1
$_$;

CREATE FUNCTION public.study_card_question_query(p_stem text, p_answer text, p_explanation text, p_terms integer DEFAULT 1) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    WITH answer AS (
        SELECT nullif(CASE WHEN length(a.text) <= 40 THEN a.text
                           ELSE coalesce(substring(left(a.text, 41) FROM '^(.*\S)\s'), left(a.text, 40)) END, '') AS text
          FROM (SELECT btrim(regexp_replace(normalize(coalesce(p_answer, ''), NFKC), '\s+', ' ', 'g')) AS text) AS a),
    word AS (
        SELECT lower(e.word) AS key, e.word, e.pos, e.latin, false AS in_stem FROM study_card_query_words(p_explanation) AS e
        UNION ALL
        SELECT lower(s.word), s.word, 1000000 + s.pos, s.latin, true FROM study_card_query_words(p_stem) AS s),
    -- words of the explanation and the stem not already in the answer, ranked by how
    -- often the explanation uses them, + 1 for a stem word, + 1 for a Latin word, ties to
    -- the earliest
    ranked AS (
        SELECT t.word, row_number() OVER (ORDER BY t.score DESC, t.pos) AS rank
          FROM (SELECT w.key, min(w.word) AS word, min(w.pos) AS pos,
                       count(*) FILTER (WHERE NOT w.in_stem)
                       + CASE WHEN bool_or(w.in_stem) THEN 1 ELSE 0 END
                       + CASE WHEN bool_or(w.latin) THEN 1 ELSE 0 END AS score
                  FROM word AS w GROUP BY w.key) AS t
         WHERE strpos(lower(coalesce((SELECT a.text FROM answer AS a), '')), t.key) = 0),
    -- Few words on purpose: gather's trigram search scores by word similarity, which
    -- divides by the query's own trigrams, so each word added lowers a note that holds
    -- only the answer, under the 0.2 threshold after a few (bench/README.md, "Recall of
    -- gather")
    kept AS (
        SELECT r.word, r.rank, sum(length(r.word) + 1) OVER (ORDER BY r.rank) AS total
          FROM ranked AS r
         WHERE r.rank <= p_terms + CASE WHEN (SELECT a.text FROM answer AS a) IS NULL THEN 1 ELSE 0 END)
    SELECT nullif(concat_ws(' ', (SELECT a.text FROM answer AS a),
                            (SELECT string_agg(k.word, ' ' ORDER BY k.rank) FROM kept AS k
                              WHERE k.total + coalesce((SELECT length(a.text) FROM answer AS a), 0) <= 200)), '')
$$;

CREATE FUNCTION public.study_card_ready_sources() RETURNS TABLE(source_kind text, source_id bigint, user_id bigint, topic_id bigint, version timestamp with time zone)
    LANGUAGE sql STABLE
    AS $$
    SELECT 'question'::text, q.id, q.user_id, q.topic_id, q.version
      FROM study_card_host_questions q
     WHERE q.version IS NOT NULL AND NOT study_card_is_blank(q.explanation)
    UNION ALL
    SELECT 'subject_note'::text, n.id, n.user_id, n.topic_id, n.version
      FROM study_card_host_notes n
     WHERE NOT study_card_is_blank(n.body)
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
        UPDATE study_memo_card_jobs j
           SET status = n.status,
               completed_at = CASE WHEN n.status = 'pending' THEN NULL ELSE now() END,
               run_after = now(), error_code = 'lease_expired',
               error_message = format('lease of %s (%s) expired at %s; reaped', j.locked_by, j.locked_by_role,
                                      study_card_lease_end(j.lease_expires_at, j.lease_renewed_at)),
               locked_by = NULL, lease_expires_at = NULL, takeovers = j.takeovers + 1
          FROM (SELECT id, study_card_next_status('lease_expired', attempts, max_attempts) AS status
                  FROM study_memo_card_jobs
                 WHERE status = 'processing' AND study_card_lease_end(lease_expires_at, lease_renewed_at) < now()
                   FOR UPDATE SKIP LOCKED) AS n
         WHERE j.id = n.id
        RETURNING j.status
    )
    SELECT count(*), count(*) FILTER (WHERE status = 'pending') INTO v_reaped, v_requeued FROM reaped;
    PERFORM study_card_notify(v_requeued);
    RETURN v_reaped;
END
$$;

CREATE FUNCTION public.study_card_refocus(p_topic_id bigint) RETURNS integer
    LANGUAGE sql
    SET search_path TO 'public', 'pg_temp'
    AS $$
    WITH changed AS (
        UPDATE study_memo_card_jobs j
           SET priority = study_card_priority(study_card_topic_focus(p_topic_id))
          FROM (SELECT 'question'::text AS kind, q.id FROM study_card_host_questions q WHERE q.topic_id = p_topic_id
                UNION ALL
                SELECT 'subject_note', n.id FROM study_card_host_notes n WHERE n.topic_id = p_topic_id) AS s
         WHERE j.source_kind = s.kind AND j.source_id = s.id
           AND j.status IN (SELECT v.status FROM study_card_job_statuses v WHERE NOT v.terminal)
           AND j.priority <> study_card_priority(study_card_topic_focus(p_topic_id))
        RETURNING 1)
    SELECT count(*)::int FROM changed
$$;

CREATE FUNCTION public.study_card_related_by_text(p_user_id bigint, p_query text, p_limit integer, p_skip_kind text, p_skip_id bigint, p_near_chunks bigint[] DEFAULT NULL::bigint[], p_near_notes bigint[] DEFAULT NULL::bigint[]) RETURNS TABLE(source_kind text, source_id bigint, rank bigint)
    LANGUAGE plpgsql STABLE
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
DECLARE
    -- Candidates per pass: word similarity of a short query and a 40-word chunk takes
    -- 10-60 us, computed twice for a candidate (the operator's recheck, the distance).
    c_candidates constant integer := 120;
    -- 0.5 first; 0.2 only when fewer than limit rows reached 0.5 (Korean particles glued
    -- to words cost trigrams, so a related chunk often scores only 0.2 to 0.3)
    c_passes constant real[] := ARRAY[0.5, 0.2];
    v_saved text := current_setting('pg_trgm.word_similarity_threshold', true);
    v_threshold real;
    v_kinds text[] := '{}';
    v_ids bigint[] := '{}';
    v_distances real[] := '{}';
    v_found integer;
BEGIN
    IF p_query IS NULL OR btrim(p_query) = '' OR p_limit < 1 THEN
        RETURN;
    END IF;
    -- The vector search's candidates, ranked by the same similarity (index-free: by id),
    -- so a row close in meaning is ranked lexically too wherever the capped passes stopped.
    SELECT coalesce(array_agg(h.kind), '{}'), coalesce(array_agg(h.id), '{}'), coalesce(array_agg(h.distance), '{}')
      INTO v_kinds, v_ids, v_distances
      FROM ((SELECT 'document_chunk'::text AS kind, c.id, p_query <<-> c.content AS distance
               FROM study_card_host_chunks c
              WHERE c.id = ANY (p_near_chunks) AND c.user_id = p_user_id
                AND btrim(c.content) <> '' AND (p_skip_kind <> 'document' OR c.document <> p_skip_id))
            UNION ALL
            (SELECT 'subject_note'::text, n.id, p_query <<-> n.body
               FROM study_card_host_notes n
              WHERE n.id = ANY (p_near_notes) AND n.user_id = p_user_id
                AND btrim(n.body) <> '' AND (p_skip_kind <> 'subject_note' OR n.id <> p_skip_id))) AS h
     WHERE h.distance <= 0.8 + 1e-6;
    FOREACH v_threshold IN ARRAY c_passes LOOP
        PERFORM set_config('pg_trgm.word_similarity_threshold', v_threshold::text, true);
        -- Each branch: the GIN trigram index's candidates (query <% text: the index keeps
        -- the rows holding at least threshold × the query's trigrams, the recheck computes
        -- the similarity), the first c_candidates of them; no ORDER BY, so the bitmap
        -- scan stops there instead of ranking every candidate. So at most ~2 × 120 + the
        -- near rows get a similarity, whatever the number of rows (bench/README.md,
        -- "gather"); past the cap, the first 120 in the table's physical order.
        SELECT v_kinds || coalesce(array_agg(h.kind), '{}'), v_ids || coalesce(array_agg(h.id), '{}'),
               v_distances || coalesce(array_agg(h.distance), '{}')
          INTO v_kinds, v_ids, v_distances
          FROM ((SELECT 'document_chunk'::text AS kind, c.id, p_query <<-> c.content AS distance
                   FROM (SELECT c.id, c.content FROM study_card_host_chunks c
                          WHERE p_query <% c.content AND c.user_id = p_user_id
                            AND btrim(c.content) <> '' AND (p_skip_kind <> 'document' OR c.document <> p_skip_id)
                          LIMIT c_candidates) AS c)
                UNION ALL
                (SELECT 'subject_note'::text, n.id, p_query <<-> n.body
                   FROM (SELECT n.id, n.body FROM study_card_host_notes n
                          WHERE p_query <% n.body AND n.user_id = p_user_id
                            AND btrim(n.body) <> '' AND (p_skip_kind <> 'subject_note' OR n.id <> p_skip_id)
                          LIMIT c_candidates) AS n)) AS h;
        SELECT count(DISTINCT (f.kind, f.id)) INTO v_found
          FROM unnest(v_kinds, v_ids, v_distances) AS f(kind, id, distance)
         WHERE f.distance <= 1 - v_threshold + 1e-6;  -- as <% compares, give or take a rounding
        EXIT WHEN v_found >= p_limit;
    END LOOP;
    PERFORM set_config('pg_trgm.word_similarity_threshold', coalesce(v_saved, '0.6'), true);
    RETURN QUERY
        SELECT r.kind, r.id, row_number() OVER (ORDER BY r.distance, r.kind, r.id)
          FROM (SELECT DISTINCT f.kind, f.id, f.distance
                  FROM unnest(v_kinds, v_ids, v_distances) AS f(kind, id, distance)
                 WHERE f.distance <= 0.8 + 1e-6
                 ORDER BY f.distance, f.kind, f.id
                 LIMIT p_limit) AS r
         ORDER BY r.distance, r.kind, r.id;
END
$$;

CREATE FUNCTION public.study_card_related_by_vector(p_user_id bigint, p_query public.vector, p_limit integer, p_skip_kind text, p_skip_id bigint) RETURNS TABLE(source_kind text, source_id bigint, rank bigint)
    LANGUAGE sql STABLE
    AS $$
    -- each branch an ORDER BY distance LIMIT, which the HNSW indexes serve
    SELECT hit.kind, hit.id, row_number() OVER (ORDER BY hit.distance, hit.kind, hit.id)
      FROM ((SELECT 'document_chunk'::text AS kind, c.id, c.embedding <=> p_query AS distance
               FROM study_card_host_chunks c
              WHERE c.user_id = p_user_id AND c.embedding IS NOT NULL
                AND btrim(c.content) <> '' AND (p_skip_kind <> 'document' OR c.document <> p_skip_id)
              ORDER BY c.embedding <=> p_query
              LIMIT p_limit)
            UNION ALL
            (SELECT 'subject_note'::text, n.id, n.embedding <=> p_query
               FROM study_card_host_notes n
              WHERE n.user_id = p_user_id AND n.embedding IS NOT NULL
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
                  HINT = 'a question needs an explanation and its version; a note or document, non-blank text';
    END IF;

    -- no job for the version yet: one, runnable now (no debounce)
    INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind, priority)
    VALUES (v_source.user_id, p_kind, p_id, v_source.version, 'card_extract',
            study_card_priority(study_card_topic_focus(v_source.topic_id)))
    ON CONFLICT DO NOTHING
    RETURNING id INTO v_job_id;

    IF v_job_id IS NULL THEN  -- a finished job: re-extraction after a model or prompt change
        UPDATE study_memo_card_jobs j
           SET status = 'pending', attempts = 0, run_after = now(), completed_at = NULL,
               error_code = NULL, error_message = NULL
         WHERE j.source_kind = p_kind AND j.source_id = p_id
           AND j.source_version = v_source.version AND j.kind = 'card_extract'
           AND j.status IN (SELECT v.status FROM study_card_job_statuses v WHERE v.terminal)
        RETURNING j.id INTO v_job_id;
    END IF;
    IF v_job_id IS NULL THEN  -- a pending job waiting out a debounce or a retry backoff
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

CREATE FUNCTION public.study_card_result_cards(p_result jsonb) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    IF jsonb_typeof(p_result) IS DISTINCT FROM 'object' OR jsonb_typeof(p_result -> 'cards') IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'the result must be a JSON object {"cards": [...]}'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('got %s', coalesce(left(p_result::text, 200), 'SQL NULL'));
    END IF;
    PERFORM study_card_review_reason(p_result -> 'needs_review');
    RETURN p_result -> 'cards';
END
$$;

CREATE FUNCTION public.study_card_result_schema(p_max_cards integer DEFAULT NULL::integer) RETURNS json
    LANGUAGE plpgsql IMMUTABLE SECURITY DEFINER PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    -- no "pattern" anywhere: llama-cpp-python silently drops a grammar it cannot build
    -- from a regex (issue 16)
    RETURN study_card_result_schema_for(p_max_cards, json_build_object(
        'type', 'object', 'required', json_build_array('source', 'quote'),
        'properties', json_build_object(
            'source', json_build_object('type', 'string', 'minLength', 1),
            'quote', json_build_object('type', 'string', 'minLength', 1, 'maxLength', (study_card_limits()).quote))));
END
$$;

CREATE FUNCTION public.study_card_result_schema(p_job_id bigint, p_max_cards integer, p_worker text) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $_$
DECLARE
    v_job study_memo_card_jobs;
    v_items json;
BEGIN
    -- SECURITY DEFINER: the worker role reads no table itself
    IF p_worker IS NULL THEN
        RAISE EXCEPTION 'study_card_result_schema needs p_worker, the worker name job % was claimed with', p_job_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_job := study_card_held_job(p_job_id, p_worker);
    -- one anyOf branch per handle of payload->'handles' (study_card_gather's), in handle order
    SELECT json_agg(json_build_object(
               'type', 'object', 'required', json_build_array('source', 'quote'),
               'properties', json_build_object(
                   'source', json_build_object('const', h.handle),
                   'quote', json_build_object('type', 'string', 'enum', q.quotes)))
           ORDER BY h.n)
      INTO v_items
      FROM (SELECT e.key AS handle, substr(e.key, 2)::integer AS n, e.value ->> 'kind' AS kind, (e.value ->> 'id')::bigint AS id
              FROM jsonb_each(coalesce(v_job.payload -> 'handles', '{}')) AS e
             WHERE e.key ~ '^S[0-9]{1,9}$') AS h
      CROSS JOIN LATERAL (
            -- each sentence once, in order; not those with nothing to quote, label-only
            -- lines ('보기:') or those over the quote limit
            SELECT json_agg(s.sentence ORDER BY s.first) AS quotes
              FROM (SELECT t.sentence, min(t.ord) AS first
                      FROM unnest(study_card_sentences(study_card_source_text(h.kind, h.id))) WITH ORDINALITY AS t(sentence, ord)
                     WHERE study_card_norm(t.sentence) <> ''
                       AND t.sentence !~ '^[^:[:space:]]{1,4}:$'
                       AND char_length(t.sentence) <= (study_card_limits()).quote
                     GROUP BY t.sentence) AS s) AS q
     WHERE q.quotes IS NOT NULL;
    IF v_items IS NULL THEN  -- no recorded handle (gather not run) or no sentence: no card could cite anything
        RETURN study_card_result_schema_for(least(p_max_cards, 0), study_card_result_schema(0) #> '{properties,cards,items,anyOf,0,properties,evidence,items}');
    END IF;
    RETURN study_card_result_schema_for(p_max_cards, json_build_object('anyOf', v_items));
END
$_$;

CREATE FUNCTION public.study_card_result_schema_for(p_max_cards integer, p_evidence_item json) RETURNS json
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_limits record := study_card_limits();
    v_evidence json;
BEGIN
    IF p_max_cards < 0 THEN
        RAISE EXCEPTION 'max_cards must be 0 or more, not %', p_max_cards USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_evidence := json_build_object('type', 'array', 'minItems', 1, 'maxItems', v_limits.evidence, 'items', p_evidence_item);
    RETURN json_build_object(
        'type', 'object', 'required', json_build_array('cards', 'needs_review'),
        'properties', json_build_object(
            'cards', json_build_object(
                'type', 'array', 'maxItems', least(p_max_cards, v_limits.cards),
                'items', json_build_object('anyOf', json_build_array(
                    json_build_object(
                        'type', 'object', 'required', json_build_array('type', 'cue', 'answer', 'evidence'),
                        'properties', json_build_object(
                            'type', json_build_object('const', 'qa'),
                            'cue', json_build_object('type', 'string', 'minLength', 1, 'maxLength', v_limits.cue),
                            'answer', json_build_object('type', 'string', 'minLength', 1, 'maxLength', v_limits.answer),
                            'evidence', v_evidence)),
                    json_build_object(
                        'type', 'object', 'required', json_build_array('type', 'text', 'evidence'),
                        'properties', json_build_object(
                            'type', json_build_object('const', 'cloze'),
                            'text', json_build_object('type', 'string', 'minLength', 1, 'maxLength', v_limits.cloze_text),
                            'evidence', v_evidence))))),
            'needs_review', json_build_object('anyOf', json_build_array(
                json_build_object('type', 'null'),
                json_build_object(
                    'type', 'object', 'required', json_build_array('reason'),
                    'properties', json_build_object(
                        'reason', json_build_object('type', 'string', 'minLength', 1, 'maxLength', v_limits.reason)))))));
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
    -- a misspelt code must not read as "none failed with it"
    IF p_error_code IS NOT NULL AND NOT EXISTS (SELECT FROM study_card_error_codes WHERE code = p_error_code) THEN
        RAISE EXCEPTION 'unknown error code %', quote_literal(p_error_code)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = (SELECT 'one of: ' || string_agg(code, ', ' ORDER BY code) FROM study_card_error_codes);
    END IF;
    UPDATE study_memo_card_jobs
       SET status = 'pending', attempts = 0, run_after = now(), completed_at = NULL
     WHERE status = 'failed' AND (p_error_code IS NULL OR error_code = p_error_code);
    GET DIAGNOSTICS v_retried = ROW_COUNT;
    PERFORM study_card_notify(v_retried);
    RETURN v_retried;
END
$$;

CREATE FUNCTION public.study_card_review_limits(OUT verdicts integer, OUT reason integer, OUT classes text[]) RETURNS record
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT (study_card_limits()).cards, 300, ARRAY['leak', 'unsupported', 'multi_fact', 'duplicate', 'wrong']
$$;

CREATE FUNCTION public.study_card_review_problem(p_review jsonb) RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_limits record := study_card_review_limits();
    v_item jsonb;
    v_n integer;
BEGIN
    IF jsonb_typeof(p_review) IS DISTINCT FROM 'object' THEN
        RETURN format('the review must be a JSON object {"verdicts": [...]}, not %s',
                      coalesce(jsonb_typeof(p_review), 'SQL NULL'));
    ELSIF jsonb_typeof(p_review -> 'verdicts') IS DISTINCT FROM 'array' THEN
        RETURN format('"verdicts" must be an array, not %s', coalesce(jsonb_typeof(p_review -> 'verdicts'), 'missing'));
    ELSIF jsonb_array_length(p_review -> 'verdicts') > v_limits.verdicts THEN
        RETURN format('%s verdicts; the limit is %s', jsonb_array_length(p_review -> 'verdicts'), v_limits.verdicts);
    END IF;
    FOR v_item, v_n IN
        SELECT v.value, v.ord - 1 FROM jsonb_array_elements(p_review -> 'verdicts') WITH ORDINALITY AS v(value, ord)
    LOOP
        IF jsonb_typeof(v_item) IS DISTINCT FROM 'object' THEN
            RETURN format('verdict %s must be an object {"index", "verdict", "class", "reason"}', v_n);
        ELSIF NOT (CASE WHEN jsonb_typeof(v_item -> 'index') = 'number'
                        THEN (v_item ->> 'index')::numeric >= 0 AND (v_item ->> 'index')::numeric % 1 = 0 ELSE false END) THEN
            RETURN format('verdict %s: index must be a card''s number (0, 1, …), not %s',
                          v_n, coalesce((v_item -> 'index')::text, 'missing'));
        ELSIF v_item -> 'verdict' IS DISTINCT FROM '"reject"' AND v_item -> 'verdict' IS DISTINCT FROM '"keep"' THEN
            RETURN format('verdict %s: verdict must be "reject" or "keep", not %s',
                          v_n, coalesce((v_item -> 'verdict')::text, 'missing'));
        ELSIF v_item ->> 'verdict' = 'reject' AND (jsonb_typeof(v_item -> 'class') IS DISTINCT FROM 'string'
                                                    OR NOT (v_item ->> 'class') = ANY (v_limits.classes)) THEN
            RETURN format('verdict %s: class must be one of %s, not %s', v_n, array_to_string(v_limits.classes, ', '),
                          coalesce((v_item -> 'class')::text, 'missing'));
        ELSIF v_item ->> 'verdict' = 'reject' AND (jsonb_typeof(v_item -> 'reason') IS DISTINCT FROM 'string'
                                                    OR btrim(v_item ->> 'reason') = '') THEN
            RETURN format('verdict %s: a rejection needs a reason, not %s', v_n,
                          coalesce(left((v_item -> 'reason')::text, 50), 'missing'));
        ELSIF char_length(v_item ->> 'reason') > v_limits.reason THEN
            RETURN format('verdict %s: reason is %s characters long; the limit is %s',
                          v_n, char_length(v_item ->> 'reason'), v_limits.reason);
        END IF;
    END LOOP;
    RETURN NULL;
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
       AND char_length(p_needs_review ->> 'reason') <= (study_card_limits()).reason THEN
        RETURN btrim(p_needs_review ->> 'reason');
    END IF;
    -- a review flag is a claim about the explanation and is not guessed at: the result
    -- is refused like a wrong shape
    RAISE EXCEPTION 'needs_review must be null or {"reason": "…"} with a reason of 1 to % characters', (study_card_limits()).reason
        USING ERRCODE = 'invalid_parameter_value', DETAIL = format('got %s', left(p_needs_review::text, 200));
END
$$;

CREATE FUNCTION public.study_card_review_schema(p_max_verdicts integer DEFAULT NULL::integer) RETURNS json
    LANGUAGE plpgsql IMMUTABLE SECURITY DEFINER PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_limits record := study_card_review_limits();
    v_index json := json_build_object('type', 'integer', 'minimum', 0);
BEGIN
    IF p_max_verdicts < 0 THEN
        RAISE EXCEPTION 'max_verdicts must be 0 or more, not %', p_max_verdicts USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN json_build_object(
        'type', 'object', 'required', json_build_array('verdicts'),
        'properties', json_build_object(
            'verdicts', json_build_object(
                'type', 'array', 'maxItems', least(p_max_verdicts, v_limits.verdicts),
                'items', json_build_object('anyOf', json_build_array(
                    json_build_object(
                        'type', 'object', 'required', json_build_array('index', 'verdict', 'class', 'reason'),
                        'properties', json_build_object(
                            'index', v_index,
                            'verdict', json_build_object('const', 'reject'),
                            'class', json_build_object('enum', to_json(v_limits.classes)),
                            'reason', json_build_object('type', 'string', 'minLength', 1, 'maxLength', v_limits.reason))),
                    json_build_object(
                        'type', 'object', 'required', json_build_array('index', 'verdict'),
                        'properties', json_build_object(
                            'index', v_index,
                            'verdict', json_build_object('const', 'keep'))))))));
END
$$;

CREATE FUNCTION public.study_card_sentences(p_text text) RETURNS text[]
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
    AS $_$
DECLARE
    c_space constant text := study_card_spaces();
    v_line text;
    v_words text[];
    v_gaps text[];
    v_word text;
    v_next text;
    v_current text;
    v_ends boolean;
    v_sentences text[] := '{}';
BEGIN
    -- lines first: a question's 문제/보기/정답/해설 parts and each numbered choice are
    -- lines of their own
    FOREACH v_line IN ARRAY regexp_split_to_array(coalesce(p_text, ''), '\r\n|[\n\u000B\u000C\r\u0085\u2028\u2029]')
    LOOP
        SELECT coalesce(array_agg(m.part[1] ORDER BY m.ord), '{}'), coalesce(array_agg(m.part[2] ORDER BY m.ord), '{}')
          INTO v_words, v_gaps
          FROM regexp_matches(v_line, '([^' || c_space || ']+)([' || c_space || ']*)', 'g') WITH ORDINALITY AS m(part, ord);
        v_current := '';
        FOR i IN 1 .. cardinality(v_words) LOOP
            v_word := regexp_replace(v_words[i], '[]"''”’»)}」』〉》]+$', '');  -- the word without closing marks
            v_next := v_words[i + 1];
            -- Korean 다. 요. 까? and English sentences end at . ! ? 。 ！ ？ (closing marks
            -- after it allowed); a full stop inside a word (3.5%, v2.0) never splits it
            v_ends := v_next IS NULL OR (
                v_word ~ '[.!?。！？]$'
                AND NOT (
                    v_word ~ '\.$' AND (
                        v_next ~ '^[a-z]'  -- before a lowercase Latin word: e.g. a B-tree; 3 p.m. today
                        OR v_word ~ '^[\u2460-\u2473]\.$'  -- a circled choice number, as 보기 and 정답 show them
                        OR (v_current = '' AND v_word ~* '^(\(?[0-9]{1,3}|[a-z]|[ivx]{1,4}|[가-하])\.$')  -- a list marker: 1. a. 가. iv.
                        OR v_word ~* '(^|[^a-z])([a-z]\.){2,}$'  -- an initialism: e.g. i.e. U.S.
                        OR (v_word ~ '^[A-Z]\.$' AND v_next ~ '^[A-Z]')  -- a capital initial: E. F. Codd
                        OR v_word ~* '(^|[^a-z])(mr|mrs|ms|dr|prof|sr|jr|st|vs|cf|fig|figs|no|nos|vol|pp|approx|al|ca|inc|ltd|co)\.$')));  -- Mr. vs. et al.
            v_current := v_current || v_words[i];
            IF v_ends THEN
                v_sentences := v_sentences || v_current;
                v_current := '';
            ELSE
                v_current := v_current || v_gaps[i];
            END IF;
        END LOOP;
    END LOOP;
    RETURN v_sentences;
END
$_$;

CREATE FUNCTION public.study_card_shape_problem(p_card jsonb) RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
    AS $$
DECLARE
    v_field text;
    v_limit integer;
    v_item jsonb;
    v_index integer;
    v_bidi text;
    v_limits record := study_card_limits();
BEGIN
    IF jsonb_typeof(p_card) IS DISTINCT FROM 'object' THEN
        RETURN format('a card must be a JSON object, not %s', coalesce(jsonb_typeof(p_card), 'SQL NULL'));
    END IF;
    IF p_card -> 'type' IS NULL OR p_card ->> 'type' NOT IN ('qa', 'cloze') OR jsonb_typeof(p_card -> 'type') <> 'string' THEN
        RETURN format('type must be "qa" or "cloze", not %s', coalesce((p_card -> 'type')::text, 'missing'));
    END IF;
    FOR v_field, v_limit IN
        SELECT f.name, f.max_length
          FROM (VALUES ('qa', 'cue', v_limits.cue), ('qa', 'answer', v_limits.answer),
                       ('cloze', 'text', v_limits.cloze_text))
               AS f(card_type, name, max_length)
         WHERE f.card_type = p_card ->> 'type'
    LOOP
        IF jsonb_typeof(p_card -> v_field) IS DISTINCT FROM 'string' THEN
            RETURN format('%s must be a string, not %s', v_field,
                          coalesce(jsonb_typeof(p_card -> v_field), 'missing'));
        -- lengths before anything reads the text, so an oversized field costs nothing
        ELSIF char_length(p_card ->> v_field) > v_limit THEN
            RETURN format('%s is %s characters long; the limit is %s',
                          v_field, char_length(p_card ->> v_field), v_limit);
        END IF;
        -- bidi controls (U+202A-202E, U+2066-2069) make a text display in another order
        -- than the guards compare it. Tested with ~ as the sources are; substring (which
        -- PostgreSQL compiles and caches apart from ~) only to name the one found
        IF (p_card ->> v_field) ~ '[\u202A-\u202E\u2066-\u2069]' THEN
            v_bidi := substring(p_card ->> v_field FROM '[\u202A-\u202E\u2066-\u2069]');
            RETURN format('%s contains the bidi control U+%s, which reorders what a learner sees',
                          v_field, upper(to_hex(ascii(v_bidi))));
        ELSIF study_card_norm(p_card ->> v_field) = '' THEN
            RETURN format('%s is empty', v_field);
        END IF;
    END LOOP;
    -- an empty or missing evidence is the evidence_missing guard's
    IF jsonb_typeof(p_card -> 'evidence') NOT IN ('array', 'null') THEN
        RETURN format('evidence must be an array, not %s', jsonb_typeof(p_card -> 'evidence'));
    ELSIF jsonb_array_length(coalesce(nullif(p_card -> 'evidence', 'null'), '[]')) > v_limits.evidence THEN
        RETURN format('%s evidence items; the limit is %s', jsonb_array_length(p_card -> 'evidence'), v_limits.evidence);
    END IF;
    FOR v_item, v_index IN
        SELECT e.value, e.ord - 1
          FROM jsonb_array_elements(coalesce(nullif(p_card -> 'evidence', 'null'), '[]')) WITH ORDINALITY AS e(value, ord)
    LOOP
        IF jsonb_typeof(v_item) IS DISTINCT FROM 'object' THEN
            RETURN format('evidence %s must be an object {"source", "quote"}', v_index);
        -- a number is a raw id: the evidence_foreign guard's
        ELSIF coalesce(jsonb_typeof(v_item -> 'source'), 'missing') NOT IN ('string', 'number') THEN
            RETURN format('evidence %s: source must be a handle such as "S1", not %s',
                          v_index, coalesce(jsonb_typeof(v_item -> 'source'), 'missing'));
        ELSIF jsonb_typeof(v_item -> 'quote') IS DISTINCT FROM 'string' THEN
            RETURN format('evidence %s: quote must be a string, not %s',
                          v_index, coalesce(jsonb_typeof(v_item -> 'quote'), 'missing'));
        ELSIF char_length(v_item ->> 'quote') > v_limits.quote THEN
            RETURN format('evidence %s: quote is %s characters long; the limit is %s',
                          v_index, char_length(v_item ->> 'quote'), v_limits.quote);
        ELSIF study_card_norm(v_item ->> 'quote') = '' THEN
            RETURN format('evidence %s: quote is empty', v_index);
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE FUNCTION public.study_card_source(p_kind text, p_id bigint) RETURNS TABLE(user_id bigint, topic_id bigint, version timestamp with time zone, ready boolean)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
    -- ready: a non-blank explanation with its version; a non-blank note body; a document
    -- with a non-blank chunk
    SELECT q.user_id, q.topic_id, q.version, q.version IS NOT NULL AND NOT study_card_is_blank(q.explanation)
      FROM study_card_host_questions q
     WHERE p_kind = 'question' AND q.id = p_id
    UNION ALL
    SELECT n.user_id, n.topic_id, n.version, NOT study_card_is_blank(n.body)
      FROM study_card_host_notes n
     WHERE p_kind = 'subject_note' AND n.id = p_id
    UNION ALL
    SELECT d.user_id, NULL::bigint, d.version,
           EXISTS (SELECT FROM study_card_host_chunks c WHERE c.document = d.id AND NOT study_card_is_blank(c.content))
      FROM study_card_host_documents d
     WHERE p_kind = 'document' AND d.id = p_id
$$;

CREATE FUNCTION public.study_card_source_embedding(p_kind text, p_id bigint) RETURNS public.vector
    LANGUAGE sql STABLE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT CASE p_kind
        WHEN 'question' THEN (SELECT q.embedding FROM study_card_host_questions q WHERE q.id = p_id)
        WHEN 'subject_note' THEN (SELECT n.embedding FROM study_card_host_notes n WHERE n.id = p_id)
        WHEN 'document' THEN (SELECT avg(c.embedding) FROM study_card_host_chunks c WHERE c.document = p_id)
    END
$$;

CREATE FUNCTION public.study_card_source_name(p_kind text, p_id bigint) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT CASE p_kind
        WHEN 'question' THEN (SELECT q.question FROM study_card_host_questions q WHERE q.id = p_id)
        WHEN 'subject_note' THEN (SELECT n.title FROM study_card_host_notes n WHERE n.id = p_id)
        WHEN 'document' THEN (SELECT d.title FROM study_card_host_documents d WHERE d.id = p_id)
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
        WHEN 'question' THEN (
            SELECT study_card_question_query(
                       q.question,
                       coalesce((SELECT c.body FROM study_card_question_choices(q.choices) AS c
                                  WHERE c.line = study_card_question_answer(q.choices, q.answer)
                                  ORDER BY c.ord LIMIT 1),
                                q.answer),
                       q.explanation)
              FROM study_card_host_questions q WHERE q.id = p_id)
        WHEN 'subject_note' THEN (SELECT coalesce(nullif(btrim(n.title), ''), left(n.body, 200))
                                    FROM study_card_host_notes n WHERE n.id = p_id)
        WHEN 'document' THEN (SELECT coalesce(nullif(btrim(d.title), ''),
                                              (SELECT left(c.content, 200) FROM study_card_host_chunks c
                                                WHERE c.document = d.id ORDER BY c.ord, c.id LIMIT 1))
                                FROM study_card_host_documents d WHERE d.id = p_id)
    END
$$;

CREATE FUNCTION public.study_card_source_text(p_kind text, p_id bigint) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
    SELECT CASE p_kind
        -- each part from the start of a line, a blank part left out; 보기: the choices'
        -- lines (study_card_question_choices), or a string or number as it is; 정답: a
        -- choice number or label shown with its choice (study_card_question_answer)
        WHEN 'question' THEN (
            SELECT concat_ws(E'\n',
                CASE WHEN NOT study_card_is_blank(q.question)
                     THEN '문제: ' || btrim(q.question, E' \t\n\r\f\x0b\u00a0\u3000') END,
                '보기:' || E'\n' || coalesce(
                    (SELECT string_agg(c.line, E'\n' ORDER BY c.ord) FROM study_card_question_choices(q.choices) AS c),
                    CASE WHEN jsonb_typeof(q.choices) IN ('string', 'number') AND NOT study_card_is_blank(q.choices #>> '{}')
                         THEN btrim(q.choices #>> '{}', E' \t\n\r\f\x0b\u00a0\u3000') END),
                '정답: ' || study_card_question_answer(q.choices, q.answer),
                CASE WHEN NOT study_card_is_blank(q.explanation)
                     THEN '해설: ' || btrim(q.explanation, E' \t\n\r\f\x0b\u00a0\u3000') END)
              FROM study_card_host_questions q
             WHERE q.id = p_id)
        WHEN 'subject_note' THEN (
            SELECT concat_ws(E'\n', n.title, n.body)
              FROM study_card_host_notes n
             WHERE n.id = p_id)
        WHEN 'document_chunk' THEN (
            SELECT c.content
              FROM study_card_host_chunks c
             WHERE c.id = p_id)
        WHEN 'document' THEN (
            SELECT string_agg(c.content, E'\n' ORDER BY c.ord, c.id)
              FROM study_card_host_chunks c
             WHERE c.document = p_id)
    END
$$;

CREATE FUNCTION public.study_card_source_title(p_kind text, p_id bigint) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT CASE p_kind
        WHEN 'question' THEN (SELECT t.name FROM study_card_host_questions q JOIN study_card_host_topics t ON t.id = q.topic_id
                               WHERE q.id = p_id)
        WHEN 'subject_note' THEN (SELECT n.title FROM study_card_host_notes n WHERE n.id = p_id)
        WHEN 'document' THEN (SELECT d.title FROM study_card_host_documents d WHERE d.id = p_id)
        WHEN 'document_chunk' THEN (SELECT c.title FROM study_card_host_chunks c WHERE c.id = p_id)
    END
$$;

CREATE FUNCTION public.study_card_tokens(p_text text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
    AS $$
    SELECT coalesce(array_agg(t.token[1] ORDER BY t.ord), '{}')
      FROM regexp_matches(
               lower(study_card_visible(p_text) COLLATE "C"),
               '([0-9a-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u0370-\u03FF\u0400-\u04FF]+'
               '|[\u1100-\u11FF\u3040-\u30FF\u3131-\u318E\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7A3]+)',
               'g') WITH ORDINALITY AS t(token, ord)
$$;

CREATE FUNCTION public.study_card_topic_focus(p_topic_id bigint) RETURNS timestamp with time zone
    LANGUAGE sql STABLE
    AS $$
    SELECT t.focus FROM study_card_host_topics t WHERE t.id = p_topic_id
$$;

CREATE FUNCTION public.study_card_unit_word_pattern(p_level text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
    AS $_$
    SELECT '^(?:' || string_agg(
               '(' || study_card_quantity_words('units_' || f.final) || ')(?:(?:'
               || CASE p_level
                      -- written against the number ('5개의', '10초에', '2배로')
                      WHEN 'attached' THEN study_card_quantity_words('any') || '|'
                                           || study_card_quantity_words('after_' || f.final)
                      -- 'spaced': after a space ('10 초에'; not '1 회의'); 'spelled': after a
                      -- multiplier or a Sino-Korean numeral, where the space is the
                      -- standard spelling, also 의 ('100만 명의')
                      ELSE CASE WHEN p_level = 'spelled' THEN '의|' ELSE '' END
                           || study_card_quantity_words('any_spaced') || '|'
                           || study_card_quantity_words(CASE f.final WHEN 'vowel' THEN 'after_vowel_spaced'
                                                                     ELSE 'after_consonant_spaced' END)
                  END
               || ')(?:' || all_.particles || ')*)?', '|' ORDER BY f.ord) || ')$'
      FROM unnest(ARRAY['vowel', 'consonant', 'rieul']) WITH ORDINALITY AS f(final, ord),
           (SELECT study_card_quantity_words('any') || '|' || study_card_quantity_words('after_vowel') || '|'
                   || study_card_quantity_words('after_consonant') AS particles) AS all_
$_$;

CREATE FUNCTION public.study_card_unsupported_quantities(p_card_text text, p_evidence_keys text[]) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
    AS $$
    SELECT study_card_unsupported_quantities(f.quantities, f.needs, p_evidence_keys)
      FROM study_card_number_facts(p_card_text) AS f
$$;

CREATE FUNCTION public.study_card_unsupported_quantities(p_card_text text, p_evidence_text text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
    AS $$
    SELECT study_card_unsupported_quantities(p_card_text, study_card_quantity_keys(p_evidence_text))
$$;

CREATE FUNCTION public.study_card_unsupported_quantities(p_quantities text[], p_needs text[], p_evidence_keys text[]) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
    AS $$
    SELECT coalesce(array_agg(x.quantity ORDER BY x.ord), '{}')
      FROM unnest(p_quantities, p_needs) WITH ORDINALITY AS x(quantity, needs, ord)
     WHERE x.needs <> ALL (coalesce(p_evidence_keys, '{}'))
$$;

CREATE FUNCTION public.study_card_without_options(p_cue text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    SET standard_conforming_strings TO 'on'
    AS $$
    SELECT regexp_replace(regexp_replace(regexp_replace(regexp_replace(study_card_visible(p_cue),
        -- a bracketed list of two or more items: '(O/X)', '[참/거짓]', '(A, B, C)'
        '[(\[][^()\[\]]*(/|,|·|、|\||또는|혹은|\mor\M)[^()\[\]]*[)\]]', ' ', 'g'),
        -- 'A, B C, D 중': items of one to three words, separated by , / · 、 또는 혹은
        -- ('삽입 이상, 삭제 이상, 조회 이상 중 …', 'A 또는 B 중')
        '([^\s,/·、]+(\s[^\s,/·、?]+){0,2}\s*(,|/|·|、|\s또는\s|\s혹은\s)\s*)+[^\s,/·、?]+(\s[^\s,/·、?]+){0,2}\s*(중|가운데)(에서|에|의)?(?![가-힣])',
        ' ', 'g'),
        -- 'TCP와 UDP 중'
        '[^\s,/·、]+(와|과)\s+[^\s,/·、]+\s*(중|가운데)(에서|에|의)?(?![가-힣])', ' ', 'g'),
        -- '… A인가 B인가', '… A입니까 B입니까'
        '[^\s,?]+(\s[^\s,?]+)?(인가|입니까|일까|이냐)\s*,?\s*[^\s,?]+(\s[^\s,?]+)?(인가|입니까|일까|이냐)', ' ', 'g')
$$;

CREATE FUNCTION public.tg_study_questions__study_card_enqueue() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    PERFORM study_card_enqueue_source('question', NEW.id);
    RETURN NULL;
END
$$;

CREATE FUNCTION public.tg_study_questions__study_card_enqueued() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    PERFORM study_card_enqueue_statement();
    RETURN NULL;
END
$$;

CREATE FUNCTION public.tg_study_subject_notes__study_card_enqueue() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    PERFORM study_card_enqueue_source('subject_note', NEW.id);
    RETURN NULL;
END
$$;

CREATE FUNCTION public.tg_study_subject_notes__study_card_enqueued() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    PERFORM study_card_enqueue_statement();
    RETURN NULL;
END
$$;

CREATE FUNCTION public.tg_study_topics__study_card_focus() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    PERFORM study_card_refocus(NEW.id);
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

CREATE TABLE public.study_card_drop_reasons (
    reason character varying(40) NOT NULL,
    guard_order smallint NOT NULL,
    meaning text NOT NULL
);

CREATE VIEW public.study_card_drop_stats AS
 SELECT COALESCE(r.reason, (d.reason)::character varying) AS reason,
    r.guard_order,
    COALESCE(d.dropped_cards, (0)::bigint) AS dropped_cards,
    COALESCE(d.jobs, (0)::bigint) AS jobs
   FROM (public.study_card_drop_reasons r
     FULL JOIN ( SELECT (x.item ->> 'reason'::text) AS reason,
            count(*) AS dropped_cards,
            count(DISTINCT j.id) AS jobs
           FROM (public.study_memo_card_jobs j
             CROSS JOIN LATERAL jsonb_array_elements(
                CASE
                    WHEN (jsonb_typeof(((j.payload -> 'report'::text) -> 'dropped'::text)) = 'array'::text) THEN ((j.payload -> 'report'::text) -> 'dropped'::text)
                    ELSE NULL::jsonb
                END) x(item))
          GROUP BY (x.item ->> 'reason'::text)) d ON ((d.reason = (r.reason)::text)))
  ORDER BY r.guard_order, COALESCE(r.reason, (d.reason)::character varying);

CREATE TABLE public.study_card_error_codes (
    code character varying(40) NOT NULL,
    retryable boolean NOT NULL,
    closes_with character varying(20) NOT NULL,
    recorded_by text NOT NULL,
    meaning text NOT NULL,
    CONSTRAINT study_card_error_codes_check CHECK (((recorded_by = 'database'::text) OR retryable)),
    CONSTRAINT study_card_error_codes_recorded_by_check CHECK ((recorded_by = ANY (ARRAY['database'::text, 'worker'::text])))
);

CREATE VIEW public.study_card_host_chunks AS
 SELECT c.id,
    c.document_id AS document,
    d.user_id,
    d.title,
    c.ord,
    c.content,
    c.embedding
   FROM (public.document_chunks c
     JOIN public.documents d ON ((d.id = c.document_id)))
  WHERE (d.deleted_at IS NULL);

CREATE VIEW public.study_card_host_documents AS
 SELECT id,
    user_id,
    title,
    updated_at AS version
   FROM public.documents d
  WHERE (deleted_at IS NULL);

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

CREATE VIEW public.study_card_host_notes AS
 SELECT id,
    user_id,
    topic_id,
    title,
    body,
    updated_at AS version,
    embedding
   FROM public.study_subject_notes n
  WHERE (deleted_at IS NULL);

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

CREATE VIEW public.study_card_host_questions AS
 SELECT id,
    user_id,
    topic_id,
    stem AS question,
    choices,
    answer,
    ai_explanation AS explanation,
    ai_explanation_generated_at AS version,
    embedding
   FROM public.study_questions q
  WHERE (deleted_at IS NULL);

CREATE TABLE public.study_topics (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    name text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    focused_at timestamp with time zone
);

CREATE VIEW public.study_card_host_topics AS
 SELECT id,
    name,
    focused_at AS focus
   FROM public.study_topics t;

CREATE TABLE public.study_card_job_statuses (
    status character varying(20) NOT NULL,
    lifecycle_order smallint NOT NULL,
    terminal boolean NOT NULL,
    meaning text NOT NULL
);

CREATE VIEW public.study_card_job_stats AS
 SELECT j.status,
    s.terminal,
    j.error_code,
    e.retryable,
    count(*) AS jobs,
    count(*) FILTER (WHERE (((j.status)::text = 'pending'::text) AND (j.run_after <= now()))) AS runnable,
    count(*) FILTER (WHERE (((j.status)::text = 'processing'::text) AND (public.study_card_lease_end(j.lease_expires_at, j.lease_renewed_at) < now()))) AS expired_leases,
    (now() - min(j.created_at) FILTER (WHERE (NOT s.terminal))) AS oldest_age,
    count(*) FILTER (WHERE (j.completed_at > (now() - '1 day'::interval))) AS finished_last_day,
    percentile_cont((0.5)::double precision) WITHIN GROUP (ORDER BY (j.completed_at - j.started_at)) FILTER (WHERE (j.completed_at > (now() - '1 day'::interval))) AS median_duration,
    percentile_cont((0.95)::double precision) WITHIN GROUP (ORDER BY (j.completed_at - j.started_at)) FILTER (WHERE (j.completed_at > (now() - '1 day'::interval))) AS p95_duration,
    count(*) FILTER (WHERE (j.takeovers > 0)) AS taken_over,
    sum(j.takeovers) AS takeovers
   FROM ((public.study_memo_card_jobs j
     LEFT JOIN public.study_card_job_statuses s ON (((s.status)::text = (j.status)::text)))
     LEFT JOIN public.study_card_error_codes e ON (((e.code)::text = (j.error_code)::text)))
  GROUP BY j.status, s.lifecycle_order, s.terminal, j.error_code, e.retryable
  ORDER BY s.lifecycle_order, j.error_code NULLS FIRST;

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
    answer_key text GENERATED ALWAYS AS (public.study_card_answer_key((card_type)::text, answer, cloze_text)) STORED,
    CONSTRAINT study_memo_cards_retired_check CHECK (((deleted_at IS NULL) = (retired_reason IS NULL))),
    CONSTRAINT study_memo_cards_type_check CHECK (((((card_type)::text = 'qa'::text) AND (cue IS NOT NULL) AND (answer IS NOT NULL) AND (cloze_text IS NULL)) OR (((card_type)::text = 'cloze'::text) AND (cloze_text IS NOT NULL) AND (cue IS NULL) AND (answer IS NULL))))
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

CREATE VIEW public.study_memo_cards_active AS
 SELECT id,
    user_id,
    card_type,
    cue,
    answer,
    cloze_text,
    source_kind,
    source_id,
    public.study_card_source_name((source_kind)::text, source_id) AS source_title,
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

ALTER TABLE ONLY public.study_card_drop_reasons
    ADD CONSTRAINT study_card_drop_reasons_guard_order_key UNIQUE (guard_order);

ALTER TABLE ONLY public.study_card_drop_reasons
    ADD CONSTRAINT study_card_drop_reasons_pkey PRIMARY KEY (reason);

ALTER TABLE ONLY public.study_card_error_codes
    ADD CONSTRAINT study_card_error_codes_pkey PRIMARY KEY (code);

ALTER TABLE ONLY public.study_card_job_statuses
    ADD CONSTRAINT study_card_job_statuses_lifecycle_order_key UNIQUE (lifecycle_order);

ALTER TABLE ONLY public.study_card_job_statuses
    ADD CONSTRAINT study_card_job_statuses_pkey PRIMARY KEY (status);

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

CREATE INDEX study_card_document_chunks_content_gin_idx ON public.document_chunks USING gin (content public.gin_trgm_ops);

CREATE INDEX study_card_document_chunks_embedding_idx ON public.document_chunks USING hnsw (embedding public.vector_cosine_ops);

CREATE INDEX study_card_subject_notes_body_gin_idx ON public.study_subject_notes USING gin (body public.gin_trgm_ops);

CREATE INDEX study_card_subject_notes_embedding_idx ON public.study_subject_notes USING hnsw (embedding public.vector_cosine_ops);

CREATE INDEX study_memo_card_evidence_card_idx ON public.study_memo_card_evidence USING btree (card_id);

CREATE INDEX study_memo_card_jobs_claim_idx ON public.study_memo_card_jobs USING btree (priority DESC, id) WHERE ((status)::text = 'pending'::text);

CREATE INDEX study_memo_card_jobs_lease_idx ON public.study_memo_card_jobs USING btree (lease_expires_at) WHERE ((status)::text = 'processing'::text);

CREATE UNIQUE INDEX study_memo_card_jobs_version_uniq ON public.study_memo_card_jobs USING btree (source_kind, source_id, source_version, kind) NULLS NOT DISTINCT;

CREATE INDEX study_memo_card_progress_due_idx ON public.study_memo_card_progress USING btree (user_id, due_at);

CREATE INDEX study_memo_cards_active_answer_key_idx ON public.study_memo_cards USING btree (user_id, answer_key) WHERE (deleted_at IS NULL);

CREATE UNIQUE INDEX study_memo_cards_active_norm_key_uniq ON public.study_memo_cards USING btree (user_id, norm_key) WHERE (deleted_at IS NULL);

CREATE INDEX study_memo_cards_active_source_idx ON public.study_memo_cards USING btree (source_kind, source_id) WHERE (deleted_at IS NULL);

CREATE INDEX study_memo_cards_user_deleted_idx ON public.study_memo_cards USING btree (user_id, norm_key) WHERE ((retired_reason)::text = 'user_deleted'::text);

CREATE INDEX study_reminders_due_idx ON public.study_reminders USING btree (remind_at) WHERE ((sent_at IS NULL) AND (deleted_at IS NULL));

CREATE TRIGGER study_card_enqueue_inserted AFTER INSERT ON public.study_questions FOR EACH ROW WHEN ((new.ai_explanation_generated_at IS NOT NULL)) EXECUTE FUNCTION public.tg_study_questions__study_card_enqueue();

CREATE TRIGGER study_card_enqueue_inserted AFTER INSERT ON public.study_subject_notes FOR EACH ROW EXECUTE FUNCTION public.tg_study_subject_notes__study_card_enqueue();

CREATE TRIGGER study_card_enqueue_statement AFTER INSERT OR UPDATE ON public.study_questions FOR EACH STATEMENT EXECUTE FUNCTION public.tg_study_questions__study_card_enqueued();

CREATE TRIGGER study_card_enqueue_statement AFTER INSERT OR UPDATE ON public.study_subject_notes FOR EACH STATEMENT EXECUTE FUNCTION public.tg_study_subject_notes__study_card_enqueued();

CREATE TRIGGER study_card_enqueue_updated AFTER UPDATE ON public.study_questions FOR EACH ROW WHEN (((new.ai_explanation_generated_at IS NOT NULL) AND (new.ai_explanation_generated_at IS DISTINCT FROM old.ai_explanation_generated_at))) EXECUTE FUNCTION public.tg_study_questions__study_card_enqueue();

CREATE TRIGGER study_card_enqueue_updated AFTER UPDATE ON public.study_subject_notes FOR EACH ROW WHEN (((new.body IS DISTINCT FROM old.body) OR (new.title IS DISTINCT FROM old.title))) EXECUTE FUNCTION public.tg_study_subject_notes__study_card_enqueue();

CREATE TRIGGER study_card_focus AFTER UPDATE OF focused_at ON public.study_topics FOR EACH ROW WHEN (((old.focused_at IS NULL) IS DISTINCT FROM (new.focused_at IS NULL))) EXECUTE FUNCTION public.tg_study_topics__study_card_focus();

ALTER TABLE ONLY public.document_chunks
    ADD CONSTRAINT document_chunks_document_id_fkey FOREIGN KEY (document_id) REFERENCES public.documents(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.documents
    ADD CONSTRAINT documents_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.study_card_error_codes
    ADD CONSTRAINT study_card_error_codes_closes_with_fkey FOREIGN KEY (closes_with) REFERENCES public.study_card_job_statuses(status);

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

REVOKE ALL ON FUNCTION public.commit_cards(p_job_id bigint, p_worker text, p_result jsonb, p_review jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION public.commit_cards(p_job_id bigint, p_worker text, p_result jsonb, p_review jsonb) TO study_card_worker;

REVOKE ALL ON FUNCTION public.study_card_add_source_jobs(p_kind text, p_source_ids bigint[], OUT made integer, OUT runnable integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_invisibles() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_letters() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_operators() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_spaces() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_visible(p_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_norm(p_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_answer_key(p_card_type text, p_answer text, p_cloze_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_apply_review(p_judged jsonb, p_review jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_card_text(p_card jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_carry_request(p_job_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_check(p_card jsonb, p_sources jsonb, OUT reason text, OUT detail text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_check_result(p_job_id bigint, p_worker text, p_result jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION public.study_card_check_result(p_job_id bigint, p_worker text, p_result jsonb) TO study_card_worker;

REVOKE ALL ON FUNCTION public.study_card_choice_key(p_label text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_choice_label(p_n integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_cited_sources(p_handles jsonb, p_cards jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_claim(p_worker text, p_limit integer, p_lease interval) FROM PUBLIC;
GRANT ALL ON FUNCTION public.study_card_claim(p_worker text, p_limit integer, p_lease interval) TO study_card_worker;

REVOKE ALL ON FUNCTION public.study_card_close_job(p_job_id bigint, p_status text, p_error_code text, p_error_message text, p_kept bigint[], p_retired bigint[], p_dropped jsonb, p_review jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_cloze_deletions(p_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_cloze_leak(p_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_cloze_problem(p_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_cloze_visible(p_text text, p_n integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_collapsed(p_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_commit_lock(p_scope text, p_value text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_delete(p_card_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_enqueue(p_limit integer) FROM PUBLIC;
GRANT ALL ON FUNCTION public.study_card_enqueue(p_limit integer) TO study_card_worker;

REVOKE ALL ON FUNCTION public.study_card_enqueue_ids(p_kind text, p_ids text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_enqueue_source(p_kind text, p_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_enqueue_sources(p_kind text, p_source_ids bigint[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_enqueue_statement() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_fail(p_job_id bigint, p_worker text, p_error_code text, p_message text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.study_card_fail(p_job_id bigint, p_worker text, p_error_code text, p_message text) TO study_card_worker;

REVOKE ALL ON FUNCTION public.study_card_flag_for_review(p_kind text, p_id bigint, p_reason text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_gather(p_job_id bigint, p_k integer, p_query_embedding public.vector, p_worker text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.study_card_gather(p_job_id bigint, p_k integer, p_query_embedding public.vector, p_worker text) TO study_card_worker;

REVOKE ALL ON FUNCTION public.study_card_generic_words() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_heartbeat(p_job_id bigint, p_worker text, p_lease interval) FROM PUBLIC;
GRANT ALL ON FUNCTION public.study_card_heartbeat(p_job_id bigint, p_worker text, p_lease interval) TO study_card_worker;

REVOKE ALL ON FUNCTION public.study_card_held_job(p_job_id bigint, p_worker text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_in_place(p_quote text, p_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_is_blank(p_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_judge(p_job public.study_memo_card_jobs, p_cards jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_keywords() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_leaks(p_answer text, p_visible text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_lease_end(p_lease_expires_at timestamp with time zone, p_lease_renewed_at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_lease_end(p_lease_expires_at timestamp with time zone, p_lease_renewed_at timestamp with time zone, p_max_lease interval) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_limits(OUT cards integer, OUT cue integer, OUT answer integer, OUT cloze_text integer, OUT evidence integer, OUT quote integer, OUT reason integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_list_items(p_answer text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_lock_commit(p_job public.study_memo_card_jobs, p_cards jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_lock_job(p_job_id bigint, p_worker text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_lock_owner(p_user_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_max_lease() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_missing_names(p_text text, p_source_norm text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_missing_names(p_text text, p_source_norm text, p_source_names text[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_names(p_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_names_not_in(p_names text[], p_source_norm text, p_source_names text[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_near_duplicate(p_answer_key text, p_prompt text, p_quotes text[], p_other_answer_key text, p_other_prompt text, p_other_quotes text[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_next_status(p_error_code text, p_attempts integer, p_max_attempts integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_norm_key(p_card jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_norm_key(p_card_type text, p_cue text, p_answer text, p_cloze_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_note_debounce() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_notify(p_runnable integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_number_facts(p_text text, p_names_only boolean, OUT keys text[], OUT names text[], OUT quantities text[], OUT needs text[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_number_tokens(p_text text, p_names_only boolean) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_numeral_value(p_numeral text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_priority(p_focused_at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_prompt_text(p_card_type text, p_cue text, p_cloze_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_prune(p_older_than interval) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_quantities(p_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_quantity_keys(p_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_quantity_words(p_list text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_query_words(p_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_question_answer(p_choices jsonb, p_answer text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_question_choices(p_choices jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_question_query(p_stem text, p_answer text, p_explanation text, p_terms integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_ready_sources() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_reap() FROM PUBLIC;
GRANT ALL ON FUNCTION public.study_card_reap() TO study_card_worker;

REVOKE ALL ON FUNCTION public.study_card_refocus(p_topic_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_related_by_text(p_user_id bigint, p_query text, p_limit integer, p_skip_kind text, p_skip_id bigint, p_near_chunks bigint[], p_near_notes bigint[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_related_by_vector(p_user_id bigint, p_query public.vector, p_limit integer, p_skip_kind text, p_skip_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_release(p_job_id bigint, p_worker text, p_delay interval) FROM PUBLIC;
GRANT ALL ON FUNCTION public.study_card_release(p_job_id bigint, p_worker text, p_delay interval) TO study_card_worker;

REVOKE ALL ON FUNCTION public.study_card_request(p_kind text, p_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_result_cards(p_result jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_result_schema(p_max_cards integer) FROM PUBLIC;
GRANT ALL ON FUNCTION public.study_card_result_schema(p_max_cards integer) TO study_card_worker;

REVOKE ALL ON FUNCTION public.study_card_result_schema(p_job_id bigint, p_max_cards integer, p_worker text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.study_card_result_schema(p_job_id bigint, p_max_cards integer, p_worker text) TO study_card_worker;

REVOKE ALL ON FUNCTION public.study_card_result_schema_for(p_max_cards integer, p_evidence_item json) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_retry(p_job_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_retry_delay(p_attempts integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_retry_failed(p_error_code text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_review_limits(OUT verdicts integer, OUT reason integer, OUT classes text[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_review_problem(p_review jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_review_reason(p_needs_review jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_review_schema(p_max_verdicts integer) FROM PUBLIC;
GRANT ALL ON FUNCTION public.study_card_review_schema(p_max_verdicts integer) TO study_card_worker;

REVOKE ALL ON FUNCTION public.study_card_sentences(p_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_shape_problem(p_card jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_source(p_kind text, p_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_source_embedding(p_kind text, p_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_source_name(p_kind text, p_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_source_problem(p_kind text, p_id bigint, p_version timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_source_query(p_kind text, p_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_source_text(p_kind text, p_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_source_title(p_kind text, p_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_tokens(p_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_topic_focus(p_topic_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_unit_word_pattern(p_level text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_unsupported_quantities(p_card_text text, p_evidence_keys text[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_unsupported_quantities(p_card_text text, p_evidence_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_unsupported_quantities(p_quantities text[], p_needs text[], p_evidence_keys text[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_without_options(p_cue text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.tg_study_questions__study_card_enqueue() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.tg_study_questions__study_card_enqueued() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.tg_study_subject_notes__study_card_enqueue() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.tg_study_subject_notes__study_card_enqueued() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.tg_study_topics__study_card_focus() FROM PUBLIC;
