-- Back to 0017: no list_answer; the reasons after it move back up one place (through
-- a free range, as guard_order is UNIQUE). Reports that name list_answer keep it
-- (study_card_drop_stats lists such a reason last, with no guard_order).
DELETE FROM study_card_drop_reasons WHERE reason = 'list_answer';
UPDATE study_card_drop_reasons SET guard_order = guard_order + 100 WHERE guard_order >= 10;
UPDATE study_card_drop_reasons SET guard_order = guard_order - 101 WHERE guard_order >= 100;
