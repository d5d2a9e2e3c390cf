-- Text helpers every other file shares, none of them host-specific: blank text, the
-- labels of a question's choices and its answer, the words of a lexical query.

-- study_card_is_blank(text) -> boolean: true for NULL and for text with nothing visible
-- in it: Unicode White_Space after NFKC (study_card_spaces) and the invisible characters
-- study_card_visible removes (U+200B, BOM, U+3164 …). Errors: none.
CREATE OR REPLACE FUNCTION study_card_is_blank(p_text text) RETURNS boolean
-- IMMUTABLE and without SET so that it inlines into the enqueue paths' bulk inserts
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN p_text IS NULL
    -- an ASCII letter or digit or a Hangul syllable is never white space nor invisible,
    -- and NFKC keeps it: such a text is not blank, answered without NFKC and the
    -- invisible-character pattern (~10 us per explanation in a bulk enqueue)
    OR (p_text !~ '[0-9A-Za-z\uAC00-\uD7A3]'
        AND study_card_visible(p_text) !~ ('[^' || study_card_spaces() || ']'));
REVOKE EXECUTE ON FUNCTION study_card_is_blank(text) FROM PUBLIC;

-- study_card_choice_label(n) -> text: the label shown before the n-th choice of a
-- question: '①.' … '⑳.' (U+2460 + n - 1 and a full stop), then '(21)', '(22)' …
-- NFKC makes a label its digits and study_card_norm drops the stop, so a quote verifies
-- with or without it. Errors: none.
CREATE OR REPLACE FUNCTION study_card_choice_label(p_n integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- The stop keeps the number apart from the choice: the number reader takes a number, a
-- space and a numeral word as one quantity ('② 백 년 전쟁' is 2 × 100년, '③ 천 원'
-- 3000원), which a quote of the choice alone ('백 년 전쟁': 100년) would not support;
-- '②. 백 년 전쟁' reads 2 and 100년.
RETURN CASE WHEN p_n BETWEEN 1 AND 20 THEN chr(9311 + p_n) || '.' ELSE '(' || p_n || ')' END;
REVOKE EXECUTE ON FUNCTION study_card_choice_label(integer) FROM PUBLIC;

-- study_card_choice_key(text) -> text: a choice number, letter or label as a bare key,
-- to match a stored answer with a choice: '1', '1번', '(1)', '1)', '①', ' 1 ' all give
-- '1'; 'A', 'a.', '(A)' give 'a'; '(가)' gives '가'. Errors: none.
CREATE OR REPLACE FUNCTION study_card_choice_key(p_label text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- study_card_visible (NFKC: ③ -> 3, ⑴ -> (1), Ａ -> A; invisible characters removed),
-- lower case, white space removed; then one pair of brackets around it, then a trailing
-- '.', ')' or '번'
RETURN regexp_replace(regexp_replace(
           lower(regexp_replace(study_card_visible(p_label), '[' || study_card_spaces() || ']+', '', 'g')),
           '^[(\[](.*)[)\]]$', '\1'),
       '(번|\.|\))$', '');
REVOKE EXECUTE ON FUNCTION study_card_choice_key(text) FROM PUBLIC;

-- study_card_question_choices(choices jsonb) -> (ord, key, body, line): the choices of
-- a question as shown under 보기, one row each, in order: key matches
-- study_card_choice_key of an answer, body is the choice's text (trimmed), line what is
-- shown ('①. …', 'A. …'). No rows for NULL, JSON null, a scalar (study_card_source_text
-- shows it as it is), an empty array or object. Errors: none.
CREATE OR REPLACE FUNCTION study_card_question_choices(p_choices jsonb)
RETURNS TABLE (ord integer, key text, body text, line text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET plan_cache_mode = force_generic_plan  -- planned once per session, not per call (bench/README.md, llm_overhead)
AS $$
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
$$;
REVOKE EXECUTE ON FUNCTION study_card_question_choices(jsonb) FROM PUBLIC;

-- study_card_question_answer(choices jsonb, answer text) -> text: the answer as 정답
-- shows it: the line of the choice it names ('①. 부분 함수 종속 제거'), else the answer as
-- stored, trimmed; NULL for a blank answer. Errors: none.
CREATE OR REPLACE FUNCTION study_card_question_answer(p_choices jsonb, p_answer text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET plan_cache_mode = force_generic_plan  -- planned once per session, not per call (bench/README.md, llm_overhead)
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
REVOKE EXECUTE ON FUNCTION study_card_question_answer(jsonb, text) FROM PUBLIC;

-- study_card_query_words(text) -> (word, pos, latin): the content words of a text, for
-- a lexical query, in order of appearance (pos): Latin runs with a letter (HAVING, 2NF,
-- IPv4: latin true) and Hangul words of two syllables or more, without a trailing
-- particle, predicates, connectives or exam stock words. Crude on purpose: it only
-- picks words to search for, and the searches rank them. Errors: none.
CREATE OR REPLACE FUNCTION study_card_query_words(p_text text)
RETURNS TABLE (word text, pos integer, latin boolean)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET plan_cache_mode = force_generic_plan  -- planned once per session, not per call (bench/README.md, llm_overhead)
AS $$
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
$$;
REVOKE EXECUTE ON FUNCTION study_card_query_words(text) FROM PUBLIC;

-- study_card_question_query(stem, answer, explanation, terms = 1) -> text: the lexical
-- query of a question: its answer (first 40 characters, cut at a space) and its `terms`
-- most distinctive words (one more without an answer), at most 200 characters; NULL
-- when empty ('HAVING 그룹', '선점 교착상태'). For a choice number the caller passes the
-- choice's text (study_card_source_query). Errors: none.
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
REVOKE EXECUTE ON FUNCTION study_card_question_query(text, text, text, integer) FROM PUBLIC;

