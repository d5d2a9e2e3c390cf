"""quality: how well commit_cards' guards sort real-looking model replies.

The corpus (bench/quality/*_cards.json) holds replies in the shape typical 7–8B models
(4-bit) give for card_extract jobs over two Korean study sets: the demo's sample set
(sample_data/study_set.sql) and a second set of SQLD, Korean history and 정보처리기사
material (bench/quality/second_set.json). Every card carries a reviewer verdict, keep or
reject with the reason, written against the rules worker.py's prompt states (one fact per
card; the answer not visible in the cue, near-variants included; verbatim quotes; no
number the quotes do not state; no second card for a fact), without looking at what the
guards decide.

The job of every corpus source's current version is made runnable (study_card_request)
and claimed by this benchmark's worker (study_card_claim). Then for each job, in corpus
order within a set (duplicates across sources depend on order), study_card_gather runs
(k = 6, the worker's default), evidence that the corpus cites by note title or
document chunk is mapped to the handle gather gave it (gathered again with k = 50 when a
cited note is not among the first 6), and commit_cards gets the reply. Each card's fate
(kept, or dropped with a reason) is compared with its verdict:

  false drop     a card the reviewer keeps that the guards dropped  (target <= 1% of good)
  caught         a card the reviewer rejects that the guards dropped (target >= 75% of bad)

Printed (stdout): the totals against the targets, both counts per drop reason, per
reviewer class of bad card and per tag of tricky good card, and every false drop and
every missed bad card with its verdict's reason and the guard's detail.

Then the review pass (WORKER_REVIEW=on, docs/review.md): the corpus runs again on a fresh
database, each job's commit_cards getting the job's "review", the model's review reply
for the cards that pass the guards, as p_review. Printed side by side, without and with
it: bad cards among those kept (share of the kept cards) and good cards lost (share of
the good cards); then every good card the review rejected and every bad card it let
through. The review replies are written, not generated: see bench/quality/README.md.
Not part of ./run test. `python -m bench.quality --json` prints the result as JSON.

Corpus format (one file per set), documented for editors in bench/quality/README.md:
  {"set": "sample" | "second", "jobs": [
     {"id": "...", "source": {"set", "kind": "question" | "subject_note" | "document",
                              "key": stem | note title | document title},
      "reply": {"cards": [...], "needs_review": null},
      "review": {"verdicts": [{"index", "verdict": "reject", "class", "reason"}]},
      "verdicts": [{"verdict": "keep" | "reject", "why": "...", "class": "...", "tags": [...]}]}]}
  An evidence "source" is "S1" (the job's own source), {"note": title} or
  {"document": title, "ord": n} (resolved to the handle gather returned), or any other
  string, sent as written (a model citing a handle that was never gathered).
"""

import json
import re
import subprocess
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = ROOT / "bench" / "quality"
SAMPLE_SQL = ROOT / "sample_data" / "study_set.sql"
SECOND_SET = CORPUS_DIR / "second_set.json"
CORPUS_FILES = {"sample": CORPUS_DIR / "sample_cards.json", "second": CORPUS_DIR / "second_cards.json"}
WORKER = "bench-quality"
GATHER_K = 6          # worker.py's WORKER_GATHER_K default
GATHER_K_WIDE = 50    # when a cited note or chunk is not among the first GATHER_K
TARGET_FALSE_DROPS = 0.01
TARGET_CAUGHT = 0.75
REVIEW_CLASSES = ("leak", "unsupported", "multi_fact", "duplicate", "wrong")  # study_card_review_limits()

# Reviewer classes of bad cards (verdict "class") and tags of tricky good cards ("tags").
BAD_CLASSES = {
    "near_duplicate": "the same fact as an earlier card of the same reply, in other words",
    "near_duplicate_cross": "the same fact as a card of an earlier source of the same user",
    "multi_part_leak": "every content part of the answer is in the cue (클라이언트-서버 패턴)",
    "cue_leak": "the answer (or its value) is readable in the cue",
    "root_leak": "the cue holds the answer's root word (삽입할 → 삽입 이상)",
    "translation_leak": "the cue holds the answer's translation or acronym expansion",
    "cloze_leak": "a cloze deletion is visible in the rest of its sentence",
    "list_answer": "several facts in one answer",
    "invented_number": "a number (year, count, value) that the quotes do not state",
    "unquoted_number": "a number copied from the question that no quote states",
    "paraphrased_quote": "a quote that is not verbatim",
    "unsupported_fact": "the quote is verbatim but does not support the card",
    "foreign_evidence": "cites a handle that was not gathered",
}
GOOD_TAGS = {
    "symbol_answer": "an answer made of symbols (||, >=, <>, %, *, ->, _, .)",
    "unit_like_word": "a number before a word that starts like a unit (10 초과, 100 만큼, 4조건, 3원칙)",
    "digit_name": "a name with digits (col2, TAB2 B, IPv4, RAID 5, 2PL, OSI 7계층) not in the quote",
    "choice_cue": "an O/X cue or a cue listing options, the answer one of them",
    "number_particle": "a number with a unit and a particle (10초에, 3년간, 1만 명, 3천만 원)",
    "same_answer_other_fact": "the same answer as another card, for another fact and quote (must not merge)",
    "reverse_card": "another card's sentence asked for another answer (must not merge)",
}


# -- the sources, read without a database ------------------------------------------------

def sql_tuples(sql_text: str, table: str) -> list[list]:
    """The rows of `INSERT INTO <table> VALUES (...), ...;` in sample_data/study_set.sql:
    each a list of its values (strings with '' unescaped; bare numbers as int)."""
    start = sql_text.index(f"INSERT INTO {table} VALUES")
    i = sql_text.index("VALUES", start) + len("VALUES")
    rows, row, depth = [], None, 0
    while i < len(sql_text):
        ch = sql_text[i]
        if ch == "'":
            j, value = i + 1, []
            while True:
                if sql_text[j] == "'" and sql_text[j + 1:j + 2] == "'":
                    value.append("'")
                    j += 2
                elif sql_text[j] == "'":
                    break
                else:
                    value.append(sql_text[j])
                    j += 1
            row.append("".join(value))
            i = j + 1
            continue
        if ch == "-" and sql_text[i:i + 2] == "--":
            i = sql_text.index("\n", i)
            continue
        if ch == "(":
            depth += 1
            row = []
        elif ch == ")":
            depth -= 1
            rows.append(row)
        elif ch == ";" and depth == 0:
            break
        elif ch.isdigit() and depth == 1:
            number = re.match(r"\d+", sql_text[i:]).group()
            row.append(int(number))
            i += len(number)
            continue
        i += 1
    return rows


def load_sets() -> dict:
    """Both study sets as {set: {"users": {email: name}, "questions": [...], "notes": [...],
    "chunks": [...]}}; questions {email, topic, stem, choices, answer, explanation},
    notes {email, topic, title, body}, chunks {email, document, ord, content}."""
    text = SAMPLE_SQL.read_text(encoding="utf-8")
    sample = {
        "users": {email: name for email, name in sql_tuples(text, "sample_user")},
        "questions": [dict(email=e, topic=t, stem=s, choices=json.loads(c), answer=a, explanation=x)
                      for e, t, s, c, a, x in sql_tuples(text, "sample_question")],
        "notes": [dict(email=e, topic=t, title=ti, body=b) for e, t, ti, b in sql_tuples(text, "sample_note")],
        "chunks": [dict(email=e, document=d, ord=o, content=c) for e, d, o, c in sql_tuples(text, "sample_chunk")],
    }
    second_raw = json.loads(SECOND_SET.read_text(encoding="utf-8"))
    email = second_raw["user"]["email"]
    second = {
        "users": {email: second_raw["user"]["display_name"]},
        "questions": [dict(email=email, **q) for q in second_raw["questions"]],
        "notes": [dict(email=email, **n) for n in second_raw["notes"]],
        "chunks": [],
    }
    return {"sample": sample, "second": second}


def find_source(sets: dict, source: dict) -> dict | None:
    """The host row a corpus job names: {"set", "kind", "key"} -> its dict (with "email")."""
    data = sets.get(source.get("set"))
    if data is None:
        return None
    if source["kind"] == "question":
        found = [q for q in data["questions"] if q["stem"] == source["key"]]
    elif source["kind"] == "subject_note":
        found = [n for n in data["notes"] if n["title"] == source["key"]]
    elif source["kind"] == "document":
        chunks = [c for c in data["chunks"] if c["document"] == source["key"]]
        found = [{"email": chunks[0]["email"], "document": source["key"], "chunks": chunks}] if chunks else []
    else:
        return None
    return found[0] if len(found) == 1 else None


def source_parts(row: dict, kind: str) -> list[str]:
    """The texts a verbatim quote of this source must lie within, whatever layout
    study_card_source_text gives them (labels, choice numbers): a question's stem, each
    choice and the explanation; a note's title and body; each chunk of a document."""
    if kind == "question":
        choices = row["choices"]
        choices = list(choices.values()) if isinstance(choices, dict) else list(choices or [])
        return [row["stem"], *choices, row["explanation"]]
    if kind == "subject_note":
        return [row["title"], row["body"]]
    if kind == "document":
        return [chunk["content"] for chunk in row["chunks"]]
    if kind == "document_chunk":
        return [row["content"]]
    raise ValueError(kind)


_KEEP = re.compile(
    "[^0-9a-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u0370-\u03FF\u0400-\u04FF\u1100-\u11FF"
    "\u3040-\u30FF\u3131-\u318E\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7A3]")


def norm(text: str) -> str:
    """study_card_norm for letters and digits: NFKC, ASCII case-fold, only the letters
    and digits of named scripts kept (enough to check that a quote is verbatim)."""
    text = unicodedata.normalize("NFKC", text)
    text = text.translate({c: c + 32 for c in range(ord("A"), ord("Z") + 1)})
    return _KEEP.sub("", text)


def cited_row(sets: dict, set_name: str, job_row: dict, job_kind: str, source) -> tuple[str, dict] | None:
    """(kind, row) of the source an evidence item cites, or None for a raw handle other
    than S1. Notes and chunks are looked up among the job owner's rows."""
    if source == "S1":
        return job_kind, job_row
    data = sets[set_name]
    if isinstance(source, dict) and "note" in source:
        found = [n for n in data["notes"] if n["title"] == source["note"] and n["email"] == job_row["email"]]
        return ("subject_note", found[0]) if len(found) == 1 else ("missing", {})
    if isinstance(source, dict) and "document" in source:
        found = [c for c in data["chunks"] if c["document"] == source["document"]
                 and c["ord"] == source.get("ord") and c["email"] == job_row["email"]]
        return ("document_chunk", found[0]) if len(found) == 1 else ("missing", {})
    return None


def corpus_problems(sets: dict, corpora: dict) -> list[str]:
    """What is wrong with the corpus files, as sentences (empty: well formed): every job
    names an existing source of its set and holds a reply with a cards array; there is
    one verdict per card, each keep or reject with a reason, bad cards with a known
    class, tags known; every note or chunk cited exists and belongs to the job's owner;
    every quote of a card the reviewer keeps is verbatim (after normalisation) within one
    part of the source it cites."""
    problems = []
    for set_name, corpus in corpora.items():
        if corpus.get("set") != set_name:
            problems.append(f"{set_name}: the file says set {corpus.get('set')!r}")
        seen_ids = set()
        for job in corpus["jobs"]:
            where = f"{set_name}/{job.get('id')}"
            if job.get("id") in seen_ids:
                problems.append(f"{where}: duplicate job id")
            seen_ids.add(job.get("id"))
            source = job.get("source", {})
            row = find_source(sets, source) if source.get("set") == set_name else None
            if row is None:
                problems.append(f"{where}: no unique {source.get('kind')} {source.get('key')!r} in set {set_name}")
                continue
            cards = job.get("reply", {}).get("cards")
            verdicts = job.get("verdicts")
            if not isinstance(cards, list) or not isinstance(verdicts, list):
                problems.append(f"{where}: reply.cards and verdicts must be lists")
                continue
            if len(cards) != len(verdicts):
                problems.append(f"{where}: {len(cards)} cards but {len(verdicts)} verdicts")
            problems += [f"{where}: review {problem}" for problem in review_problems(job.get("review"), len(cards))]
            for index, (card, verdict) in enumerate(zip(cards, verdicts)):
                at = f"{where} card {index}"
                if verdict.get("verdict") not in ("keep", "reject") or not verdict.get("why"):
                    problems.append(f"{at}: a verdict needs keep/reject and a why")
                if verdict.get("verdict") == "reject" and verdict.get("class") not in BAD_CLASSES:
                    problems.append(f"{at}: unknown class {verdict.get('class')!r}")
                for tag in verdict.get("tags", []):
                    if tag not in GOOD_TAGS:
                        problems.append(f"{at}: unknown tag {tag!r}")
                for item in card.get("evidence") or []:
                    cited = cited_row(sets, set_name, row, source["kind"], item.get("source"))
                    if cited is None:
                        continue
                    kind, cited_source = cited
                    if kind == "missing":
                        problems.append(f"{at}: cites {item.get('source')}, which the owner does not have")
                        continue
                    if verdict.get("verdict") == "keep" and not any(
                            norm(item["quote"]) in norm(part) for part in source_parts(cited_source, kind)):
                        problems.append(f"{at}: the quote is not verbatim in one part of its source: "
                                        f"{item['quote'][:60]!r}")
    return problems


def review_problems(review, cards: int) -> list[str]:
    """What is wrong with a job's review reply (absent: nothing to say): an object whose
    "verdicts" reject cards of the reply, by index, each once, with a class of
    REVIEW_CLASSES and a reason. (commit_cards would take more: keep verdicts, indexes
    of no card; a corpus reply says what a reviewer meant.)"""
    if review is None:
        return []
    if not isinstance(review, dict) or not isinstance(review.get("verdicts"), list):
        return ['must be {"verdicts": [...]}']
    problems, seen = [], set()
    for verdict in review["verdicts"]:
        index = verdict.get("index")
        if not isinstance(index, int) or not 0 <= index < cards or index in seen:
            problems.append(f"index {index!r} is not one card of the reply, once")
        elif verdict.get("verdict") != "reject" or verdict.get("class") not in REVIEW_CLASSES \
                or not verdict.get("reason"):
            problems.append(f"card {index}: a verdict rejects with a class and a reason")
        seen.add(index)
    return problems


def load_corpora() -> dict:
    return {name: json.loads(path.read_text(encoding="utf-8")) for name, path in CORPUS_FILES.items()}


# -- the run -----------------------------------------------------------------------------

# The sample set's pseudo-embedding (sample_data/study_set.sql): character bigrams of the
# normalised text hashed into 1024 buckets, so the second set's notes are found by
# gather's vector half the same way the sample set's are.
EMBEDDING_FUNCTION = """
CREATE OR REPLACE FUNCTION pg_temp.quality_embedding(p_text text) RETURNS vector(1024)
LANGUAGE sql IMMUTABLE
RETURN (
    SELECT array_agg(coalesce(h.n, 0)::real ORDER BY d.bucket)::vector(1024)
      FROM generate_series(0, 1023) AS d(bucket)
      LEFT JOIN (SELECT hashtext(substr(t.norm, i, 2)) & 1023 AS bucket, count(*) AS n
                   FROM (SELECT study_card_norm(p_text) AS norm) AS t,
                        generate_series(1, length(t.norm) - 1) AS i
                  GROUP BY 1) AS h USING (bucket))
"""


def load_host_rows(conn, sets: dict) -> None:
    """The sample set (its own loader), the second set (its JSON) and every question's
    explanation stamped as generated now, which enqueues their jobs."""
    from psycopg.types.json import Jsonb

    conn.execute(SAMPLE_SQL.read_text(encoding="utf-8"))
    second = json.loads(SECOND_SET.read_text(encoding="utf-8"))
    with conn.transaction():
        conn.execute(EMBEDDING_FUNCTION)
        user = conn.execute("INSERT INTO users (email, display_name) VALUES (%s, %s) RETURNING id",
                            (second["user"]["email"], second["user"]["display_name"])).fetchone()[0]
        topics = {name: conn.execute("INSERT INTO study_topics (user_id, name) VALUES (%s, %s) RETURNING id",
                                     (user, name)).fetchone()[0] for name in second["topics"]}
        for q in second["questions"]:
            conn.execute(
                "INSERT INTO study_questions (user_id, topic_id, stem, choices, answer, ai_explanation, embedding)"
                " VALUES (%s, %s, %s, %s, %s, %s, pg_temp.quality_embedding(%s))",
                (user, topics[q["topic"]], q["stem"], Jsonb(q["choices"]), q["answer"], q["explanation"],
                 q["stem"] + " " + q["explanation"]))
        for n in second["notes"]:
            conn.execute(
                "INSERT INTO study_subject_notes (user_id, topic_id, title, body, updated_at, embedding)"
                " VALUES (%s, %s, %s, %s, now(), pg_temp.quality_embedding(%s))",
                (user, topics[n["topic"]], n["title"], n["body"], n["title"] + " " + n["body"]))
    conn.execute("UPDATE study_questions SET ai_explanation_generated_at = now()"
                 " WHERE ai_explanation_generated_at IS NULL")


def source_id(conn, source: dict, email: str) -> int:
    """The id of the host row a corpus job names, within its owner's rows."""
    query = {
        "question": "SELECT q.id FROM study_questions q JOIN users u ON u.id = q.user_id"
                    " WHERE u.email = %s AND q.stem = %s AND q.deleted_at IS NULL",
        "subject_note": "SELECT n.id FROM study_subject_notes n JOIN users u ON u.id = n.user_id"
                        " WHERE u.email = %s AND n.title = %s AND n.deleted_at IS NULL",
        "document": "SELECT d.id FROM documents d JOIN users u ON u.id = d.user_id"
                    " WHERE u.email = %s AND d.title = %s AND d.deleted_at IS NULL",
    }[source["kind"]]
    rows = conn.execute(query, (email, source["key"])).fetchall()
    if len(rows) != 1:
        raise RuntimeError(f"{len(rows)} rows for {source}")
    return rows[0][0]


def claim_jobs(conn, corpora: dict, sets: dict) -> dict:
    """The card_extract job of every corpus source's current version, held by WORKER:
    study_card_request makes each runnable now (a note's debounce brought forward), then
    study_card_claim claims everything runnable, as the worker would. Only the public
    functions are used, so how a job is held is the schema's business.
    Returns {(set, job id in the corpus): job id}."""
    wanted = {}
    for set_name, corpus in corpora.items():
        for job in corpus["jobs"]:
            source = job["source"]
            row_id = source_id(conn, source, find_source(sets, source)["email"])
            wanted[(set_name, job["id"])] = conn.execute(
                "SELECT study_card_request(%s, %s)", (source["kind"], row_id)).fetchone()[0]
    claimed = set()
    while batch := conn.execute("SELECT id FROM study_card_claim(%s, 100)", (WORKER,)).fetchall():
        claimed |= {job_id for (job_id,) in batch}
    missing = [key for key, job_id in wanted.items() if job_id not in claimed]
    if missing:
        raise RuntimeError(f"study_card_claim did not return the jobs of {missing}")
    return wanted


def gathered(conn, job_id: int, k: int) -> dict:
    """study_card_gather's handles by what the corpus cites: {("note", title): handle,
    ("document", title, ord): handle}, plus ("S1",) for the job's own source."""
    rows = conn.execute(
        "SELECT g.handle, g.source_kind, g.title, c.ord"
        "  FROM study_card_gather(p_job_id => %s, p_k => %s, p_worker => %s) AS g"
        "  LEFT JOIN document_chunks c ON g.source_kind = 'document_chunk' AND c.id = g.source_id",
        (job_id, k, WORKER)).fetchall()
    handles = {}
    for handle, kind, title, ord_ in rows:
        if handle == "S1":
            handles[("S1",)] = handle
        elif kind == "subject_note":
            handles[("note", title)] = handle
        elif kind == "document_chunk":
            handles[("document", title, ord_)] = handle
    return handles


def cited_keys(job: dict) -> set:
    keys = set()
    for card in job["reply"]["cards"]:
        for item in card.get("evidence") or []:
            source = item.get("source")
            if isinstance(source, dict) and "note" in source:
                keys.add(("note", source["note"]))
            elif isinstance(source, dict) and "document" in source:
                keys.add(("document", source["document"], source.get("ord")))
    return keys


def resolved_reply(job: dict, handles: dict) -> dict:
    """The reply as the model would have written it for these handles."""
    reply = json.loads(json.dumps(job["reply"]))
    for card in reply["cards"]:
        for item in card.get("evidence") or []:
            source = item.get("source")
            if isinstance(source, dict) and "note" in source:
                item["source"] = handles[("note", source["note"])]
            elif isinstance(source, dict) and "document" in source:
                item["source"] = handles[("document", source["document"], source.get("ord"))]
    return reply


def run_job(conn, job_id: int, set_name: str, job: dict, with_review: bool = False) -> dict:
    """Gather and commit one corpus job (held by WORKER), with the job's review reply as
    p_review when with_review: {"id", "set", "fates": [(reason or None, detail)], "note":
    what was unusual}."""
    import psycopg
    from psycopg.types.json import Jsonb

    handles = gathered(conn, job_id, GATHER_K)
    note = ""
    missing = cited_keys(job) - handles.keys()
    if missing:
        handles = gathered(conn, job_id, GATHER_K_WIDE)
        note = f"gathered with k = {GATHER_K_WIDE}: {sorted(missing)} not among the first {GATHER_K}"
        still = cited_keys(job) - handles.keys()
        if still:
            raise RuntimeError(f"{set_name}/{job['id']}: gather does not return {sorted(still)}")
    reply = resolved_reply(job, handles)
    cards = len(reply["cards"])
    try:
        review = Jsonb(job["review"]) if with_review and "review" in job else None
        report = conn.execute("SELECT commit_cards(p_job_id => %s, p_worker => %s, p_result => %s,"
                              " p_review => %s)", (job_id, WORKER, Jsonb(reply), review)).fetchone()[0]
    except psycopg.Error as error:
        detail = f"commit_cards raised {error.sqlstate}: {error.diag.message_primary}"
        return {"id": job["id"], "set": set_name, "fates": [("job_error", detail)] * cards, "note": detail}
    fates = [(None, None)] * cards
    for drop in report["dropped"]:
        fates[drop["index"]] = (drop["reason"], drop.get("detail"))
    review = report.get("review")
    if review and (not review["applied"] or review["ignored"]):
        note = (note + "; " if note else "") + f"review {json.dumps(review, ensure_ascii=False)}"
    if report.get("status") != "completed":
        note = (note + "; " if note else "") + f"job {report.get('status')} ({report.get('error_code')})"
        fates = [(report.get("error_code") or "job_" + str(report.get("status")), "the job was not completed")
                 if reason is None else (reason, detail) for reason, detail in fates]
    return {"id": job["id"], "set": set_name, "fates": fates, "note": note}


# -- scoring and the report --------------------------------------------------------------

def card_text(card: dict) -> str:
    if card.get("type") == "cloze":
        return f"[cloze] {card.get('text')}"
    return f"{card.get('cue')} → {card.get('answer')}"


def score(corpora: dict, results: list[dict]) -> dict:
    """Every card with its verdict and fate, and the counts the report prints."""
    by_job = {(r["set"], r["id"]): r for r in results}
    cards = []
    for set_name, corpus in corpora.items():
        for job in corpus["jobs"]:
            result = by_job[(set_name, job["id"])]
            for index, (card, verdict) in enumerate(zip(job["reply"]["cards"], job["verdicts"])):
                reason, detail = result["fates"][index]
                cards.append({"set": set_name, "job": job["id"], "index": index, "card": card_text(card),
                              "verdict": verdict["verdict"], "class": verdict.get("class"),
                              "tags": verdict.get("tags", []), "why": verdict["why"],
                              "dropped": reason is not None, "reason": reason, "detail": detail})
    good = [c for c in cards if c["verdict"] == "keep"]
    bad = [c for c in cards if c["verdict"] == "reject"]
    false_drops = [c for c in good if c["dropped"]]
    caught = [c for c in bad if c["dropped"]]
    kept = [c for c in cards if not c["dropped"]]
    reasons = sorted({c["reason"] for c in cards if c["dropped"]})
    per_set = {}
    for set_name in corpora:
        g = [c for c in good if c["set"] == set_name]
        b = [c for c in bad if c["set"] == set_name]
        per_set[set_name] = {"jobs": len(corpora[set_name]["jobs"]), "cards": len(g) + len(b),
                             "good": len(g), "bad": len(b),
                             "false_drops": sum(c["dropped"] for c in g), "caught": sum(c["dropped"] for c in b)}
    return {
        "cards": len(cards), "good": len(good), "bad": len(bad),
        "false_drops": len(false_drops), "caught": len(caught),
        "false_drop_share": len(false_drops) / len(good) if good else 0.0,
        "caught_share": len(caught) / len(bad) if bad else 1.0,
        "kept": len(kept), "bad_kept": len(bad) - len(caught),
        "bad_kept_share": (len(bad) - len(caught)) / len(kept) if kept else 0.0,
        "review_rejected_good": [c for c in false_drops if c["reason"] == "review_rejected"],
        "review_rejected_bad": [c for c in caught if c["reason"] == "review_rejected"],
        "per_set": per_set,
        "per_reason": {r: {"false_drops": sum(c["reason"] == r for c in false_drops),
                           "caught": sum(c["reason"] == r for c in caught)} for r in reasons},
        "per_class": {k: {"bad": sum(c["class"] == k for c in bad),
                          "caught": sum(c["class"] == k for c in caught)}
                      for k in BAD_CLASSES if any(c["class"] == k for c in bad)},
        "per_tag": {t: {"good": sum(t in c["tags"] for c in good),
                        "dropped": sum(t in c["tags"] for c in false_drops)}
                    for t in GOOD_TAGS if any(t in c["tags"] for c in good)},
        "false_drop_cards": false_drops,
        "missed_cards": [c for c in bad if not c["dropped"]],
        "notes": [f"{r['set']}/{r['id']}: {r['note']}" for r in results if r["note"]],
    }


def share(n: int, total: int) -> str:
    return f"{n}/{total} ({n / total:.1%})" if total else "0/0"


def revision() -> str:
    """The commit the schema came from, and whether sql/ or migrations/ differ from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "sql", "migrations"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown revision"
    return head + (" with local changes in sql/ or migrations/" if dirty else "")


def report(s: dict) -> str:
    met = {True: "met", False: "NOT met"}
    lines = [
        f"quality of the card guards on the corpus ({revision()})",
        f"  corpus: {s['cards']} cards, {s['good']} good / {s['bad']} bad by the reviewer ("
        + ", ".join(f"{name}: {p['jobs']} jobs, {p['cards']} cards, {p['good']}/{p['bad']}"
                    for name, p in s["per_set"].items()) + ")",
        f"  false drops (good cards dropped): {share(s['false_drops'], s['good'])}"
        f"   target <= {TARGET_FALSE_DROPS:.0%}: {met[s['false_drop_share'] <= TARGET_FALSE_DROPS]}",
        f"  bad cards caught (dropped):       {share(s['caught'], s['bad'])}"
        f"   target >= {TARGET_CAUGHT:.0%}: {met[s['caught_share'] >= TARGET_CAUGHT]}",
        "",
        "  per drop reason                 false drops   caught",
    ]
    for reason, counts in s["per_reason"].items():
        lines.append(f"    {reason:<28}{counts['false_drops']:>11}{counts['caught']:>9}")
    lines += ["", "  bad cards by reviewer class     caught"]
    for name, counts in s["per_class"].items():
        lines.append(f"    {name:<28}{share(counts['caught'], counts['bad']):>14}")
    lines += ["", "  tricky good cards by tag        dropped"]
    for name, counts in s["per_tag"].items():
        lines.append(f"    {name:<28}{share(counts['dropped'], counts['good']):>14}")
    lines += ["", f"  false drops ({len(s['false_drop_cards'])}): good cards the guards dropped"]
    for c in s["false_drop_cards"]:
        lines.append(f"    {c['set']}/{c['job']} #{c['index']} {c['reason']}: {c['detail']}")
        lines.append(f"        {c['card']}")
        lines.append(f"        reviewer: keep ({c['why']})")
    lines += ["", f"  missed ({len(s['missed_cards'])}): bad cards the guards kept"]
    for c in s["missed_cards"]:
        lines.append(f"    {c['set']}/{c['job']} #{c['index']} {c['class']}: {c['why']}")
        lines.append(f"        {c['card']}")
    if s["notes"]:
        lines += ["", "  notes:"] + [f"    {note}" for note in s["notes"]]
    if "with_review" in s:
        lines += ["", review_report(s, s["with_review"])]
    return "\n".join(lines)


def review_report(without: dict, with_: dict) -> str:
    """The review pass: the corpus again with each job's review reply (p_review)."""
    lines = [
        "the review pass (commit_cards with each job's review reply; the review replies are written, not generated)",
        "                                   without review         with review",
        f"  bad cards among those kept:      {share(without['bad_kept'], without['kept']):<22} "
        f"{share(with_['bad_kept'], with_['kept'])}",
        f"  good cards lost (dropped):       {share(without['false_drops'], without['good']):<22} "
        f"{share(with_['false_drops'], with_['good'])}",
        f"  review_rejected: {len(with_['review_rejected_bad'])} bad and {len(with_['review_rejected_good'])}"
        f" good cards (of {without['kept'] - without['bad_kept']} good ones the guards kept:"
        f" {share(len(with_['review_rejected_good']), without['kept'] - without['bad_kept'])})",
        "", f"  good cards the review rejected ({len(with_['review_rejected_good'])})",
    ]
    for c in with_["review_rejected_good"]:
        lines += [f"    {c['set']}/{c['job']} #{c['index']} {c['detail']}", f"        {c['card']}",
                  f"        reviewer: keep ({c['why']})"]
    lines += ["", f"  bad cards kept with the review ({len(with_['missed_cards'])})"]
    for c in with_["missed_cards"]:
        lines += [f"    {c['set']}/{c['job']} #{c['index']} {c['class']}: {c['why']}", f"        {c['card']}"]
    if with_["notes"]:
        lines += ["", "  notes:"] + [f"    {note}" for note in with_["notes"]]
    return "\n".join(lines)


def measure(bench) -> dict:
    """Runs the corpus through commit_cards on a fresh database of `bench`'s server, then
    again with the review replies on another: the first run's score, with the second's
    under "with_review"."""
    import psycopg

    sets, corpora = load_sets(), load_corpora()
    problems = corpus_problems(sets, corpora)
    if problems:
        raise RuntimeError("the corpus is not well formed:\n  " + "\n  ".join(problems))
    summaries = []
    for with_review in (False, True):
        url = bench.database("bench_quality", with_schema=True)
        results = []
        with psycopg.connect(url, autocommit=True) as conn:
            load_host_rows(conn, sets)
            job_ids = claim_jobs(conn, corpora, sets)
            for set_name in CORPUS_FILES:
                bench.say(f"  {set_name}: {len(corpora[set_name]['jobs'])} jobs"
                          + (", with the review replies" if with_review else ""))
                for job in corpora[set_name]["jobs"]:
                    results.append(run_job(conn, job_ids[(set_name, job["id"])], set_name, job, with_review))
        bench.drop("bench_quality")
        summaries.append(score(corpora, results))
    return summaries[0] | {"with_review": summaries[1]}


def rows(s: dict) -> list:
    from bench.harness import Row

    r = s["with_review"]
    return [
        Row("quality", "false drops (good cards dropped)", share(s["false_drops"], s["good"]),
            ratio=s["false_drop_share"], baseline="share of the good cards", target=f"<= {TARGET_FALSE_DROPS}"),
        Row("quality", "bad cards caught", share(s["caught"], s["bad"]),
            ratio=s["caught_share"], baseline="share of the bad cards", target=f">= {TARGET_CAUGHT}"),
        Row("quality", "bad among kept, without review", share(s["bad_kept"], s["kept"]),
            ratio=s["bad_kept_share"], baseline="share of the kept cards"),
        Row("quality", "bad among kept, with review", share(r["bad_kept"], r["kept"]),
            ratio=r["bad_kept_share"], baseline="share of the kept cards"),
        Row("quality", "good lost, with review", share(r["false_drops"], r["good"]),
            ratio=r["false_drop_share"], baseline="share of the good cards"),
    ]


def run(bench) -> list:
    """python -m bench quality: the report on stdout (it is the result), the two totals
    in the table."""
    summary = measure(bench)
    print(report(summary), flush=True)
    return rows(summary)


def main(argv: list[str]) -> int:
    import argparse

    from bench.harness import Bench

    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print the result as JSON instead of the report")
    args = parser.parse_args(argv)
    summary = measure(Bench(quick=False))
    if args.json:
        print(json.dumps(summary | {"revision": revision()}, ensure_ascii=False, indent=1))
    else:
        print(report(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
