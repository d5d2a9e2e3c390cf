"""Development helpers, apart from what a production host runs (study_cards.schema and
worker.py): the embedded PostgreSQL (local_pg), the demo (demo), the demo's local model
(local_llm) and the fake OpenAI-compatible server of the tests and benchmarks (fake_llm).
Their dependencies are the `test` and `llm` extras, not the base install."""
