"""Recall: does study_card_gather bring a question's related notes and chunks?

Workload: bench/recall_set.json, a labelled Korean set: exam questions (SQL, 한국사,
정보처리기사) with choices, answer and AI explanation, each labelled with the 2-3 subject
notes or document chunks a learner files it with ("relevant"), among all the set's
notes and chunks (the rest are distractors, most on the same subjects; each question's
relevant rows are distractors for the others). One user owns every row.

For each question, one claimed job and study_card_gather(job, 5): recall@5 is the share
of its relevant rows among S2..S6, averaged over the questions. Measured with four
lexical queries, swapped in for the run (the current study_card_source_query is
restored after it):
- stem only: what study_card_source_query returned before issue 10;
- answer alone: study_card_question_query(stem, answer, explanation, 0);
- current: study_card_source_query as installed (the answer and one term);
- answer + terms to 200 chars: the same with every term that fits in 200 characters;
each in two modes:
- trigram alone: no embeddings stored, so gather ranks by pg_trgm word similarity only;
- with embeddings: deterministic pseudo-embeddings, not a model's: the character
  bigrams of a text (NFKC, lower case, letters and digits only) hashed into 1024
  buckets and counted (like sample_data/study_set.sql's), of the question's stem and
  choices (what a host embeds; not its explanation), of a note's title and body, of a
  chunk's content. Cosine similarity is then plain lexical overlap of the whole text.
The target: the current query loses nothing against the stem alone (ratio >= 1).
The questions whose relevant rows were missed, and the lexical query of each, go to
stderr.
"""

import json
import unicodedata
import zlib
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from bench.harness import Bench, Row

SET = Path(__file__).with_name("recall_set.json")
K = 5

# study_card_source_query before issue 10: a question's stem; a note's or document's
# title (the note and document branches are unchanged).
STEM_ONLY = """
CREATE OR REPLACE FUNCTION study_card_source_query(p_kind text, p_id bigint)
RETURNS text
LANGUAGE sql STABLE
SET search_path = public, pg_temp
AS $$
    SELECT CASE p_kind
        WHEN 'question' THEN (SELECT q.stem FROM study_questions q WHERE q.id = p_id)
        WHEN 'subject_note' THEN (SELECT coalesce(nullif(btrim(n.title), ''), left(n.body, 200))
                                    FROM study_subject_notes n WHERE n.id = p_id)
        WHEN 'document' THEN (SELECT coalesce(nullif(btrim(d.title), ''),
                                              (SELECT left(c.content, 200) FROM document_chunks c
                                                WHERE c.document_id = d.id ORDER BY c.ord, c.id LIMIT 1))
                                FROM documents d WHERE d.id = p_id)
    END
$$"""


def pseudo_embedding(text: str) -> str:
    """Hashed character-bigram counts of `text`, as a 1024-dimension vector literal."""
    norm = "".join(ch for ch in unicodedata.normalize("NFKC", text).lower() if ch.isalnum())
    counts = [0] * 1024
    for i in range(len(norm) - 1):
        counts[zlib.crc32(norm[i:i + 2].encode()) % 1024] += 1
    return "[" + ",".join(map(str, counts)) + "]"


def load(conn: psycopg.Connection, data: dict, embeddings: bool) -> tuple[list, dict]:
    """The set as one new user's rows, every question's job claimed. Returns
    ([(question key, job id, {relevant (kind, id)})], {(kind, id): row key})."""
    def vector(text):
        return pseudo_embedding(text) if embeddings else None

    user = conn.execute("INSERT INTO users (email) VALUES (%s) RETURNING id",
                        (f"recall-{'vectors' if embeddings else 'trigram'}@example.com",)).fetchone()[0]
    rows = {}
    for note in data["notes"]:
        rows[note["key"]] = ("subject_note", conn.execute(
            "INSERT INTO study_subject_notes (user_id, title, body, updated_at, embedding)"
            " VALUES (%s, %s, %s, now(), %s::vector) RETURNING id",
            (user, note["title"], note["body"], vector(note["title"] + " " + note["body"]))).fetchone()[0])
    for document in data["documents"]:
        document_id = conn.execute("INSERT INTO documents (user_id, title, updated_at) VALUES (%s, %s, now()) RETURNING id",
                                   (user, document["title"])).fetchone()[0]
        for ord_, chunk in enumerate(document["chunks"]):
            rows[chunk["key"]] = ("document_chunk", conn.execute(
                "INSERT INTO document_chunks (document_id, ord, content, embedding)"
                " VALUES (%s, %s, %s, %s::vector) RETURNING id",
                (document_id, ord_, chunk["content"], vector(chunk["content"]))).fetchone()[0])
    questions = []
    for question in data["questions"]:
        choices = question["choices"]
        shown = question["stem"] + " " + " ".join(choices.values() if isinstance(choices, dict) else choices or [])
        question_id = conn.execute(
            "INSERT INTO study_questions (user_id, stem, choices, answer, ai_explanation, ai_explanation_generated_at,"
            " embedding) VALUES (%s, %s, %s, %s, %s, now(), %s::vector) RETURNING id",
            (user, question["stem"], None if choices is None else Jsonb(choices), question["answer"],
             question["explanation"], vector(shown))).fetchone()[0]
        questions.append((question["key"], question_id, {rows[key] for key in question["relevant"]}))
    conn.execute("SELECT study_card_enqueue(1000)")
    jobs = dict(conn.execute(
        "SELECT j.source_id, j.id FROM study_card_claim('bench-recall', 1000, '1 hour') AS j"
        " WHERE j.source_kind = 'question'").fetchall())
    return [(key, jobs[question_id], relevant) for key, question_id, relevant in questions], \
        {row: key for key, row in rows.items()}


def recall(conn: psycopg.Connection, jobs: list, names: dict, bench: Bench, label: str) -> float:
    """Mean recall@K over the questions; the misses go to stderr."""
    shares = []
    for key, job_id, relevant in jobs:
        got = {(kind, source_id) for _, kind, source_id, *_ in
               conn.execute("SELECT * FROM study_card_gather(%s, %s, p_worker => 'bench-recall')", (job_id, K)).fetchall()[1:]}
        shares.append(len(got & relevant) / len(relevant))
        if got & relevant != relevant:
            query = conn.execute("SELECT study_card_source_query(source_kind, source_id) FROM study_memo_card_jobs"
                                 " WHERE id = %s", (job_id,)).fetchone()[0]
            bench.say(f"    {label}: {key} missed {', '.join(sorted(names[row] for row in relevant - got))}"
                      f" (query: {query!r})")
    return sum(shares) / len(shares)


def run(bench: Bench) -> list[Row]:
    data = json.loads(SET.read_text(encoding="utf-8"))
    items = len(data["notes"]) + sum(len(d["chunks"]) for d in data["documents"])
    relevant = sum(len(q["relevant"]) for q in data["questions"])
    bench.say(f"workload: {len(data['questions'])} questions, {items} notes and chunks, {relevant} of them labelled "
              f"relevant to one question each; recall@{K} of study_card_gather(job, {K})")
    url = bench.database("bench_recall", with_schema=True)
    results = {}
    with psycopg.connect(url, autocommit=True) as conn:
        current = conn.execute(
            "SELECT pg_get_functiondef('study_card_source_query(text, bigint)'::regprocedure)").fetchone()[0]
        # the explanation as study_card_source_query reads it: through the adapter's view
        # (q.explanation) since the host adapter, the host column before it
        explanation = next((name for name in ("q.explanation)", "q.ai_explanation)") if name in current), None)
        if explanation is None:
            raise RuntimeError("study_card_source_query no longer calls study_card_question_query(…, q.explanation)")
        variants = {"stem only": STEM_ONLY,
                    "answer alone": current.replace(explanation, explanation[:-1] + ", 0)"),
                    "current": current,
                    "answer + terms to 200 chars": current.replace(explanation, explanation[:-1] + ", 1000)")}
        for embeddings in (False, True):
            mode = "with embeddings" if embeddings else "trigram alone"
            jobs, names = load(conn, data, embeddings)
            for query, definition in variants.items():
                conn.execute(definition)
                results[mode, query] = recall(conn, jobs, names, bench, f"{mode}, {query}")
                bench.say(f"  {mode:15}  {query:27}  recall@{K} {results[mode, query]:.3f}")
        conn.execute(current)
    bench.drop("bench_recall")

    out = []
    for mode in ("trigram alone", "with embeddings"):
        old, new = results[mode, "stem only"], results[mode, "current"]
        for query in ("stem only", "answer alone", "answer + terms to 200 chars"):
            out.append(Row("recall", f"recall@{K}, {mode}, {query}", f"{results[mode, query]:.3f}"))
        out.append(Row("recall", f"recall@{K}, {mode}, current query", f"{new:.3f}", new / old if old else None,
                       "stem only", ">= 1"))
    return out
