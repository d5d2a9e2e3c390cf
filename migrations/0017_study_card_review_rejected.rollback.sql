UPDATE study_card_drop_reasons
   SET meaning = 'The optional review pass (a second LLM call on the cards that passed) rejected it; not emitted yet.'
 WHERE reason = 'review_rejected';
