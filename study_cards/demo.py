"""./run demo: a local Postgres under var/, the schema applied by the same command users run.

Not complete yet: the sample data, the worker run and the summary come with the
demo issue. For now it sets up the database and says what it did.
"""

from pathlib import Path

from study_cards import local_pg, schema

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    server = local_pg.start(ROOT / "var" / "pgdata", keep=True)
    url = local_pg.create_database(server, "study_cards")
    done = schema.apply(url)
    print(f"Postgres: {url}")
    print(f"migrations applied: {', '.join(done['migrations']) or 'none pending'}")
    print(f"sql files installed: {', '.join(done['sql']) or 'none'}")
    print(f"connect with: psql '{url}'")


if __name__ == "__main__":
    main()
