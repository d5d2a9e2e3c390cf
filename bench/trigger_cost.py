"""Trigger cost: what the enqueue trigger adds to a bulk update of study_questions.

Workload: 100,000 questions (20,000 with --quick) of one user, each with an
explanation. Two single-statement updates of every row, autocommit, timed by the
client (statement + commit):

  version      SET ai_explanation_generated_at = now()   (every row gets a new version:
               with the trigger on, 100,000 jobs are enqueued in the same statement)
  other column SET answer = answer                        (no version changes: the
               trigger runs but enqueues nothing)

each with the project's triggers on study_questions enabled and disabled
(`ALTER TABLE study_questions DISABLE TRIGGER <name>` for every trigger whose function
is named tg_study_questions__study_card_*; foreign-key triggers stay on, unlike
session_replication_role = replica). Also timed, as a floor: one plain INSERT ... SELECT
of the same 100,000 job rows (what the trigger has to write at least). Before every
timed statement: the job table is emptied, the questions vacuumed, and a CHECKPOINT
taken, so each run pays the same full-page writes and finds the same free space.
Several repetitions, the order of enabled/disabled alternating, medians compared.
"""

import time

import psycopg
from psycopg import sql

from bench.harness import Bench, Row, median

# What the enabled trigger must do at least for the version update: the same 100,000 job
# rows inserted by one plain statement (no transition tables, no NOTIFY). Printed as a
# floor, to show how much of the trigger's cost is the job table's own insert cost.
INSERT_JOBS = """INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind)
                 SELECT user_id, 'question', id, now(), 'card_extract' FROM study_questions
                 ON CONFLICT DO NOTHING"""

UPDATES = {
    "version": ("UPDATE study_questions SET ai_explanation_generated_at = now()", "<= 2"),
    "other column": ("UPDATE study_questions SET answer = answer", "<= 1.05"),
}


def project_triggers(conn: psycopg.Connection) -> list[str]:
    return [name for (name,) in conn.execute(
        """SELECT t.tgname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
            WHERE t.tgrelid = 'study_questions'::regclass AND NOT t.tgisinternal
              AND p.proname LIKE 'tg\\_study\\_questions\\_\\_study\\_card\\_%'
            ORDER BY t.tgname""").fetchall()]


def set_triggers(conn: psycopg.Connection, triggers: list[str], enabled: bool) -> None:
    for name in triggers:
        conn.execute(sql.SQL("ALTER TABLE study_questions {} TRIGGER {}").format(
            sql.SQL("ENABLE" if enabled else "DISABLE"), sql.Identifier(name)))


def timed_update(conn: psycopg.Connection, statement: str) -> float:
    conn.execute("TRUNCATE study_memo_card_jobs CASCADE")
    conn.execute("VACUUM ANALYZE study_questions")
    conn.execute("CHECKPOINT")
    began = time.perf_counter()
    conn.execute(statement)
    return time.perf_counter() - began


def run(bench: Bench) -> list[Row]:
    questions, repetitions = (20_000, 3) if bench.quick else (100_000, 5)
    url = bench.database("bench_trigger", with_schema=True)
    rows = []
    with psycopg.connect(url, autocommit=True) as conn:
        user = conn.execute("INSERT INTO users (email) VALUES ('bench@example.com') RETURNING id").fetchone()[0]
        conn.execute(
            """INSERT INTO study_questions (user_id, stem, choices, answer, ai_explanation, ai_explanation_generated_at)
               SELECT %s, '문항 ' || i || ': 다음 중 옳은 것은?', '["① 가", "② 나", "③ 다", "④ 라"]',
                      '③', '해설 ' || i || ': 정답은 ③이다. ' || repeat('설명 ', 40), now() - interval '1 day'
                 FROM generate_series(1, %s) AS i""",
            (user, questions),
        )
        triggers = project_triggers(conn)
        bench.say(f"workload: single-statement updates of {questions:,} questions, {repetitions} repetitions each, "
                  f"triggers toggled: {', '.join(triggers) or 'NONE FOUND'}")
        for label, (statement, target) in UPDATES.items():
            for enabled in (True, False):  # warm-up: bring the table to its steady state
                set_triggers(conn, triggers, enabled)
                timed_update(conn, statement)
            times = {True: [], False: []}
            for repetition in range(repetitions):
                for enabled in ((True, False) if repetition % 2 == 0 else (False, True)):
                    set_triggers(conn, triggers, enabled)
                    times[enabled].append(timed_update(conn, statement))
                    if enabled and label == "version":
                        enqueued = conn.execute("SELECT count(*) FROM study_memo_card_jobs").fetchone()[0]
                        if enqueued != questions:
                            raise RuntimeError(f"the version update enqueued {enqueued} jobs, not {questions}")
            set_triggers(conn, triggers, True)
            on, off = median(times[True]), median(times[False])
            if label == "version":
                off_version = off
            bench.say(f"  {label:<12} on: {', '.join(f'{t * 1000:.0f}' for t in times[True])} ms; "
                      f"off: {', '.join(f'{t * 1000:.0f}' for t in times[False])} ms")
            rows.append(Row("trigger_cost", f"update {label}, {questions // 1000}k rows",
                            f"{on * 1000:,.0f} ms vs {off * 1000:,.0f} ms", on / off, "trigger off", target))
        set_triggers(conn, triggers, False)
        floor = median([timed_update(conn, INSERT_JOBS) for _ in range(repetitions)])
        set_triggers(conn, triggers, True)
        bench.say(f"  floor: INSERT ... SELECT of the same {questions:,} jobs alone: {floor * 1000:.0f} ms")
        rows.append(Row("trigger_cost", f"floor: INSERT of the {questions // 1000}k jobs alone",
                        f"{floor * 1000:,.0f} ms", floor / off_version, "version update, trigger off"))
    bench.drop("bench_trigger")
    return rows
