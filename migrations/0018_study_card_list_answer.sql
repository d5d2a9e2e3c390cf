-- depends: 0017_study_card_review_rejected
-- A new drop reason, list_answer (issue 10, section 2.3): a qa answer or a cloze
-- deletion that lists several facts (study_card_list_items, sql/40_guards.sql). It is
-- the last of study_card_check's guards, after cloze_leaks_answer and before the batch
-- guards: the reasons from duplicate_in_batch on move one place down. guard_order is
-- UNIQUE and checked row by row, so they move through a free range (+100, then -99).
-- Drop reasons are not a column (the job's report holds them): no CHECK constraint
-- follows from this table, so 0013's DO block, which regenerates the status and
-- error-code CHECKs, has nothing to do here (tests/test_vocabulary.py checks that every
-- reason the SQL emits is a row).
UPDATE study_card_drop_reasons SET guard_order = guard_order + 100 WHERE guard_order >= 9;
UPDATE study_card_drop_reasons SET guard_order = guard_order - 99 WHERE guard_order >= 100;
INSERT INTO study_card_drop_reasons (reason, guard_order, meaning) VALUES
    ('list_answer', 9, 'The answer (of a qa card, or of one cloze deletion) lists several facts; one fact per card: one card per item, or a cloze with one deletion per item.');
