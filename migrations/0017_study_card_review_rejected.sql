-- depends: 0013_study_card_vocabulary
-- commit_cards emits review_rejected now (its p_review: the optional review pass, issue
-- 15), so its meaning no longer says "not emitted yet".
UPDATE study_card_drop_reasons
   SET meaning = 'The optional review pass (a second LLM call on the cards that passed, WORKER_REVIEW=on) rejected it; the detail is the reviewer''s class and reason.'
 WHERE reason = 'review_rejected';
