-- Text helpers every other file shares, none of them host-specific: blank text, the
-- labels of a question's choices and its answer, the words of a lexical query.

-- study_card_is_blank(text) -> boolean
-- True for NULL and for text with nothing visible in it: only white space (Unicode
-- White_Space after NFKC: space, tab, line breaks, no-break and ideographic spaces …)
-- and invisible characters (study_card_visible removes them: zero-width spaces, BOM,
-- Hangul fillers …). An explanation of U+200B or U+3164 alone is blank, so no job is
-- enqueued for it. IMMUTABLE and without SET so that it inlines into the bulk inserts.
CREATE OR REPLACE FUNCTION study_card_is_blank(p_text text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN p_text IS NULL
    OR study_card_visible(p_text) !~ ('[^' || study_card_spaces() || ']');
REVOKE EXECUTE ON FUNCTION study_card_is_blank(text) FROM PUBLIC;

-- study_card_choice_label(n) -> text: the label shown before the n-th choice of a
-- question whose choices are a JSON array: ①. … ⑳. (U+2460 + n - 1 and a full stop),
-- then (21), (22) … (Korean exams number their choices ①–⑤; a longer list goes on with
-- the circled numbers to ⑳). Every label NFKC-normalises to its digits (① -> 1) and
-- study_card_norm drops the stop, so a quote with or without the label verifies.
-- The stop keeps the number apart from the choice: the quantity guard reads a number
-- and the numeral word after it as one quantity when only a space is between them
-- ('② 백 년 전쟁' is 2 × 100년, '③ 천 원' 3000원), and a quote of the choice alone
-- ('백 년 전쟁': 100년) would then hold a number its source does not; '②. 백 년 전쟁'
-- reads 2 and 100년.
CREATE OR REPLACE FUNCTION study_card_choice_label(p_n integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN p_n BETWEEN 1 AND 20 THEN chr(9311 + p_n) || '.' ELSE '(' || p_n || ')' END;
REVOKE EXECUTE ON FUNCTION study_card_choice_label(integer) FROM PUBLIC;

-- study_card_choice_key(text) -> text: a choice number, letter or label as a bare key,
-- to match a stored answer with a choice: study_card_visible (NFKC: ③ -> 3, ⑴ -> (1),
-- full-width Ａ -> A; invisible characters removed), lower case, white space removed,
-- then one pair of brackets around it and a trailing '.', ')' or '번' removed: '1',
-- '1번', '(1)', '1)', '①', ' 1 ' all give '1'; 'A', 'a.', '(A)' give 'a'; '(가)' gives '가'.
CREATE OR REPLACE FUNCTION study_card_choice_key(p_label text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN regexp_replace(regexp_replace(
           lower(regexp_replace(study_card_visible(p_label), '[' || study_card_spaces() || ']+', '', 'g')),
           '^[(\[](.*)[)\]]$', '\1'),
       '(번|\.|\))$', '');
REVOKE EXECUTE ON FUNCTION study_card_choice_key(text) FROM PUBLIC;

-- study_card_question_choices(choices) -> (ord, key, body, line): the choices of a
-- question as shown under 보기, one row each, in order; body is the choice's text
-- (trimmed), line what is shown:
--   JSON array   in array order; key is the position ('1', '2', …); line is
--                study_card_choice_label(position) || ' ' || the choice ('①. …'), or
--                the choice as stored when it already begins with a circled number;
--   JSON object  the host's own labels, keys that are numbers first in numeric order,
--                then the others in code-point order ('A' < 'B', '가' < '나'); key is
--                study_card_choice_key of the label; line is the label and the choice:
--                a number 1–20 shown as its circled number ({"1": "…"} -> '①. …'), a
--                label that ends in '.' or ')' as it is, any other followed by '.'
--                ({"A": "…"} -> 'A. …', {"①": "…"} -> '①. …').
-- No rows for NULL, JSON null, a scalar (shown as it is by study_card_source_text),
-- an empty array or object. A JSON null choice is shown as its label alone.
CREATE OR REPLACE FUNCTION study_card_question_choices(p_choices jsonb)
RETURNS TABLE (ord integer, key text, body text, line text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
    SELECT c.ord::integer, c.ord::text, btrim(c.value),
           CASE WHEN c.value ~ '^[\s\u00a0\u3000]*[\u2460-\u2473]' THEN btrim(c.value)
                ELSE rtrim(study_card_choice_label(c.ord::integer) || ' ' || coalesce(btrim(c.value), '')) END
      FROM jsonb_array_elements_text(CASE jsonb_typeof(p_choices) WHEN 'array' THEN p_choices END)
           WITH ORDINALITY AS c(value, ord)
    UNION ALL
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

-- study_card_question_answer(choices, answer) -> text: the answer as 정답 shows it.
-- An answer that names a choice, by its number or label (study_card_choice_key: '1',
-- '③', '1번', '(1)' for array choices; 'A', 'a', '(A)' for {"A": …}) or by the very
-- text of one choice, is shown as that choice's line ('①. 부분 함수 종속 제거'); any
-- other answer is shown as stored, trimmed: a number when there are no choices ('1970'),
-- a number past the last choice, a letter for array choices, several numbers ('1, 3').
-- NULL for a blank answer.
CREATE OR REPLACE FUNCTION study_card_question_answer(p_choices jsonb, p_answer text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
    SELECT CASE WHEN NOT study_card_is_blank(p_answer) THEN
        coalesce((SELECT c.line FROM study_card_question_choices(p_choices) AS c
                   WHERE c.key = study_card_choice_key(p_answer) AND c.key <> ''
                   ORDER BY c.ord LIMIT 1),
                 (SELECT c.line FROM study_card_question_choices(p_choices) AS c
                   WHERE btrim(p_answer) IN (c.body, c.line)
                   ORDER BY c.ord LIMIT 1),
                 btrim(p_answer, E' \t\n\r\f\x0b\u00a0\u3000'))
    END
$$;
REVOKE EXECUTE ON FUNCTION study_card_question_answer(jsonb, text) FROM PUBLIC;

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

