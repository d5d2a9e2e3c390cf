-- Gather: the evidence an LLM reads for one job. S1 is the job's own source; S2… are
-- the owner's most related document chunks and subject notes, found by pgvector
-- (cosine distance, HNSW) and pg_trgm (word distance, GiST), fused by reciprocal
-- rank. The handles are recorded on the job; commit_cards accepts evidence only for
-- recorded handles. The sources are read through the host adapter's views
-- (sql/10_host.sql); the indexes the searches walk are migration 0010's.

-- study_card_source_query(kind, id) -> text: what trigram search looks for, a short
-- text naming the source's subject (word similarity rewards a chunk that contains the
-- words of a short query): for a question study_card_question_query of its stem, its
-- answer (the text of the choice it names, as 정답 shows it in study_card_source_text)
-- and its explanation; a note's title; a document's title; the first 200 characters of
-- the body when the title is blank. NULL for a missing row.
CREATE OR REPLACE FUNCTION study_card_source_query(p_kind text, p_id bigint)
RETURNS text
LANGUAGE sql STABLE
SET search_path = public, pg_temp
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
REVOKE EXECUTE ON FUNCTION study_card_source_query(text, bigint) FROM PUBLIC;

-- study_card_source_title(kind, id) -> text: the label shown with a gathered source:
-- a question's topic name, a note's title, a document's title (also for its chunks).
CREATE OR REPLACE FUNCTION study_card_source_title(p_kind text, p_id bigint)
RETURNS text
LANGUAGE sql STABLE
SET search_path = public, pg_temp
AS $$
    SELECT CASE p_kind
        WHEN 'question' THEN (SELECT t.name FROM study_card_host_questions q JOIN study_card_host_topics t ON t.id = q.topic_id
                               WHERE q.id = p_id)
        WHEN 'subject_note' THEN (SELECT n.title FROM study_card_host_notes n WHERE n.id = p_id)
        WHEN 'document' THEN (SELECT d.title FROM study_card_host_documents d WHERE d.id = p_id)
        WHEN 'document_chunk' THEN (SELECT c.title FROM study_card_host_chunks c WHERE c.id = p_id)
    END
$$;
REVOKE EXECUTE ON FUNCTION study_card_source_title(text, bigint) FROM PUBLIC;

-- study_card_source_embedding(kind, id) -> vector: the default query of gather, the
-- source's own stored embedding: a question's or a note's embedding; for a
-- document (which has none) the average of its chunks' embeddings. NULL when there is
-- none (gather then ranks by trigram similarity alone).
CREATE OR REPLACE FUNCTION study_card_source_embedding(p_kind text, p_id bigint)
RETURNS vector
LANGUAGE sql STABLE
SET search_path = public, pg_temp
AS $$
    SELECT CASE p_kind
        WHEN 'question' THEN (SELECT q.embedding FROM study_card_host_questions q WHERE q.id = p_id)
        WHEN 'subject_note' THEN (SELECT n.embedding FROM study_card_host_notes n WHERE n.id = p_id)
        WHEN 'document' THEN (SELECT avg(c.embedding) FROM study_card_host_chunks c WHERE c.document = p_id)
    END
$$;
REVOKE EXECUTE ON FUNCTION study_card_source_embedding(text, bigint) FROM PUBLIC;

-- study_card_related_by_vector(user_id, query, limit, skip_kind, skip_id) ->
-- (source_kind, source_id, rank): the user's live chunks and notes with an embedding and
-- a non-blank text, nearest to query by cosine distance first, at most limit, rank
-- 1…limit; skip_kind/skip_id (non-NULL) leave out the job's own source (a document: all
-- its chunks). Errors: none. Called by study_card_gather only.
CREATE OR REPLACE FUNCTION study_card_related_by_vector(
    p_user_id bigint, p_query vector, p_limit integer, p_skip_kind text, p_skip_id bigint)
RETURNS TABLE (source_kind text, source_id bigint, rank bigint)
-- plain SQL without SET or SECURITY DEFINER, so the planner inlines it into the caller
-- (EXPLAIN then shows the index scans)
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
REVOKE EXECUTE ON FUNCTION study_card_related_by_vector(bigint, vector, integer, text, bigint) FROM PUBLIC;

-- study_card_related_by_text(user_id, query, limit, skip_kind, skip_id, near_chunks,
-- near_notes) -> (source_kind, source_id, rank): the user's live chunks and notes with a
-- non-blank text and pg_trgm word similarity to query >= 0.2, highest first (then kind,
-- id), at most limit, rank 1…limit; near_* (the vector search's ids) ranked too. Bounded
-- cost: exact while the candidates fit the per-pass cap, else the best of the first in
-- physical order. Restores the threshold setting. Errors: none. Called by gather only.
CREATE OR REPLACE FUNCTION study_card_related_by_text(
    p_user_id bigint, p_query text, p_limit integer, p_skip_kind text, p_skip_id bigint,
    p_near_chunks bigint[] DEFAULT NULL, p_near_notes bigint[] DEFAULT NULL)
RETURNS TABLE (source_kind text, source_id bigint, rank bigint)
LANGUAGE plpgsql STABLE
-- Planned once per session (study_card_gather's force_custom_plan would plan each of its
-- statements on every call, ~2-5 ms apiece): every plan is the GIN bitmap scan anyway.
SET plan_cache_mode = force_generic_plan
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
REVOKE EXECUTE ON FUNCTION study_card_related_by_text(bigint, text, integer, text, bigint, bigint[], bigint[]) FROM PUBLIC;
DROP FUNCTION IF EXISTS study_card_related_by_text(bigint, text, integer, text, bigint);

-- study_card_gather(job_id, k 6, query_embedding NULL, worker) -> (handle, source_kind,
-- source_id, title, body, score): S1 the job's source, S2… up to k of the owner's chunks
-- and notes by reciprocal-rank fusion (docs/cards.md, Gather); records the handles on the
-- job. A gone or moved-on source: the job closed skipped, no row. Errors: 22023 NULL
-- worker or k not in 0..50; 55000 job not held; pgvector's on a dimension mismatch.
-- Locks the job row (FOR UPDATE).
CREATE OR REPLACE FUNCTION study_card_gather(p_job_id bigint, p_k integer DEFAULT 6, p_query_embedding vector DEFAULT NULL,
                                             p_worker text DEFAULT NULL)
RETURNS TABLE (handle text, source_kind text, source_id bigint, title text, body text, score double precision)
-- SECURITY DEFINER: the worker role reads no table itself
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
-- Planner settings: bench/README.md ("gather").
-- The planner prices a distance as one cheap operator on a vector that lives in TOAST
-- and would rather seq-scan than walk HNSW (or the GIN trigram index's bitmap).
SET enable_seqscan = off
-- planned afresh per call: the owner's share of the rows and the query text decide the plan
SET plan_cache_mode = force_custom_plan
-- study_card_related_by_text sets it per pass; restored on return.
SET pg_trgm.word_similarity_threshold = 0.2
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
REVOKE EXECUTE ON FUNCTION study_card_gather(bigint, integer, vector, text) FROM PUBLIC;
