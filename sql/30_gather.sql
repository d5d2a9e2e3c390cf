-- Gather: the evidence an LLM reads for one job. S1 is the job's own source; S2… are
-- the owner's most related document chunks and subject notes, found by pgvector
-- (cosine distance, HNSW) and pg_trgm (word distance, GiST), fused by reciprocal
-- rank. The handles are recorded on the job; commit_cards accepts evidence only for
-- recorded handles. The indexes are migration 0010's.

-- study_card_source_embedding(kind, id) -> vector: the default query of gather, the
-- source's own stored embedding: a question's or a note's embedding column; for a
-- document (which has none) the average of its chunks' embeddings. NULL when there is
-- none (gather then ranks by trigram similarity alone).
CREATE OR REPLACE FUNCTION study_card_source_embedding(p_kind text, p_id bigint)
RETURNS vector
LANGUAGE sql STABLE
SET search_path = public, pg_temp
AS $$
    SELECT CASE p_kind
        WHEN 'question' THEN (SELECT q.embedding FROM study_questions q WHERE q.id = p_id)
        WHEN 'subject_note' THEN (SELECT n.embedding FROM study_subject_notes n WHERE n.id = p_id)
        WHEN 'document' THEN (SELECT avg(c.embedding) FROM document_chunks c WHERE c.document_id = p_id)
    END
$$;
REVOKE EXECUTE ON FUNCTION study_card_source_embedding(text, bigint) FROM PUBLIC;

-- study_card_query_words(text) -> (word, pos, latin): the content words of a text, for
-- a lexical query, in order of appearance (pos). NFKC first; a word is a run of Latin
-- letters and digits with at least one letter (HAVING, 2NF, IPv4, DENSE_RANK: latin
-- true) or a run of two or more Hangul syllables. A Hangul word loses one trailing
-- particle when two syllables or more remain (조건을 -> 조건, 교착상태에서 -> 교착상태,
-- 임진왜란 stays); left out: predicates and connectives (a word ending in 다, 하는, 되는,
-- 하여, 않은, 위해, 때문 …), two-syllable words that are one syllable and a particle
-- (절은, 값과), and the stock words of exam questions (다음, 옳은, 것은, 설명, 보기, 정답,
-- 해설 …). Crude on purpose: it only picks words to search for, and the searches
-- rank whatever it picks.
CREATE OR REPLACE FUNCTION study_card_query_words(p_text text)
RETURNS TABLE (word text, pos integer, latin boolean)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
    SELECT w.word, w.pos, w.latin
      FROM (SELECT CASE WHEN t.latin THEN t.token
                        ELSE regexp_replace(t.token,
                               '^([\uAC00-\uD7A3]{2,}?)(에서는|에서|으로는|으로|에게|까지|부터|처럼|만큼|은|는|이|가|을|를|의|에|로|와|과|만)$', '\1')
                   END AS word, t.pos::integer AS pos, t.latin
              FROM (SELECT m[1] AS token, m[1] ~ '[A-Za-z]' AS latin, r.pos
                      FROM regexp_matches(normalize(coalesce(p_text, ''), NFKC),
                                          '([A-Za-z0-9_]*[A-Za-z][A-Za-z0-9_]*|[\uAC00-\uD7A3]{2,})', 'g')
                           WITH ORDINALITY AS r(m, pos)) AS t
             WHERE t.latin
                OR t.token !~ '(다|하는|되는|하여|하고|하며|하면|되어|되며|되고|하지|하기|있는|없는|않는|않은|같은|위해|대해|통해|따라|때문|이며|이고|이면|으며|한|된|했고|였고|었고|하게|되게|려고|려는|도록|므로|지만|는데)$'
           ) AS w
     WHERE w.word !~ '^[\uAC00-\uD7A3](은|는|을|를|에|의|와|과|로|도|만)$'
       AND w.word !~ '^(다음|옳은|옳지|것은|것을|것이|설명|설명으로|가장|적절한|해당|해당하는|무엇|무엇인가|고르시오|보기|정답|해설|문제|경우|이후|모두|이를|이는|이로써|그리고|또는|그러나|따라서|어떤|어느|다른|여러|각각|하나|이상|이하|사용|있다|없다|빈칸|들어갈|알맞은|바르게|틀린|아닌|관한|대한|위한)$'
$$;
REVOKE EXECUTE ON FUNCTION study_card_query_words(text) FROM PUBLIC;

-- study_card_question_query(stem, answer, explanation, terms default 1) -> text: the
-- lexical query of a question: its answer (the choice's text when the answer is a
-- choice number; its first 40 characters, cut at a space) followed by its `terms` most
-- distinctive words (one more when there is no answer): study_card_query_words of the
-- explanation and the stem, not already in the answer, ranked by how often the
-- explanation uses them, plus one for a word of the stem and one for a Latin/acronym
-- word, ties to the earliest in the explanation; never more than 200 characters.
-- Examples from bench/recall_set.json: 'HAVING 그룹', 'LRU 페이지', '선점 교착상태',
-- '갑신정변 일본', 'Singleton 패턴'.
-- Why so short: gather's trigram search ranks by pg_trgm word similarity, the best
-- match of the whole query's trigrams within one stretch of the text, divided by the
-- query's own trigrams; every word added to the query lowers the score of a note that
-- holds only the answer, below the search threshold (0.2) after a few words. recall@5
-- on bench/recall_set.json (python -m bench recall; 20 questions, 116 notes and
-- chunks), trigram alone: the stem 0.21, the answer alone 0.75, the answer and one
-- term 0.93, the answer and terms up to 200 characters 0.58.
CREATE OR REPLACE FUNCTION study_card_question_query(p_stem text, p_answer text, p_explanation text,
                                                     p_terms integer DEFAULT 1)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
    WITH answer AS (
        SELECT nullif(CASE WHEN length(a.text) <= 40 THEN a.text
                           ELSE coalesce(substring(left(a.text, 41) FROM '^(.*\S)\s'), left(a.text, 40)) END, '') AS text
          FROM (SELECT btrim(regexp_replace(normalize(coalesce(p_answer, ''), NFKC), '\s+', ' ', 'g')) AS text) AS a),
    word AS (
        SELECT lower(e.word) AS key, e.word, e.pos, e.latin, false AS in_stem FROM study_card_query_words(p_explanation) AS e
        UNION ALL
        SELECT lower(s.word), s.word, 1000000 + s.pos, s.latin, true FROM study_card_query_words(p_stem) AS s),
    ranked AS (
        SELECT t.word, row_number() OVER (ORDER BY t.score DESC, t.pos) AS rank
          FROM (SELECT w.key, min(w.word) AS word, min(w.pos) AS pos,
                       count(*) FILTER (WHERE NOT w.in_stem)
                       + CASE WHEN bool_or(w.in_stem) THEN 1 ELSE 0 END
                       + CASE WHEN bool_or(w.latin) THEN 1 ELSE 0 END AS score
                  FROM word AS w GROUP BY w.key) AS t
         WHERE strpos(lower(coalesce((SELECT a.text FROM answer AS a), '')), t.key) = 0),
    kept AS (
        SELECT r.word, r.rank, sum(length(r.word) + 1) OVER (ORDER BY r.rank) AS total
          FROM ranked AS r
         WHERE r.rank <= p_terms + CASE WHEN (SELECT a.text FROM answer AS a) IS NULL THEN 1 ELSE 0 END)
    SELECT nullif(concat_ws(' ', (SELECT a.text FROM answer AS a),
                            (SELECT string_agg(k.word, ' ' ORDER BY k.rank) FROM kept AS k
                              WHERE k.total + coalesce((SELECT length(a.text) FROM answer AS a), 0) <= 200)), '')
$$;
REVOKE EXECUTE ON FUNCTION study_card_question_query(text, text, text, integer) FROM PUBLIC;

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
                       q.stem,
                       coalesce((SELECT c.body FROM study_card_question_choices(q.choices) AS c
                                  WHERE c.line = study_card_question_answer(q.choices, q.answer)
                                  ORDER BY c.ord LIMIT 1),
                                q.answer),
                       q.ai_explanation)
              FROM study_questions q WHERE q.id = p_id)
        WHEN 'subject_note' THEN (SELECT coalesce(nullif(btrim(n.title), ''), left(n.body, 200))
                                    FROM study_subject_notes n WHERE n.id = p_id)
        WHEN 'document' THEN (SELECT coalesce(nullif(btrim(d.title), ''),
                                              (SELECT left(c.content, 200) FROM document_chunks c
                                                WHERE c.document_id = d.id ORDER BY c.ord, c.id LIMIT 1))
                                FROM documents d WHERE d.id = p_id)
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
        WHEN 'question' THEN (SELECT t.name FROM study_questions q JOIN study_topics t ON t.id = q.topic_id
                               WHERE q.id = p_id)
        WHEN 'subject_note' THEN (SELECT n.title FROM study_subject_notes n WHERE n.id = p_id)
        WHEN 'document' THEN (SELECT d.title FROM documents d WHERE d.id = p_id)
        WHEN 'document_chunk' THEN (SELECT d.title FROM document_chunks c JOIN documents d ON d.id = c.document_id
                                     WHERE c.id = p_id)
    END
$$;
REVOKE EXECUTE ON FUNCTION study_card_source_title(text, bigint) FROM PUBLIC;

-- study_card_related_by_vector(user_id, query, limit, skip_kind, skip_id)
-- -> (source_kind, source_id, rank): the user's chunks (of documents not deleted) and
-- notes (not deleted) with an embedding and a non-blank text, nearest to query by
-- cosine distance first, at most limit rows, rank 1…limit. skip_kind/skip_id leave out
-- the job's own source ('document': all its chunks; 'subject_note': that note); pass
-- them non-NULL. Each branch is an ORDER BY distance LIMIT that the HNSW indexes serve.
-- Plain SQL without SET or SECURITY DEFINER so the planner inlines it into the caller
-- (EXPLAIN then shows the index scans); called by study_card_gather only.
CREATE OR REPLACE FUNCTION study_card_related_by_vector(
    p_user_id bigint, p_query vector, p_limit integer, p_skip_kind text, p_skip_id bigint)
RETURNS TABLE (source_kind text, source_id bigint, rank bigint)
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
REVOKE EXECUTE ON FUNCTION study_card_related_by_vector(bigint, vector, integer, text, bigint) FROM PUBLIC;

-- study_card_related_by_text(user_id, query, limit, skip_kind, skip_id)
-- -> (source_kind, source_id, rank): like study_card_related_by_vector, ranked by
-- pg_trgm word similarity of query to the chunk content / note body, highest first,
-- among the rows that pass `query <% text` (pg_trgm.word_similarity_threshold;
-- study_card_gather sets 0.2: Korean particles glued to words cost trigrams, so a
-- related chunk often scores only 0.2 to 0.3). Each branch is an
-- ORDER BY query <<-> text LIMIT (word distance = 1 - word_similarity) that the GiST
-- trigram indexes serve nearest first, stopping after limit rows. Inlined like the
-- vector search.
CREATE OR REPLACE FUNCTION study_card_related_by_text(
    p_user_id bigint, p_query text, p_limit integer, p_skip_kind text, p_skip_id bigint)
RETURNS TABLE (source_kind text, source_id bigint, rank bigint)
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
REVOKE EXECUTE ON FUNCTION study_card_related_by_text(bigint, text, integer, text, bigint) FROM PUBLIC;

-- study_card_gather(job_id, k default 6, query_embedding default NULL, worker default NULL)
-- -> (handle, source_kind, source_id, title, body, score), handle order:
--   S1      the job's own source: kind question, subject_note or document (a document
--           is S1 as a whole: body = all its chunks in order, and evidence quoting it
--           is stored with source_kind 'document'); score NULL;
--   S2…     up to k of the job owner's document chunks (source_kind 'document_chunk')
--           and subject notes, best first by reciprocal-rank fusion
--           (score = sum over the two rankings of 1 / (60 + rank)) of cosine distance
--           to query_embedding (default: study_card_source_embedding; skipped when
--           NULL) and trigram word similarity to study_card_source_query. Never
--           another user's rows, deleted notes or chunks of deleted documents, nor the
--           source itself (for a document job none of its own chunks).
-- body is study_card_source_text, exactly what evidence quotes are checked against.
-- Records the handles on the job, payload->'handles' = {"S1": {"kind", "id"}, …},
-- replacing those of an earlier call. worker: the caller's name, as in study_card_claim;
-- the caller must hold the job (study_card_held_job: that name, claimed from the
-- caller's login role), so a worker whose lease was taken over cannot replace the
-- handles its successor's evidence cites. NULL is allowed only to a session whose login
-- role may update study_memo_card_jobs itself (its owner, a superuser: psql, tests), and
-- then only requires the job to be processing; for anyone else (the worker role) it is
-- required.
-- Errors: SQLSTATE 55000 when the job does not exist, is not processing, is not held by
-- worker (when given), or its source is gone; 22023 when k is not between 0 and 50, or
-- worker is NULL from a session that must name it;
-- pgvector's error when query_embedding has another dimension than the stored
-- embeddings (1024).
-- SECURITY DEFINER: the worker role reads no table itself.
-- Planner settings, for this function only: seq scans off, because the planner prices
-- a distance as one cheap operator on a 4 KB vector that lives in TOAST, so at 10,000
-- chunks it prefers a seq scan that is 10 times slower than the HNSW index (measured:
-- 55 ms against 4 ms); both searches have their indexes to use instead (a document
-- job's lookups by document_id, which a baseline host does not index, still scan:
-- 64 ms at 100,000 chunks, for a job that runs on request only). Bitmap scans off
-- too: the trigram searches must walk their GiST index nearest first and stop at the
-- limit; a bitmap scan fetches and rechecks every candidate sharing a trigram, which
-- the planner underestimates for a stem of common subject words (46,738 candidates and
-- 2.5 s at 100,000 chunks in bench/gather.py). Planned afresh on
-- every call (plan_cache_mode), since the owner's share of the rows and the query text
-- decide the plan and a cached generic plan would see neither.
-- The 3-argument signature of an earlier release: CREATE OR REPLACE cannot add p_worker
-- to it, and two overloads would make a 3-argument call ambiguous.
DROP FUNCTION IF EXISTS study_card_gather(bigint, integer, vector);
CREATE OR REPLACE FUNCTION study_card_gather(p_job_id bigint, p_k integer DEFAULT 6, p_query_embedding vector DEFAULT NULL,
                                             p_worker text DEFAULT NULL)
RETURNS TABLE (handle text, source_kind text, source_id bigint, title text, body text, score double precision)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
SET enable_seqscan = off
SET enable_bitmapscan = off
SET plan_cache_mode = force_custom_plan
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
BEGIN
    IF p_k IS NULL OR p_k NOT BETWEEN 0 AND 50 THEN
        RAISE EXCEPTION 'k must be between 0 and 50, not %', p_k USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_worker IS NOT NULL THEN
        v_job := study_card_held_job(p_job_id, p_worker);
    ELSIF NOT has_table_privilege(session_user, 'public.study_memo_card_jobs', 'UPDATE') THEN
        RAISE EXCEPTION 'study_card_gather needs p_worker, the worker name job % was claimed with', p_job_id
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('login role %s may gather only for a job it holds', session_user);
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
REVOKE EXECUTE ON FUNCTION study_card_gather(bigint, integer, vector, text) FROM PUBLIC;
