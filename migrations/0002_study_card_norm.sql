-- depends: 0001_host_baseline
-- study_card_norm(text) -> text: the one text normaliser of the project.
-- NFKC (full-width forms, compatibility jamo, ㎞ and the like), ASCII case-fold, and
-- every character that is not a letter or digit of a named script removed
-- (whitespace, punctuation, symbols, emoji). The kept set is written as explicit
-- Unicode ranges and the folding under COLLATE "C", so the result is the same under
-- any database locale and collation ([[:alnum:]] and lower() follow the locale; in a
-- "C" database Hangul is not alphanumeric). Case folding is ASCII-only by the same
-- rule: PostgreSQL 16 has no locale-free Unicode lower(); Korean has no case.
-- Kept: 0-9 a-z, Latin-1 and Latin Extended letters, Greek, Cyrillic, Hangul Jamo,
-- compatibility Jamo, Hiragana, Katakana, CJK ideographs, Hangul syllables.
-- STRICT: NULL in, NULL out. An index and the generated column
-- study_memo_cards.norm_key depend on it: change it only in a new migration that
-- also rebuilds them.
CREATE FUNCTION study_card_norm(p_text text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN regexp_replace(
    lower(normalize(p_text, NFKC) COLLATE "C"),
    '[^0-9a-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u0370-\u03FF\u0400-\u04FF\u1100-\u11FF\u3040-\u30FF\u3131-\u318E\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7A3]',
    '', 'g');
