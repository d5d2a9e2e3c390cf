-- The card guards: pure functions that commit_cards() (sql/50_commit_cards.sql) runs on
-- every card of an LLM result. None of them writes; none of them reads anything but the
-- card, the handles the job recorded, and the source text behind a handle. The text of
-- a source is data only: nothing in it can change what these functions decide.
--
-- Limits (characters of the text as given, counted by char_length):
--   cue 300, answer 300, cloze text 600, evidence quote 1000, 5 evidence items per card.
--   (commit_cards adds: at most 20 cards per result.)

-- study_card_quantities(text) -> one row per number in the text, in order of appearance:
--   ord       its position among the numbers (1-based)
--   match     the text it was read from (number, multiplier, unit, as written)
--   value     the number: thousands separators removed, decimals kept, Korean
--             multipliers applied (3천 = 3000, 1만 = 10000, 2억, 1조, 백만, 천만)
--   unit      the unit written right after it (spaces allowed), or NULL:
--             %, 퍼센트 (read as %), 년, 개월, 주, 일, 시간, 분, 초, 원, 명, 개, 건, 회,
--             배, 층, 세; 분기, 세기, 세대, 주년 (so 3분기 is not 3분); SI and computing
--             units km cm mm nm μm m kg mg g ms μs ns s min KB MB GB TB B bps Kbps Mbps
--             Gbps Hz kHz MHz GHz kW W V mL L °C (℃) °F, counted only when no Latin
--             letter follows (5mb is the unitless 5)
--   quantity  the canonical spelling: value without trailing zeros, then the unit
--             ('10,000 건' -> '10000건', '3.50%' -> '3.5%', '3 퍼센트' -> '3%')
-- The text is NFKC-normalised first (full-width digits, ㎞, ％, ℃ become plain forms),
-- and invisible format characters are removed (soft hyphen U+00AD, zero-width space and
-- joiners U+200B-U+200F, bidi controls U+202A-U+202E, word joiner and invisible operators
-- U+2060-U+206F, BOM U+FEFF): '5<U+200B>5년' reads as 55년, as a learner sees it.
-- Every digit run counts, also inside names (IPv4 gives 4, 2NF gives 2): the same
-- reading applies to the card and to the quotes, so a name in both is found in both.
CREATE OR REPLACE FUNCTION study_card_quantities(p_text text)
RETURNS TABLE (ord integer, match text, value numeric, unit text, quantity text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
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
REVOKE EXECUTE ON FUNCTION study_card_quantities(text) FROM PUBLIC;

-- study_card_unsupported_quantities(card_text, evidence_text) -> text[]
-- The quantities of the card (canonical spelling, each once, in order of appearance)
-- that the evidence does not state. A number with a unit needs the same value with the
-- same unit in the evidence (3년 is not supported by 3개월, 1972년 not by a bare 1972);
-- a unitless number is supported by the same value with or without a unit (the card's
-- 제2정규형 by a quote's 2NF, a bare 30 by 30%). Empty array: every number is supported.
CREATE OR REPLACE FUNCTION study_card_unsupported_quantities(p_card_text text, p_evidence_text text)
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
    SELECT coalesce(array_agg(c.quantity ORDER BY c.first), '{}')
      FROM (SELECT q.quantity, q.value, q.unit, min(q.ord) AS first
              FROM study_card_quantities(p_card_text) AS q
             GROUP BY q.quantity, q.value, q.unit) AS c
     WHERE NOT EXISTS (SELECT FROM study_card_quantities(p_evidence_text) AS e
                        WHERE e.value = c.value AND (c.unit IS NULL OR e.unit = c.unit))
$$;
REVOKE EXECUTE ON FUNCTION study_card_unsupported_quantities(text, text) FROM PUBLIC;

-- study_card_tokens(text) -> text[]: the words of a text for whole-token comparison.
-- NFKC and ASCII case-fold as in study_card_norm, then maximal runs of one script
-- group: Latin/Greek/Cyrillic letters with digits, or Hangul/kana/CJK. So in
-- 'B와 C 중 답은?' the tokens are b, 와, c, 중, 답은; punctuation and spaces separate.
-- The ranges are the ones study_card_norm keeps, written out for the same locale
-- independence.
CREATE OR REPLACE FUNCTION study_card_tokens(p_text text)
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
    SELECT coalesce(array_agg(t.token[1] ORDER BY t.ord), '{}')
      FROM regexp_matches(
               lower(normalize(p_text, NFKC) COLLATE "C"),
               '([0-9a-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u0370-\u03FF\u0400-\u04FF]+'
               '|[\u1100-\u11FF\u3040-\u30FF\u3131-\u318E\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7A3]+)',
               'g') WITH ORDINALITY AS t(token, ord)
$$;
REVOKE EXECUTE ON FUNCTION study_card_tokens(text) FROM PUBLIC;

-- study_card_leaks(answer, visible) -> boolean: is the answer readable in the visible
-- text? Compared after study_card_norm:
--   a number answer (the answer is one number, with or without a unit: '1', '1970년',
--   '3.5%') leaks only as a whole number of the same value whose unit is the answer's
--   or none: '1' does not leak through '1970년', '30' does through '30%';
--   a one-character answer leaks only as a whole token (study_card_tokens): 'B' leaks
--   through 'A와 B 중', not through 'BCNF';
--   any other answer leaks when it is a substring ('부분 함수 종속' through
--   '부분함수종속을 제거하는 정규형은?').
-- An answer that normalises to nothing never leaks (invalid_shape catches it first).
CREATE OR REPLACE FUNCTION study_card_leaks(p_answer text, p_visible text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
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
REVOKE EXECUTE ON FUNCTION study_card_leaks(text, text) FROM PUBLIC;

-- study_card_cloze_deletions(text) -> one row per Anki deletion {{cN::answer}} or
-- {{cN::answer::hint}}, in order: ord (1-based), n (the N of cN, 1 to 4 digits),
-- answer, hint (NULL when there is none; the first '::' separates answer and hint).
-- A deletion holds no brace; anything else is not a deletion (see
-- study_card_cloze_problem).
CREATE OR REPLACE FUNCTION study_card_cloze_deletions(p_text text)
RETURNS TABLE (ord integer, n integer, answer text, hint text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
    SELECT d.ord::integer, d.parts[1]::integer,
           CASE WHEN strpos(d.parts[2], '::') > 0
                THEN left(d.parts[2], strpos(d.parts[2], '::') - 1) ELSE d.parts[2] END,
           CASE WHEN strpos(d.parts[2], '::') > 0
                THEN substr(d.parts[2], strpos(d.parts[2], '::') + 2) END
      FROM regexp_matches(p_text, '\{\{c([0-9]{1,4})::([^{}]*)\}\}', 'g') WITH ORDINALITY AS d(parts, ord)
$$;
REVOKE EXECUTE ON FUNCTION study_card_cloze_deletions(text) FROM PUBLIC;

-- study_card_cloze_problem(text) -> why a cloze text is malformed, or NULL when it is
-- well formed: it has at least one deletion; no '{{' or '}}' outside the deletions and
-- single braces balanced there (so '{{c1::TCP}', '{{ c1::TCP}}', '{{c1::{{c2::x}}}}' and
-- '{{c1::TCP}}}' are malformed, a set '{1, 2}' in the sentence is fine); cloze numbers
-- start at c1; no deletion is empty (its answer normalises to nothing); and some text
-- is left outside the deletions to read.
CREATE OR REPLACE FUNCTION study_card_cloze_problem(p_text text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
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
REVOKE EXECUTE ON FUNCTION study_card_cloze_problem(text) FROM PUBLIC;

-- study_card_cloze_visible(text, n) -> the sentence as a learner sees it while studying
-- deletion cN (Anki's rendering): every cN deletion blanked, showing its hint when it
-- has one (' [hint] ', else ' […] '), the other deletions shown as their answers. Only
-- meaningful for a well-formed cloze text.
CREATE OR REPLACE FUNCTION study_card_cloze_visible(p_text text, p_n integer)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
    SELECT string_agg(part.piece || coalesce(CASE WHEN d.n = p_n THEN ' [' || coalesce(d.hint, '…') || '] '
                                                  ELSE d.answer END, ''),
                      '' ORDER BY part.ord)
      FROM regexp_split_to_table(p_text, '\{\{c[0-9]{1,4}::[^{}]*\}\}') WITH ORDINALITY AS part(piece, ord)
      LEFT JOIN study_card_cloze_deletions(p_text) AS d ON d.ord = part.ord
$$;
REVOKE EXECUTE ON FUNCTION study_card_cloze_visible(text, integer) FROM PUBLIC;

-- study_card_cloze_leak(text) -> how a deleted answer stays visible, or NULL: the first
-- deletion (in order) whose answer leaks (study_card_leaks) into its own hint, or into
-- the sentence as shown while studying its cN (study_card_cloze_visible: the other
-- deletions' answers, and the hints of every cN deletion).
CREATE OR REPLACE FUNCTION study_card_cloze_leak(p_text text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
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
REVOKE EXECUTE ON FUNCTION study_card_cloze_leak(text) FROM PUBLIC;

-- study_card_card_text(card) -> everything a card says, for the quantity guard: cue and
-- answer of a qa card; the cloze text with its markup ('{{cN::', '::', braces) blanked,
-- so deleted answers and hints count and the N of cN is not read as a number, even in
-- a malformed cloze text.
CREATE OR REPLACE FUNCTION study_card_card_text(p_card jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
    SELECT CASE p_card ->> 'type'
        WHEN 'qa' THEN concat_ws(E'\n', p_card ->> 'cue', p_card ->> 'answer')
        ELSE regexp_replace(p_card ->> 'text', '\{\{[ \t]*c[0-9]+::|::|[{}]', ' ', 'g')
    END
$$;
REVOKE EXECUTE ON FUNCTION study_card_card_text(jsonb) FROM PUBLIC;

-- study_card_norm_key(card) -> the dedup key of a card of an LLM result: the
-- study_card_norm_key(card_type, cue, answer, cloze_text) of migration 0004, the same
-- function the generated column study_memo_cards.norm_key calls.
CREATE OR REPLACE FUNCTION study_card_norm_key(p_card jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
    SELECT study_card_norm_key(p_card ->> 'type', p_card ->> 'cue', p_card ->> 'answer', p_card ->> 'text')
$$;
REVOKE EXECUTE ON FUNCTION study_card_norm_key(jsonb) FROM PUBLIC;

-- study_card_shape_problem(card) -> what is wrong with the shape of one card, or NULL.
-- A card is an object with "type" "qa" (string "cue" up to 300 characters, string
-- "answer" up to 300) or "cloze" (string "text" up to 600), each non-empty after
-- study_card_norm, and "evidence": absent, null or an array (an empty or missing one is
-- the evidence_missing guard's) of at most 5 objects, each with a "source" that is a
-- string or a number (a number is a raw id: the evidence_foreign guard's) and a string
-- "quote" up to 1000 characters, non-empty after study_card_norm. Other keys are ignored.
CREATE OR REPLACE FUNCTION study_card_shape_problem(p_card jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
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
REVOKE EXECUTE ON FUNCTION study_card_shape_problem(jsonb) FROM PUBLIC;

-- study_card_check(card, handles) -> (reason, detail): the first guard that one card
-- fails, in the order of DESIGN.md, or (NULL, NULL) when it passes them all. These are
-- the guards that look at the card alone; the ones that look at the rest of the batch
-- and at the user's other cards (duplicate_in_batch, duplicate, user_deleted) are
-- commit_cards'. handles is the job's payload->'handles' ({"S1": {"kind", "id"}, …}).
--   invalid_shape         study_card_shape_problem
--   evidence_missing      no evidence item
--   evidence_foreign      a source that is not a handle the job recorded (S9, a raw id)
--   evidence_not_found    a quote that is not in study_card_source_text of its handle,
--                         both sides compared after study_card_norm; or a quote with a
--                         number that is not a number of that text (same value, and
--                         the same unit when the quote's has one): normalising removes
--                         what separates digits, so '2명' is "in" '12명' and '35' in
--                         '3.5%', and such a piece would support a number nobody wrote
--   quantity_unsupported  study_card_unsupported_quantities(card text, all its quotes)
--   cue_leaks_answer      study_card_leaks(answer, cue), qa cards
--   cloze_malformed       study_card_cloze_problem, cloze cards
--   cloze_leaks_answer    study_card_cloze_leak, cloze cards
-- Reads source rows (STABLE); writes nothing.
CREATE OR REPLACE FUNCTION study_card_check(p_card jsonb, p_handles jsonb, OUT reason text, OUT detail text)
LANGUAGE plpgsql STABLE
SET search_path = public, pg_temp
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
REVOKE EXECUTE ON FUNCTION study_card_check(jsonb, jsonb) FROM PUBLIC;
