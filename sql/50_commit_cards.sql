-- commit_cards(): the one way cards get written. The worker hands over the LLM's result
-- untouched; everything that decides what is kept happens here, in one transaction.

-- study_card_review_reason(needs_review jsonb) -> text: the reason the LLM flagged the
-- explanation with ({"reason": "…"}, 1 to study_card_limits().reason characters,
-- trimmed), or NULL for SQL NULL, JSON null or false. Errors: 22023 for anything else.
CREATE OR REPLACE FUNCTION study_card_review_reason(p_needs_review jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = public, pg_temp
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
REVOKE EXECUTE ON FUNCTION study_card_review_reason(jsonb) FROM PUBLIC;

-- The 7-argument version shipped before the review existed; a parameter cannot be added
-- by CREATE OR REPLACE.
DROP FUNCTION IF EXISTS study_card_close_job(bigint, text, text, text, bigint[], bigint[], jsonb);

-- study_card_close_job(job_id, status, error_code, error_message, kept, retired, dropped
-- [, review]) -> jsonb, the report (docs/cards.md): closes the job (completed_at now, the
-- lease cleared) and stores the report in payload->'report' (payload->'handles' stays);
-- "review" only when one is given. Errors: none. Called by commit_cards and gather
-- (closing a job whose source is gone) on the row they hold locked.
CREATE OR REPLACE FUNCTION study_card_close_job(
    p_job_id bigint, p_status text, p_error_code text, p_error_message text,
    p_kept bigint[], p_retired bigint[], p_dropped jsonb, p_review jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = public, pg_temp
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
REVOKE EXECUTE ON FUNCTION study_card_close_job(bigint, text, text, text, bigint[], bigint[], jsonb, jsonb) FROM PUBLIC;

-- study_card_judge(job, cards) -> jsonb {"survivors": [{"index", "key", "card"}],
-- "dropped": [{"index", "reason", "detail"}]}: what commit_cards keeps of a result's
-- cards, writing nothing. Each card (0-based index) is dropped with the first guard it
-- fails, in the order of docs/cards.md: study_card_check's guards, then
-- duplicate_in_batch, duplicate, user_deleted. Errors: none.
CREATE OR REPLACE FUNCTION study_card_judge(p_job study_memo_card_jobs, p_cards jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = public, pg_temp
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
REVOKE EXECUTE ON FUNCTION study_card_judge(study_memo_card_jobs, jsonb) FROM PUBLIC;

-- study_card_apply_review(judged, review) -> jsonb: study_card_judge's result after the
-- review's verdicts (docs/review.md): each survivor a "reject" verdict names dropped as
-- review_rejected, after the other drops, and "review" saying what became of it
-- ({"applied": false, "problem"} for a malformed review, which changes nothing).
-- Errors: none: a review can drop survivors and nothing else. Cards a guard dropped
-- against a card the review then rejects (duplicate_in_batch) stay dropped.
CREATE OR REPLACE FUNCTION study_card_apply_review(p_judged jsonb, p_review jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = public, pg_temp
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
REVOKE EXECUTE ON FUNCTION study_card_apply_review(jsonb, jsonb) FROM PUBLIC;

-- study_card_lock_job(job_id, worker) -> study_memo_card_jobs: the job, held by worker,
-- for commit_cards and its dry run. Errors: 25000 when the session is not READ
-- COMMITTED; 55000 when the caller does not hold the job. Locks: the job's owner
-- (study_card_lock_owner), then the job row FOR UPDATE (study_card_held_job).
CREATE OR REPLACE FUNCTION study_card_lock_job(p_job_id bigint, p_worker text)
RETURNS study_memo_card_jobs
LANGUAGE plpgsql
SET search_path = public, pg_temp
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
REVOKE EXECUTE ON FUNCTION study_card_lock_job(bigint, text) FROM PUBLIC;

-- study_card_result_cards(result jsonb) -> jsonb: the "cards" array of an LLM result,
-- after the checks every result passes: an object with a "cards" array and a valid
-- needs_review (study_card_review_reason). Errors: 22023 (the worker records parse_fail).
CREATE OR REPLACE FUNCTION study_card_result_cards(p_result jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = public, pg_temp
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
REVOKE EXECUTE ON FUNCTION study_card_result_cards(jsonb) FROM PUBLIC;

-- study_card_commit_lock(scope, value) -> bigint: the advisory lock key of one thing a
-- commit may conflict on: ('source', 'question:42'), ('answer', '7:전송계층'). Errors: none.
CREATE OR REPLACE FUNCTION study_card_commit_lock(p_scope text, p_value text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN hashtextextended('study_card commit ' || p_scope || ' ' || p_value, 0);
REVOKE EXECUTE ON FUNCTION study_card_commit_lock(text, text) FROM PUBLIC;

-- study_card_lock_commit(job, cards) -> void: takes the transaction-level advisory locks
-- a commit needs before it reads what it decides on: the job's source, then the
-- answer_key of each of the first study_card_limits().cards cards for the job's user, in
-- key order, so that two commits never wait for each other in a circle. Errors: none.
CREATE OR REPLACE FUNCTION study_card_lock_commit(p_job study_memo_card_jobs, p_cards jsonb) RETURNS void
LANGUAGE plpgsql
SET search_path = public, pg_temp
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
REVOKE EXECUTE ON FUNCTION study_card_lock_commit(study_memo_card_jobs, jsonb) FROM PUBLIC;

-- The 3-argument version shipped before the review; a parameter cannot be added by
-- CREATE OR REPLACE (sql/90_grants.sql grants the new signature).
DROP FUNCTION IF EXISTS commit_cards(bigint, text, jsonb);

-- commit_cards(job_id, worker, result, review = NULL) -> jsonb, the report: the one way
-- cards get written, in one transaction (the steps and the result format: docs/cards.md).
-- review is the optional review call's verdicts, ignored when malformed. Errors: 25000
-- not READ COMMITTED; 55000 job not held (nothing written); 22023 result not an object
-- with a "cards" array and a valid needs_review. Locks: the owner, the job row, advisory
-- locks on the source and the cards' answers (study_card_lock_commit).
CREATE OR REPLACE FUNCTION commit_cards(p_job_id bigint, p_worker text, p_result jsonb, p_review jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
-- for every function it calls: their patterns are backslash escapes in string literals
SET standard_conforming_strings = on
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
REVOKE EXECUTE ON FUNCTION commit_cards(bigint, text, jsonb, jsonb) FROM PUBLIC;

-- study_card_check_result(job_id, worker, result) -> jsonb: what commit_cards would do
-- with result, writing nothing: {"job_id", "status", "error_code", "kept": [indexes],
-- "dropped"}, status 'skipped' when commit_cards would close the job unread. The same
-- errors (25000, 55000, 22023) and row locks, no advisory lock. The worker calls it
-- before the optional review pass, which sees only the cards that would be kept.
CREATE OR REPLACE FUNCTION study_card_check_result(p_job_id bigint, p_worker text, p_result jsonb)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
-- for every function it calls: their patterns are backslash escapes in string literals
SET standard_conforming_strings = on
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
REVOKE EXECUTE ON FUNCTION study_card_check_result(bigint, text, jsonb) FROM PUBLIC;
