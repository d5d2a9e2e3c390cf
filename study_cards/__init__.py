"""Study memo cards: the Python side (schema command, local Postgres, demo). The rules live in SQL."""
