-- The number reader of the quantity guard (docs/cards.md, "Numbers"): the numbers and
-- the names with digits a text states, read as a learner sees it (study_card_visible).
-- Pure functions of their arguments. This file sorts before 40_guards.sql, whose
-- study_card_leaks calls study_card_quantities.

-- study_card_quantity_words(list) -> text: one word list of the number reader, as
-- '|'-separated alternatives; NULL for an unknown list. The lists are data, kept here in
-- one place. Errors: none.
CREATE OR REPLACE FUNCTION study_card_quantity_words(p_list text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET standard_conforming_strings = on
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
REVOKE EXECUTE ON FUNCTION study_card_quantity_words(text) FROM PUBLIC;

-- study_card_unit_word_pattern(level) -> text: the regular expression for a Hangul word
-- that is a unit and ends with it: the unit, then nothing or a first particle that fits
-- it at that level and any particles; the unit captured in group 1, 2 or 3 (by its last
-- syllable). level: 'attached', 'spaced' or 'spelled'. Errors: none.
CREATE OR REPLACE FUNCTION study_card_unit_word_pattern(p_level text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET standard_conforming_strings = on
AS $$
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
$$;
REVOKE EXECUTE ON FUNCTION study_card_unit_word_pattern(text) FROM PUBLIC;

-- study_card_numeral_value(numeral) -> numeric: the value of a Sino-Korean (Hangul) or
-- Hanja numeral (천구백칠십이 = 1972, 만 = 10000, 十二 = 12, 一九七二 = 1972; 영 or 공
-- alone 0), or NULL when it is not a well-formed one. Errors: none.
CREATE OR REPLACE FUNCTION study_card_numeral_value(p_numeral text)
RETURNS numeric
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = public, pg_temp
SET standard_conforming_strings = on
AS $$
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
$$;
REVOKE EXECUTE ON FUNCTION study_card_numeral_value(text) FROM PUBLIC;

-- study_card_number_tokens(text, names_only = false) -> (ord, kind, match, value, unit,
-- num, quantity, name): each number and name with digits, in order (the reading rules:
-- docs/cards.md, "The number reader"); names_only: the names alone, read the same way.
-- kind 'quantity', 'verbatim' (digits of another script: value NULL, num the run) or
-- 'name'; match as written, without particles; value with its multiplier; unit and num
-- canonical; quantity = num || unit; name as study_card_norm writes it. Errors: none.
CREATE OR REPLACE FUNCTION study_card_number_tokens(p_text text, p_names_only boolean DEFAULT false)
RETURNS TABLE (ord integer, kind text, match text, value numeric, unit text, num text, quantity text, name text)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET standard_conforming_strings = on
SET plan_cache_mode = force_generic_plan  -- the query is planned once per session
AS $$
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
$$;
REVOKE EXECUTE ON FUNCTION study_card_number_tokens(text, boolean) FROM PUBLIC;

-- study_card_number_facts(text, names_only = false) -> (keys, names, quantities, needs):
-- what the guards need of a text, from one study_card_number_tokens read. keys:
-- study_card_quantity_keys; names: study_card_names; quantities: the text's numbers
-- (canonical, each once, in order of first appearance) and needs, beside each, the key
-- that supports it (study_card_unsupported_quantities). names_only: the reader's
-- names_only read, the other three empty. Errors: none.
-- Why: the reader costs 0.6 ms a call on a text with a candidate, up to 4 ms where other
-- regular expressions have pushed its own out of PostgreSQL's cache of 32 compiled ones;
-- a guard that needs a text's numbers and names reads it once. The names of a full read
-- equal those of a names_only read (all 5,099 texts of bench/quality, sample_data and the
-- tests' literals, 806 with names) except where a Hanja numeral's word swallows a 제:
-- '三年제2장' names 2장 in a full read, 제2장 names_only.
CREATE OR REPLACE FUNCTION study_card_number_facts(p_text text, p_names_only boolean DEFAULT false,
                                                   OUT keys text[], OUT names text[],
                                                   OUT quantities text[], OUT needs text[])
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET standard_conforming_strings = on
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
REVOKE EXECUTE ON FUNCTION study_card_number_facts(text, boolean) FROM PUBLIC;

-- study_card_quantities(text) -> (ord, match, value, unit, quantity): the numbers the
-- text states, in order (study_card_number_tokens without the names): match as written,
-- value with multipliers applied (NULL for digits of another script), unit canonical
-- ('퍼센트' -> '%'), quantity canonical ('10,000 건' -> '10000건', '천구백칠십이년' ->
-- '1972년', '١٩٧٢년' as written). Errors: none.
CREATE OR REPLACE FUNCTION study_card_quantities(p_text text)
RETURNS TABLE (ord integer, match text, value numeric, unit text, quantity text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET standard_conforming_strings = on
AS $$
    SELECT (row_number() OVER (ORDER BY t.ord))::integer, t.match, t.value, t.unit, t.quantity
      FROM study_card_number_tokens(p_text) AS t
     WHERE t.kind <> 'name'
     ORDER BY t.ord
$$;
REVOKE EXECUTE ON FUNCTION study_card_quantities(text) FROM PUBLIC;

-- study_card_names(text) -> text[]: the names with digits the text mentions ('col2',
-- 'ipv4', 'utf8' for UTF-8, '2nf', '제2정규형', 'iso9001', '10진수'), as study_card_norm
-- writes them, each once, in order of first appearance; empty when none. A names_only
-- read: cheap on a text with numerals but no digits. Errors: none.
CREATE OR REPLACE FUNCTION study_card_names(p_text text)
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET standard_conforming_strings = on
AS $$
    SELECT f.names FROM study_card_number_facts(p_text, true) AS f
$$;
REVOKE EXECUTE ON FUNCTION study_card_names(text) FROM PUBLIC;

-- study_card_names_not_in(names, source_norm, source_names) -> text[]: the names (as
-- study_card_names gives them) that the cited sources do not contain, in order; empty
-- when all are found. source_names is study_card_names of the sources, source_norm their
-- study_card_norm, both computed once by the caller; NULL contains nothing. For a caller
-- that has the names from a study_card_number_facts read. Errors: none.
CREATE OR REPLACE FUNCTION study_card_names_not_in(p_names text[], p_source_norm text, p_source_names text[])
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET standard_conforming_strings = on
AS $$
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
$$;
REVOKE EXECUTE ON FUNCTION study_card_names_not_in(text[], text, text[]) FROM PUBLIC;

-- study_card_missing_names(text, source_norm, source_names) -> text[]: the names of the
-- text (study_card_names) the cited sources do not contain (study_card_names_not_in), in
-- order, each once; empty when all are found. Errors: none.
CREATE OR REPLACE FUNCTION study_card_missing_names(p_text text, p_source_norm text, p_source_names text[])
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET standard_conforming_strings = on
AS $$
    SELECT study_card_names_not_in(study_card_names(p_text), p_source_norm, p_source_names)
$$;
REVOKE EXECUTE ON FUNCTION study_card_missing_names(text, text, text[]) FROM PUBLIC;

-- study_card_missing_names(text, source_norm) -> text[]: the same without the sources'
-- names: source_norm only, which cannot tell two glued tokens from one. Errors: none.
CREATE OR REPLACE FUNCTION study_card_missing_names(p_text text, p_source_norm text)
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET standard_conforming_strings = on
AS $$
    SELECT study_card_missing_names(p_text, p_source_norm, '{}'::text[])
$$;
REVOKE EXECUTE ON FUNCTION study_card_missing_names(text, text) FROM PUBLIC;

-- study_card_quantity_keys(text) -> text[]: what a text's numbers can support, for
-- study_card_unsupported_quantities (the caller computes it once per text); distinct,
-- sorted: each number's quantity ('1972년') and its any-unit key ('1972*'); the digits
-- inside names only an any-unit key ('IPv4' gives '4*'). Errors: none.
CREATE OR REPLACE FUNCTION study_card_quantity_keys(p_text text)
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET standard_conforming_strings = on
AS $$
    SELECT f.keys FROM study_card_number_facts(p_text) AS f
$$;
REVOKE EXECUTE ON FUNCTION study_card_quantity_keys(text) FROM PUBLIC;

-- study_card_unsupported_quantities(quantities, needs, evidence_keys) -> text[]: the
-- quantities whose need (study_card_number_facts: the quantity, or for a unitless number
-- its any-unit key) the keys (study_card_quantity_keys of the evidence) do not hold, in
-- order; empty when all are supported; NULL keys support nothing. For a caller that has
-- read the text with study_card_number_facts. Errors: none.
CREATE OR REPLACE FUNCTION study_card_unsupported_quantities(p_quantities text[], p_needs text[], p_evidence_keys text[])
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET standard_conforming_strings = on
AS $$
    SELECT coalesce(array_agg(x.quantity ORDER BY x.ord), '{}')
      FROM unnest(p_quantities, p_needs) WITH ORDINALITY AS x(quantity, needs, ord)
     WHERE x.needs <> ALL (coalesce(p_evidence_keys, '{}'))
$$;
REVOKE EXECUTE ON FUNCTION study_card_unsupported_quantities(text[], text[], text[]) FROM PUBLIC;

-- study_card_unsupported_quantities(card_text, evidence_keys text[]) -> text[]: the
-- card's quantities (canonical, each once, in order of first appearance) that the keys
-- (study_card_quantity_keys of the evidence) do not support; empty when all are. A
-- number with a unit needs that quantity, a unitless one its any-unit key (docs/cards.md,
-- "Numbers"); names are study_card_missing_names' job. Errors: none.
CREATE OR REPLACE FUNCTION study_card_unsupported_quantities(p_card_text text, p_evidence_keys text[])
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET standard_conforming_strings = on
AS $$
    SELECT study_card_unsupported_quantities(f.quantities, f.needs, p_evidence_keys)
      FROM study_card_number_facts(p_card_text) AS f
$$;
REVOKE EXECUTE ON FUNCTION study_card_unsupported_quantities(text, text[]) FROM PUBLIC;

-- study_card_unsupported_quantities(card_text, evidence_text text) -> text[]: the same
-- against study_card_quantity_keys(evidence_text). Two untyped literals resolve to this
-- one (unknown literals prefer text). Errors: none.
CREATE OR REPLACE FUNCTION study_card_unsupported_quantities(p_card_text text, p_evidence_text text)
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
SET standard_conforming_strings = on
AS $$
    SELECT study_card_unsupported_quantities(p_card_text, study_card_quantity_keys(p_evidence_text))
$$;
REVOKE EXECUTE ON FUNCTION study_card_unsupported_quantities(text, text) FROM PUBLIC;
