-- The card guards: pure functions that commit_cards() (sql/50_commit_cards.sql) runs on
-- every card of an LLM result. None of them writes; none of them reads anything but the
-- card, the handles the job recorded, and the source text behind a handle. The text of
-- a source is data only: nothing in it can change what these functions decide.
--
-- Limits (lengths, evidence items, cards per result): study_card_limits(), below.

-- study_card_tokens(text) -> text[]: the words of a text for whole-token comparison.
-- study_card_visible and ASCII case-fold as in study_card_norm, then maximal runs of one
-- script group: Latin/Greek/Cyrillic letters with digits, or Hangul/kana/CJK. So in
-- 'B와 C 중 답은?' the tokens are b, 와, c, 중, 답은; punctuation and spaces separate.
CREATE OR REPLACE FUNCTION study_card_tokens(p_text text)
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET standard_conforming_strings = on
AS $$
    SELECT coalesce(array_agg(t.token[1] ORDER BY t.ord), '{}')
      FROM regexp_matches(
               lower(study_card_visible(p_text) COLLATE "C"),
               '([0-9a-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u0370-\u03FF\u0400-\u04FF]+'
               '|[\u1100-\u11FF\u3040-\u30FF\u3131-\u318E\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7A3]+)',
               'g') WITH ORDINALITY AS t(token, ord)
$$;
REVOKE EXECUTE ON FUNCTION study_card_tokens(text) FROM PUBLIC;

-- study_card_generic_words() -> text[]: words that name the kind of an answer rather
-- than its content (클라이언트-서버 '패턴', 청동기 '시대', 귀주 '대첩'); the multi-part leak
-- rule of study_card_leaks does not require them in the cue. Normalised forms.
CREATE OR REPLACE FUNCTION study_card_generic_words() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY['패턴', '방법', '방식', '기법', '시대', '구조', '단계', '과정', '원칙', '개념', '종류',
             '유형', '기능', '특징', '역할', '형태', '이론', '모델', '기술', '현상', '제도', '정책',
             '연산자', '명령어', '키워드', '함수', '대첩', '전투', '전쟁', '운동', '조약', '사건', '왕조',
             'pattern', 'method', 'model', 'operator'];
REVOKE EXECUTE ON FUNCTION study_card_generic_words() FROM PUBLIC;

-- study_card_keywords() -> text[]: SQL keywords, which the multi-part leak rule of
-- study_card_leaks skips altogether: in 'ORDER BY B.col2' they frame the answer, the
-- identifier is what the learner recalls. Normalised forms.
CREATE OR REPLACE FUNCTION study_card_keywords() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY['select', 'from', 'where', 'group', 'order', 'by', 'having', 'join', 'on', 'and', 'or', 'not',
             'in', 'is', 'null', 'as', 'asc', 'desc', 'distinct', 'set', 'values', 'into', 'update', 'delete',
             'insert', 'create', 'table', 'view', 'index', 'like', 'between', 'union', 'all'];
REVOKE EXECUTE ON FUNCTION study_card_keywords() FROM PUBLIC;

-- study_card_without_options(cue) -> text: the cue with the option lists it offers
-- blanked out (bracketed lists, lists before 중/가운데, 'A인가 B인가'), for the leak check:
-- an answer named only there is one of the options, not a leak. Examples: docs/cards.md
-- (Leaks). Errors: none.
CREATE OR REPLACE FUNCTION study_card_without_options(p_cue text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET standard_conforming_strings = on
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
REVOKE EXECUTE ON FUNCTION study_card_without_options(text) FROM PUBLIC;

-- study_card_leaks(answer, visible) -> boolean: is the answer readable in the visible
-- text, compared after study_card_norm? One rule per kind of answer (symbols, a number,
-- one character, operators, anything else), each beside its branch below; the rules with
-- examples: docs/cards.md (Leaks). An answer that normalises to nothing never leaks
-- (invalid_shape catches it first). Errors: none.
CREATE OR REPLACE FUNCTION study_card_leaks(p_answer text, p_visible text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET plan_cache_mode = force_generic_plan  -- planned once per session, not per call (bench/README.md, llm_overhead)
SET standard_conforming_strings = on
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
SET standard_conforming_strings = on
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
SET standard_conforming_strings = on
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
SET standard_conforming_strings = on
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
SET standard_conforming_strings = on
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

-- study_card_list_items(answer) -> integer: the number of items when the answer lists
-- several facts, else NULL (one fact). The rule, on the text as study_card_visible reads
-- it, what brackets or quotes enclose being one piece (ROUND(3.14159, 2), 'a, b'):
--   separators  ', ' (a comma and white space; a number's comma has none: 1,392년),
--               、 and ，; middle dots (· ・ ㆍ) only in a run of three or more parts
--               of two or more letters (INSERT·UPDATE·DELETE; not 입·출력, 기·승·전·결,
--               3·1 운동)
--   a list      two or more items of one to three words each; not when an item but
--               the last ends in a connective (…되거나, …지만: a sentence), nor when the
--               first is SQL keywords and an identifier (SELECT A.col1, B.col2: one
--               clause; GROUP BY, HAVING is a list)
-- Examples: docs/cards.md (Lists). Errors: none.
CREATE OR REPLACE FUNCTION study_card_list_items(p_answer text)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET standard_conforming_strings = on
AS $$
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
$$;
REVOKE EXECUTE ON FUNCTION study_card_list_items(text) FROM PUBLIC;

-- study_card_card_text(card) -> everything a card says, for the quantity guard: cue and
-- answer of a qa card; the cloze text with its markup ('{{cN::', '::', braces) blanked,
-- so deleted answers and hints count and the N of cN is not read as a number, even in
-- a malformed cloze text.
CREATE OR REPLACE FUNCTION study_card_card_text(p_card jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET standard_conforming_strings = on
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

-- study_card_limits() -> the limits of an LLM result, the one definition that
-- study_card_shape_problem, study_card_judge (cards), study_card_review_reason (reason)
-- and study_card_result_schema read. Lengths are characters (char_length).
CREATE OR REPLACE FUNCTION study_card_limits(
    OUT cards integer,       -- cards per result; later ones are dropped as invalid_shape
    OUT cue integer,         -- a qa card's cue
    OUT answer integer,      -- a qa card's answer
    OUT cloze_text integer,  -- a cloze card's text
    OUT evidence integer,    -- evidence items per card
    OUT quote integer,       -- an evidence item's quote
    OUT reason integer)      -- the needs_review reason
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
    SELECT 20, 300, 300, 600, 5, 1000, 1000
$$;
REVOKE EXECUTE ON FUNCTION study_card_limits() FROM PUBLIC;

-- study_card_sentences(text) -> text[]: the sentences of a text, in order, each exactly
-- as written (white space inside it too; blank lines and the white space around each
-- line dropped), for the per-job result schema below: the quotes a model may choose
-- from. A line break ends a sentence, and so does a word ending in . ! ? 。 ！ ？
-- followed by white space, except the full stops listed in the body. Errors: none.
CREATE OR REPLACE FUNCTION study_card_sentences(p_text text)
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET standard_conforming_strings = on
AS $$
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
$$;
REVOKE EXECUTE ON FUNCTION study_card_sentences(text) FROM PUBLIC;

-- study_card_result_schema_for(max_cards, evidence_item) -> json: the one definition of
-- the result's JSON Schema (shape and study_card_limits()), with evidence_item as the
-- schema of one evidence item: study_card_result_schema(max_cards) passes the generic
-- item, the per-job schema one narrowed to its sources' sentences. Errors: 22023 for a
-- negative max_cards.
CREATE OR REPLACE FUNCTION study_card_result_schema_for(p_max_cards integer, p_evidence_item json)
RETURNS json
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
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
REVOKE EXECUTE ON FUNCTION study_card_result_schema_for(integer, json) FROM PUBLIC;

-- study_card_result_schema(job_id, max_cards, worker) -> json: study_card_result_schema(
-- max_cards) with each evidence item narrowed to {"source": "Sk", "quote": one of Sk's
-- sentences}, per handle the job recorded, so an enforcing decoder writes only verbatim
-- quotes; "maxItems": 0 cards when there is nothing to cite. Errors: 55000 unless the
-- caller holds the job (it returns the owner's text); 22023 for a NULL worker or a
-- negative max_cards. Sent when MLX_RESPONSE_FORMAT=on.
CREATE OR REPLACE FUNCTION study_card_result_schema(p_job_id bigint, p_max_cards integer, p_worker text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
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
$$;
REVOKE EXECUTE ON FUNCTION study_card_result_schema(bigint, integer, text) FROM PUBLIC;

-- study_card_result_schema(max_cards) -> json: the JSON Schema of commit_cards' result,
-- {"cards": [qa | cloze], "needs_review": null | {"reason"}}, with study_card_limits();
-- max_cards (NULL: the limit) may only lower the cards limit. The shape only:
-- commit_cards still checks every card. Errors: 22023 for a negative max_cards.
CREATE OR REPLACE FUNCTION study_card_result_schema(p_max_cards integer DEFAULT NULL)
-- json, not jsonb: constrained decoders (llama.cpp, vLLM) make the model write
-- properties in the schema's order, and jsonb would sort them ("cue" before "type")
RETURNS json
-- SECURITY DEFINER: the worker role may not call study_card_limits() itself
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = public, pg_temp
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
REVOKE EXECUTE ON FUNCTION study_card_result_schema(integer) FROM PUBLIC;

-- The review: the optional second LLM call (worker.py, WORKER_REVIEW=on) that reads the
-- sources and the cards that passed the guards and answers with its verdicts, which
-- commit_cards(…, review) applies (study_card_apply_review, sql/50_commit_cards.sql):
--   {"verdicts": [{"index": 3, "verdict": "reject", "class": "leak", "reason": "…"},
--                 {"index": 5, "verdict": "keep"}]}
-- index: a card of the result, 0-based; verdict "reject" drops it as review_rejected,
-- with class and reason (both required) in the drop's detail; "keep" changes nothing
-- (class and reason optional). Other keys are ignored. Anything else is malformed and
-- the whole review is ignored (study_card_review_problem says why).

-- study_card_review_limits() -> the review's limits and classes, the one definition that
-- study_card_review_problem and study_card_review_schema read:
CREATE OR REPLACE FUNCTION study_card_review_limits(
    OUT verdicts integer,   -- verdicts per review: as many as a result may have cards
    OUT reason integer,     -- a verdict's reason, characters
    OUT classes text[])     -- what a rejected card is:
        -- leak         the answer (a part, its root, translation, acronym expansion, paraphrase) is visible in the cue or the rest of the cloze
        -- unsupported  the sources do not state the card's fact
        -- multi_fact   the answer lists several facts
        -- duplicate    the same fact as another card of the list
        -- wrong        the card contradicts the sources or is false
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
    SELECT (study_card_limits()).cards, 300, ARRAY['leak', 'unsupported', 'multi_fact', 'duplicate', 'wrong']
$$;
REVOKE EXECUTE ON FUNCTION study_card_review_limits() FROM PUBLIC;

-- study_card_review_problem(review) -> what makes a review malformed, or NULL when it is
-- well formed (the shape above, within study_card_review_limits()). Does not look at
-- which cards the indexes name: that is study_card_apply_review's.
CREATE OR REPLACE FUNCTION study_card_review_problem(p_review jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
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
REVOKE EXECUTE ON FUNCTION study_card_review_problem(jsonb) FROM PUBLIC;

-- study_card_review_schema(max_verdicts) -> the JSON Schema of a review (above), with
-- study_card_review_limits(); max_verdicts (NULL: the limit; the worker sends the number
-- of cards it asks about) may only lower the verdicts limit; negative: SQLSTATE 22023.
-- The worker sends it as response_format of the review call (MLX_RESPONSE_FORMAT=on).
-- json, in the order a model should write (as study_card_result_schema, which see).
CREATE OR REPLACE FUNCTION study_card_review_schema(p_max_verdicts integer DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = public, pg_temp
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
REVOKE EXECUTE ON FUNCTION study_card_review_schema(integer) FROM PUBLIC;

-- study_card_shape_problem(card) -> text: what is wrong with the shape of one card, or
-- NULL: an object with "type" "qa" (string "cue", "answer") or "cloze" (string "text"),
-- each within study_card_limits(), non-empty after study_card_norm, free of bidi
-- controls; "evidence" absent, null or an array of at most the limit of {"source": string
-- or number, "quote": string within its limit, non-empty}. Other keys are ignored.
-- Errors: none.
CREATE OR REPLACE FUNCTION study_card_shape_problem(p_card jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET standard_conforming_strings = on
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
REVOKE EXECUTE ON FUNCTION study_card_shape_problem(jsonb) FROM PUBLIC;

-- study_card_collapsed(text) -> text: study_card_visible with every run of white space
-- one space: the form study_card_in_place compares.
CREATE OR REPLACE FUNCTION study_card_collapsed(p_text text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN regexp_replace(study_card_visible(p_text), '[' || study_card_spaces() || ']+', ' ', 'g');
REVOKE EXECUTE ON FUNCTION study_card_collapsed(text) FROM PUBLIC;

-- study_card_in_place(quote, text) -> boolean: is the quote, white space collapsed, a
-- verbatim piece of text (study_card_collapsed of the source) that cuts no Latin word
-- or number (not '2명' of '12명', 'v4' of 'IPv4', '3' of '3.5')? Such a quote reads
-- exactly as its source reads there: its numbers and names are the source's.
CREATE OR REPLACE FUNCTION study_card_in_place(p_quote text, p_text text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET standard_conforming_strings = on
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
REVOKE EXECUTE ON FUNCTION study_card_in_place(text, text) FROM PUBLIC;


-- study_card_cited_sources(handles, cards) -> jsonb {"S1": {"kind", "id", "text" (study_
-- card_collapsed source text, NULL when gone), "norm", "bidi" (has bidi controls),
-- "keys", "names" (its quantity keys and names, each once; only where needed)}, …}: what
-- the guards compare quotes with, read once per result, for the handles a card cites and
-- the job recorded (payload->'handles'). Reads source rows (STABLE). Errors: none.
CREATE OR REPLACE FUNCTION study_card_cited_sources(p_handles jsonb, p_cards jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = public, pg_temp
SET standard_conforming_strings = on
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
REVOKE EXECUTE ON FUNCTION study_card_cited_sources(jsonb, jsonb) FROM PUBLIC;

-- study_card_check(card, sources) -> (reason, detail): the first guard that one card
-- fails, in the order below (guard_order of study_card_drop_reasons), or (NULL, NULL)
-- when it passes them all. These are the guards that look at the card alone; the ones
-- that look at the rest of the batch and at the user's other cards (duplicate_in_batch,
-- duplicate, user_deleted) are commit_cards', and come after them. sources is
-- study_card_cited_sources of the result.
--   invalid_shape         study_card_shape_problem
--   evidence_missing      no evidence item
--   evidence_foreign      a source that is not a handle the job recorded (S9, a raw id)
--   evidence_not_found    a quote that is not in its source, both sides compared after
--                         study_card_norm; a quote with bidi controls its source lacks;
--                         or a quote with a number or a name that its source does not
--                         state as such: normalising removes what separates digits, so
--                         '2명' is "in" '12명' and '35' in '3.5%', and such a piece would
--                         support a number nobody wrote
--   quantity_unsupported  a quantity of the card that its quotes do not state
--                         (study_card_unsupported_quantities), or a name with digits
--                         (col2, IPv4, 2NF, 제2정규형) that its cited sources do not
--                         contain (study_card_missing_names)
--   cue_leaks_answer      study_card_leaks(answer, the cue without its option lists)
--   cloze_malformed       study_card_cloze_problem, cloze cards
--   cloze_leaks_answer    study_card_cloze_leak, cloze cards
--   list_answer           study_card_list_items of a qa answer, or of a cloze
--                         deletion's answer: several facts in one answer
-- Writes nothing.
-- Its second argument was the job's handles up to 0.1.0, read per quote; CREATE OR
-- REPLACE cannot rename it.
DROP FUNCTION IF EXISTS study_card_check(jsonb, jsonb);
CREATE OR REPLACE FUNCTION study_card_check(p_card jsonb, p_sources jsonb, OUT reason text, OUT detail text)
LANGUAGE plpgsql STABLE
SET search_path = public, pg_temp
SET standard_conforming_strings = on
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
REVOKE EXECUTE ON FUNCTION study_card_check(jsonb, jsonb) FROM PUBLIC;

-- study_card_prompt_text(card) -> what a card shows and asks, for the near-duplicate
-- guard's similarity: a qa card's cue; a cloze card's sentence with its deletions
-- filled in by their answers. study_card_visible, lower-cased.
CREATE OR REPLACE FUNCTION study_card_prompt_text(p_card_type text, p_cue text, p_cloze_text text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET standard_conforming_strings = on
AS $$
    SELECT lower(study_card_visible(CASE p_card_type
        WHEN 'qa' THEN p_cue
        ELSE regexp_replace(p_cloze_text, '\{\{c[0-9]{1,4}::([^{}:]*)(::[^{}]*)?\}\}', '\1', 'g')
    END))
$$;
REVOKE EXECUTE ON FUNCTION study_card_prompt_text(text, text, text) FROM PUBLIC;

-- study_card_near_duplicate(answer_key, prompt, quotes, other_answer_key, other_prompt,
-- other_quotes) -> text: how two cards ask for the same fact, or NULL: the same
-- answer_key and a similar prompt (study_card_prompt_text) or a shared normalised quote;
-- never for a truth value (O/X, 참/거짓); a one-character answer only by the prompt. What
-- is and is not merged: docs/cards.md (Near-duplicates). Errors: none.
CREATE OR REPLACE FUNCTION study_card_near_duplicate(
    p_answer_key text, p_prompt text, p_quotes text[],
    p_other_answer_key text, p_other_prompt text, p_other_quotes text[])
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
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
REVOKE EXECUTE ON FUNCTION study_card_near_duplicate(text, text, text[], text, text, text[]) FROM PUBLIC;
