-- depends: 0010_study_card_gather_indexes
-- The normaliser, second version (issues 10 and 11), and what depends on it rebuilt.
--  * Invisible characters: every default-ignorable code point (Unicode's
--    Default_Ignorable_Code_Point: soft hyphen, zero-width characters, bidi controls,
--    variation selectors, the Hangul fillers U+115F U+1160 U+3164 U+FFA0, tags) is
--    removed before and after NFKC, so '원<U+1160>자성' is 원자성 to every guard.
--  * Symbol answers: a text with no letter or digit but with an operator symbol
--    (||, >=, <>, %, *, ->, ≤ …) normalises to its symbols instead of to nothing,
--    so such an answer is not empty, leaks and deduplicates as itself.
--  * study_card_answer_key: what a card asks the learner to produce, for the
--    near-duplicate guard, stored on each card (answer_key) and indexed.
-- norm_key and answer_key are recomputed for every card. Two active cards of a user
-- that the new normaliser makes equal (they differed only by invisible characters)
-- cannot both stay under study_memo_cards_active_norm_key_uniq: the older one (lowest
-- id, the one with the longest review history) stays, the others are retired with
-- retired_reason 'duplicate'.

-- The character classes every text rule shares, as bodies of a regex bracket
-- expression ('[' || class || ']'), written as explicit code points so that they mean
-- the same under any database locale ([[:alnum:]] and [[:space:]] follow the locale; in
-- a "C" database Hangul is not alphanumeric). IMMUTABLE constants: a call inlines and
-- folds into the pattern it is part of.
-- study_card_letters(): the letters and digits study_card_norm keeps: 0-9 a-z (after
-- ASCII case-folding), Latin-1 and Latin Extended letters, Greek, Cyrillic, Hangul Jamo,
-- Hiragana, Katakana, compatibility Jamo, CJK ideographs, Hangul syllables.
CREATE FUNCTION study_card_letters() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN '0-9a-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u0370-\u03FF\u0400-\u04FF\u1100-\u11FF\u3040-\u30FF\u3131-\u318E\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7A3';

-- study_card_spaces(): Unicode White_Space.
CREATE FUNCTION study_card_spaces() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN '\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000';

-- study_card_invisibles(): Unicode Default_Ignorable_Code_Point: soft hyphen, combining
-- grapheme joiner, zero-width characters, bidi controls, word joiner and invisible
-- operators, variation selectors, BOM, the Hangul fillers (U+115F, U+1160, U+3164,
-- U+FFA0), shorthand format controls, musical symbol formatting, tags.
CREATE FUNCTION study_card_invisibles() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN '\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF0-\uFFF8\U0001BCA0-\U0001BCA3\U0001D173-\U0001D17A\U000E0000-\U000E0FFF';

-- study_card_operators(): the symbols that make an answer of their own in SQL,
-- programming and maths (||, >=, <>, %, *, ->, _, ≤): + - * / % = < > | & ^ ~ @ # $ \ _,
-- ¬ ± × ÷, arrows U+2190-21FF, mathematical operators U+2200-22FF.
CREATE FUNCTION study_card_operators() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN '-+*/%=<>|&^~@#$_\\\u00AC\u00B1\u00D7\u00F7\u2190-\u21FF\u2200-\u22FF';

-- study_card_visible(text) -> text: the text as a reader sees it: NFKC, with every
-- invisible character (study_card_invisibles) removed, before NFKC so that jamo split
-- by one still compose, and after it, since NFKC maps U+3164 and U+FFA0 onto the
-- filler U+1160. STRICT.
CREATE FUNCTION study_card_visible(p_text text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN regexp_replace(
    normalize(regexp_replace(p_text, '[' || study_card_invisibles() || ']', '', 'g'), NFKC),
    '[' || study_card_invisibles() || ']', '', 'g');

-- study_card_norm(text) -> text: the one text normaliser of the project.
-- study_card_visible, ASCII case-fold, then only the letters and digits of
-- study_card_letters kept (white space, punctuation, symbols and emoji removed). When
-- that leaves nothing, a text with a study_card_operators symbol, or that is one
-- punctuation mark . , : ; ! alone (C's member operator, a separator), normalises to
-- itself without white space instead: '||' -> '||', '> =' -> '>=', '.' -> '.', so an
-- answer of symbols is a real answer; prose punctuation ('…', '...', '?!') still gives ''.
-- The folding is under COLLATE "C" and ASCII-only (PostgreSQL 16 has no locale-free
-- Unicode lower(); Korean has no case), so the result is the same under any locale.
-- STRICT. The generated columns norm_key and answer_key depend on it: change it only
-- in a new migration that also rebuilds them.
CREATE OR REPLACE FUNCTION study_card_norm(p_text text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (SELECT CASE WHEN t.letters = '' AND (t.compact ~ ('[' || study_card_operators() || ']') OR t.compact ~ '^[.,:;!]$')
                    THEN t.compact ELSE t.letters END
          FROM (SELECT regexp_replace(v.visible, '[' || study_card_spaces() || ']', '', 'g') AS compact,
                       regexp_replace(lower(v.visible COLLATE "C"), '[^' || study_card_letters() || ']', '', 'g') AS letters
                  FROM (SELECT study_card_visible(p_text) AS visible) AS v) AS t);

-- study_card_answer_key(card_type, answer, cloze_text) -> text: what the card asks the
-- learner to produce, normalised: a qa card's answer; a cloze card's deleted answers
-- ({{cN::answer}} or {{cN::answer::hint}}) in order, joined by '|'. The near-duplicate
-- guard compares cards of equal answer_key. NULL when a cloze text has no deletion.
CREATE FUNCTION study_card_answer_key(p_card_type text, p_answer text, p_cloze_text text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE p_card_type
    WHEN 'qa' THEN study_card_norm(p_answer)
    ELSE (SELECT string_agg(study_card_norm(split_part(d.parts[1], '::', 1)), '|' ORDER BY d.ord)
            FROM regexp_matches(p_cloze_text, '\{\{c[0-9]{1,4}::([^{}]*)\}\}', 'g') WITH ORDINALITY AS d(parts, ord))
END;

DROP INDEX study_memo_cards_active_norm_key_uniq;
ALTER TABLE study_memo_cards
    ADD COLUMN answer_key TEXT GENERATED ALWAYS AS (study_card_answer_key(card_type, answer, cloze_text)) STORED;
-- Recompute norm_key under the new normaliser (a stored generated column is computed
-- again on every UPDATE of its row).
UPDATE study_memo_cards SET card_type = card_type;
UPDATE study_memo_cards c
   SET deleted_at = now(), retired_reason = 'duplicate', updated_at = now()
 WHERE c.deleted_at IS NULL
   AND EXISTS (SELECT FROM study_memo_cards o
                WHERE o.user_id = c.user_id AND o.norm_key = c.norm_key
                  AND o.deleted_at IS NULL AND o.id < c.id);

-- This prevents two active cards with the same content for one user (dedup);
-- retired cards and other users' cards do not count.
CREATE UNIQUE INDEX study_memo_cards_active_norm_key_uniq
    ON study_memo_cards (user_id, norm_key) WHERE deleted_at IS NULL;

-- The near-duplicate guard's lookup: a user's active cards with a given answer.
CREATE INDEX study_memo_cards_active_answer_key_idx
    ON study_memo_cards (user_id, answer_key) WHERE deleted_at IS NULL;

REVOKE EXECUTE ON FUNCTION study_card_letters() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION study_card_operators() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION study_card_spaces() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION study_card_invisibles() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION study_card_visible(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION study_card_norm(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION study_card_answer_key(text, text, text) FROM PUBLIC;
