"""Trigger cost: what the enqueue triggers add to the host's updates of study_questions,
for three trigger designs side by side, against the same updates with no project trigger.

Designs (each installed in turn on the same table; the job functions of sql/20_enqueue.sql
are the same for all three):

  row          the adapter's own (sql/10_host.sql): row-level AFTER triggers with
               WHEN (version changed to non-null) collect the ids
               (study_card_enqueue_source), a statement-level AFTER trigger without
               transition tables enqueues them in bulk and sends the one NOTIFY
               (study_card_enqueue_statement)
  statement    the design before issue 13: statement-level AFTER triggers with
               transition tables (REFERENCING OLD/NEW TABLE), the changed ids joined
               from them and handed to study_card_enqueue_sources
  row insert   row-level AFTER triggers with the same WHEN, each row's job inserted by
               the row trigger itself (one INSERT ... SELECT per row); a statement-level
               trigger sends the NOTIFY counted in a transaction-local setting
  off          none of the project's triggers on study_questions (dropped, not
               disabled: a disabled trigger with transition tables still makes
               PostgreSQL capture them; the foreign-key triggers stay)

Workloads, autocommit, timed by the client (statement + commit):

  version, 100k     UPDATE study_questions SET ai_explanation_generated_at = now() on all
                    100,000 questions (20,000 with --quick): 100,000 jobs in one statement
  other, 100k       UPDATE study_questions SET answer = answer: no version changes
  version, 1 row    2,000 single-row updates of the version (500 with --quick), each a
                    new version: one job and one NOTIFY each
  other, 1 row      2,000 single-row updates of answer
                    (both with synchronous_commit = off: the WAL flush at commit, one per
                    statement whatever the design, takes 2-10 ms on this machine's disk
                    and would drown the trigger's tens of microseconds in its variance)

For the 100k updates: before every timed statement the job table is emptied, the
questions vacuumed and a CHECKPOINT taken; one untimed warm-up per design; then 5
repetitions (3 with --quick), the order of the designs reversed every other
repetition; medians. The single-row updates go in blocks of 100 per design, the designs
rotating block by block, the first statement after each switch untimed; p50 and p99 per
statement. Besides wall time, the server backend's CPU time (user + system, from
/proc/<pid>/stat) is summed per statement: on a shared 2-core machine it varies less.
Also timed, as a floor: one plain INSERT ... SELECT ... ON CONFLICT DO NOTHING of the
same 100,000 job rows, what any design has to write at least.
"""

import os
import time

import psycopg

from bench.harness import Bench, Row, median, percentile

# The design before issue 13 (sql/10_host.sql at ca15fee), renamed so that it can sit
# next to the adapter's functions.
STATEMENT_DESIGN = """
CREATE OR REPLACE FUNCTION bench_tg_statement() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_old_ids bigint[];
    v_old_versions timestamptz[];
    v_new_ids bigint[];
    v_new_versions timestamptz[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM study_card_enqueue_sources('question', ARRAY(
            SELECT n.id FROM new_rows n WHERE n.ai_explanation_generated_at IS NOT NULL));
        RETURN NULL;
    END IF;
    SELECT array_agg(id), array_agg(ai_explanation_generated_at) INTO v_old_ids, v_old_versions FROM old_rows;
    SELECT array_agg(id), array_agg(ai_explanation_generated_at) INTO v_new_ids, v_new_versions FROM new_rows;
    IF v_old_ids IS NOT DISTINCT FROM v_new_ids AND v_old_versions IS NOT DISTINCT FROM v_new_versions THEN
        RETURN NULL;
    END IF;
    PERFORM study_card_enqueue_sources('question', ARRAY(
        SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
         WHERE n.ai_explanation_generated_at IS NOT NULL
           AND n.ai_explanation_generated_at IS DISTINCT FROM o.ai_explanation_generated_at));
    RETURN NULL;
END
$$;
CREATE TRIGGER study_card_enqueue_inserted
    AFTER INSERT ON study_questions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bench_tg_statement();
CREATE TRIGGER study_card_enqueue_updated
    AFTER UPDATE ON study_questions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bench_tg_statement();
"""

# The row-level design as the issue sketched it: each row's job made by its own trigger
# call (through the views, as study_card_add_source_jobs reads them), the statement's
# runnable jobs counted in a transaction-local setting for the one NOTIFY.
ROW_INSERT_DESIGN = """
CREATE OR REPLACE FUNCTION bench_tg_row_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_run_after timestamptz;
BEGIN
    INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind, priority)
    SELECT s.user_id, 'question', s.source_id, s.version, 'card_extract', study_card_priority(t.focus)
      FROM study_card_ready_sources() AS s
      LEFT JOIN study_card_host_topics t ON t.id = s.topic_id
     WHERE s.source_kind = 'question' AND s.source_id = NEW.id
    ON CONFLICT DO NOTHING
    RETURNING run_after INTO v_run_after;
    IF v_run_after <= now() THEN
        PERFORM set_config('study_card.runnable',
                           (coalesce(nullif(current_setting('study_card.runnable', true), ''), '0')::int + 1)::text, true);
    END IF;
    RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION bench_tg_row_insert_notify() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_runnable int := coalesce(nullif(current_setting('study_card.runnable', true), ''), '0')::int;
BEGIN
    IF v_runnable > 0 THEN
        PERFORM set_config('study_card.runnable', '0', true);
        PERFORM study_card_notify(v_runnable);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER study_card_enqueue_inserted
    AFTER INSERT ON study_questions
    FOR EACH ROW WHEN (NEW.ai_explanation_generated_at IS NOT NULL)
    EXECUTE FUNCTION bench_tg_row_insert();
CREATE TRIGGER study_card_enqueue_updated
    AFTER UPDATE ON study_questions
    FOR EACH ROW WHEN (NEW.ai_explanation_generated_at IS NOT NULL
                       AND NEW.ai_explanation_generated_at IS DISTINCT FROM OLD.ai_explanation_generated_at)
    EXECUTE FUNCTION bench_tg_row_insert();
CREATE TRIGGER study_card_enqueue_statement
    AFTER INSERT OR UPDATE ON study_questions
    FOR EACH STATEMENT EXECUTE FUNCTION bench_tg_row_insert_notify();
"""

# What any design has to write at least for the 100k version update.
INSERT_JOBS = """INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind)
                 SELECT user_id, 'question', id, now(), 'card_extract' FROM study_questions
                 ON CONFLICT DO NOTHING"""

BULK = {
    "version": ("UPDATE study_questions SET ai_explanation_generated_at = now()", "<= 2.5"),
    "other column": ("UPDATE study_questions SET answer = answer", "<= 1.02"),
}
SINGLE = {
    "version": "UPDATE study_questions SET ai_explanation_generated_at = now() WHERE id = %s",
    "other column": "UPDATE study_questions SET answer = answer WHERE id = %s",
}
BLOCK = 100


def project_triggers(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """(name, definition) of the project's enqueue triggers on study_questions (the
    adapter's, or a design's installed here); not the foreign keys' internal triggers."""
    return conn.execute(
        """SELECT t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t
            WHERE t.tgrelid = 'study_questions'::regclass AND NOT t.tgisinternal
              AND t.tgname LIKE 'study\\_card\\_enqueue\\_%' ORDER BY t.tgname""").fetchall()


def install(conn: psycopg.Connection, design: str, definitions: dict[str, str]) -> None:
    """Replace the project's triggers on study_questions by `design`'s ('off': none)."""
    for name, _ in project_triggers(conn):
        conn.execute(f'DROP TRIGGER "{name}" ON study_questions')
    if definitions[design]:
        conn.execute(definitions[design])


class BackendClock:
    """The CPU time (user + system) of the connection's server process, from /proc; None
    when it cannot be read (a server on another machine)."""

    def __init__(self, conn: psycopg.Connection):
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        self.path = f"/proc/{pid}/stat"
        self.tick = os.sysconf("SC_CLK_TCK")
        self.ok = self.read() is not None

    def read(self) -> float | None:
        try:
            with open(self.path) as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / self.tick


def timed_bulk(conn: psycopg.Connection, clock: BackendClock, statement: str) -> tuple[float, float | None]:
    """(wall seconds, backend CPU seconds) of one statement, from the same state each time."""
    conn.execute("TRUNCATE study_memo_card_jobs CASCADE")
    conn.execute("VACUUM ANALYZE study_questions")
    conn.execute("CHECKPOINT")
    cpu = clock.read()
    began = time.perf_counter()
    conn.execute(statement)
    wall = time.perf_counter() - began
    return wall, (clock.read() - cpu) if clock.ok else None


def run(bench: Bench) -> list[Row]:
    questions, repetitions, singles = (20_000, 3, 500) if bench.quick else (100_000, 5, 2_000)
    url = bench.database("bench_trigger", with_schema=True)
    rows = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET client_min_messages = warning")  # TRUNCATE ... CASCADE's notices
        user = conn.execute("INSERT INTO users (email) VALUES ('bench@example.com') RETURNING id").fetchone()[0]
        adapter = project_triggers(conn)
        definitions = {"row": ";\n".join(definition for _, definition in adapter),
                       "statement": STATEMENT_DESIGN, "row insert": ROW_INSERT_DESIGN, "off": ""}
        designs = ["row", "statement", "row insert"]
        install(conn, "off", definitions)
        conn.execute(
            """INSERT INTO study_questions (user_id, stem, choices, answer, ai_explanation, ai_explanation_generated_at)
               SELECT %s, '문항 ' || i || ': 다음 중 옳은 것은?', '["① 가", "② 나", "③ 다", "④ 라"]',
                      '③', '해설 ' || i || ': 정답은 ③이다. ' || repeat('설명 ', 40), now() - interval '1 day'
                 FROM generate_series(1, %s) AS i""",
            (user, questions),
        )
        clock = BackendClock(conn)
        bench.say(f"workload: updates of {questions:,} questions in one statement ({repetitions} repetitions) "
                  f"and {singles:,} single-row updates, per design: {', '.join(designs)}, off")
        bench.say(f"  the adapter's triggers (design 'row'): {', '.join(name for name, _ in adapter) or 'NONE FOUND'}")

        bulk = {}
        for label, (statement, target) in BULK.items():
            variants = designs + ["off"]
            for design in variants:  # warm-up: bring the table to its steady state
                install(conn, design, definitions)
                timed_bulk(conn, clock, statement)
            times = {design: [] for design in variants}
            for repetition in range(repetitions):
                for design in (variants if repetition % 2 == 0 else variants[::-1]):
                    install(conn, design, definitions)
                    times[design].append(timed_bulk(conn, clock, statement))
                    if design != "off" and label == "version":
                        enqueued = conn.execute("SELECT count(*) FROM study_memo_card_jobs").fetchone()[0]
                        if enqueued != questions:
                            raise RuntimeError(f"{design}: the version update enqueued {enqueued} jobs, not {questions}")
            bulk[label] = times
            off_wall = median([wall for wall, _ in times["off"]])
            off_cpu = median([cpu for _, cpu in times["off"]]) if clock.ok else None
            for design in variants:
                bench.say(f"  {label:<12} {design:<10} wall: {', '.join(f'{w * 1000:.0f}' for w, _ in times[design])} ms"
                          + (f"; cpu: {', '.join(f'{c * 1000:.0f}' for _, c in times[design])} ms" if clock.ok else ""))
            for design in designs:
                wall = median([w for w, _ in times[design]])
                cpu = median([c for _, c in times[design]]) if clock.ok else None
                rows.append(Row("trigger_cost", f"{design}: update {label}, {questions // 1000}k rows",
                                f"{wall * 1000:,.0f} ms vs {off_wall * 1000:,.0f} ms", wall / off_wall, "trigger off",
                                target, note=(f"server CPU {cpu * 1000:,.0f} ms vs {off_cpu * 1000:,.0f} ms: "
                                              f"{cpu / off_cpu:.2f}x" if clock.ok and off_cpu else "")))
        install(conn, "off", definitions)
        floor = [timed_bulk(conn, clock, INSERT_JOBS) for _ in range(repetitions)]
        floor_wall = median([w for w, _ in floor])
        off_version = median([w for w, _ in bulk["version"]["off"]])
        bench.say(f"  floor: INSERT ... SELECT of the same {questions:,} jobs alone: "
                  f"{', '.join(f'{w * 1000:.0f}' for w, _ in floor)} ms"
                  + (f"; cpu: {', '.join(f'{c * 1000:.0f}' for _, c in floor)} ms" if clock.ok else ""))
        floor_note = ""
        if clock.ok:
            floor_cpu = median([c for _, c in floor])
            off_cpu = median([c for _, c in bulk["version"]["off"]])
            floor_note = (f"server CPU {floor_cpu * 1000:,.0f} ms; update + this insert: "
                          f"{(off_cpu + floor_cpu) / off_cpu:.2f}x the update's CPU")
        rows.append(Row("trigger_cost", f"floor: INSERT of the {questions // 1000}k jobs alone",
                        f"{floor_wall * 1000:,.0f} ms", floor_wall / off_version, "version update, trigger off",
                        note=floor_note))
        rows.append(Row("trigger_cost", "floor: update + that INSERT",
                        f"{(off_version + floor_wall) * 1000:,.0f} ms", (off_version + floor_wall) / off_version,
                        "version update, trigger off"))

        conn.execute("SET synchronous_commit = off")
        for label, statement in SINGLE.items():
            variants = designs + ["off"]
            times = {design: [] for design in variants}
            cpu = {design: 0.0 for design in variants}
            ids = iter(range(1, questions + 1))
            for block in range(singles // BLOCK):
                for design in variants[block % len(variants):] + variants[:block % len(variants)]:
                    install(conn, design, definitions)
                    conn.execute(statement, (next(ids),), prepare=True)  # after DDL: plan again, untimed
                    before = clock.read()
                    for _ in range(BLOCK):
                        began = time.perf_counter()
                        conn.execute(statement, (next(ids),), prepare=True)
                        times[design].append(time.perf_counter() - began)
                    if clock.ok:
                        cpu[design] += clock.read() - before
            count = len(times["off"])
            off50, off99 = percentile(times["off"], 50), percentile(times["off"], 99)
            for design in variants:
                bench.say(f"  1-row {label:<12} {design:<10} p50 {percentile(times[design], 50) * 1e6:6.0f} us, "
                          f"p99 {percentile(times[design], 99) * 1e6:6.0f} us"
                          + (f", server CPU {cpu[design] / count * 1e6:5.0f} us per statement" if clock.ok else ""))
            for design in designs:
                p50, p99 = percentile(times[design], 50), percentile(times[design], 99)
                rows.append(Row("trigger_cost", f"{design}: 1-row update {label}, added p50 / p99",
                                f"{(p50 - off50) * 1e6:+,.0f} / {(p99 - off99) * 1e6:+,.0f} us",
                                note=(f"p50 {p50 * 1e6:,.0f} us vs {off50 * 1e6:,.0f}, p99 {p99 * 1e6:,.0f} vs "
                                      f"{off99 * 1e6:,.0f} over {count:,} statements each"
                                      + (f"; server CPU per statement {(cpu[design] - cpu['off']) / count * 1e6:+,.0f} us"
                                         if clock.ok else ""))))
        conn.execute("RESET synchronous_commit")
        install(conn, "row", definitions)
    bench.drop("bench_trigger")
    return rows
