"""The cards in a learner's hands: a user's active cards as an Anki deck.

    python -m study_cards.export anki --user ID [--topic ID] deck.apkg
    python -m study_cards.export anki --user ID [--topic ID] --format tsv cards.txt

DATABASE_URL names the study database (or --database-url). docs/export.md is the manual.

.apkg (genanki, the project's `anki` extra): qa cards are Basic notes (Front: the cue;
Back: the answer), cloze cards Cloze notes (Text: the sentence with its {{c1::…}}
deletions); every note also has the fields Evidence (the verbatim quotes, each with its
source) and Source (the topic and the question stem, note or document title), shown on
the back. One subdeck per topic ("<deck>::<topic>"); tags name the topic, the card type
and the source kind. --format tsv writes the same notes for Anki's plain-text import
(File > Import), with Anki's file headers, on Anki's own Basic and Cloze note types:
Front/Back and Text/Back Extra, the evidence and source on the back.

A note's GUID is derived from the card id (and a namespace, by default the database's
name, so that two databases' card 7 stay apart). A card that survives a regenerate keeps
its id (commit_cards carries a reproduced card forward), so importing a newer export
updates the learner's note, with its review history, instead of adding a second one.
Retired cards (superseded by a newer explanation, or deleted by the user) are not in
the export; Anki keeps what an earlier import brought in (docs/export.md says how to
find and remove them).

The cards are read through the project's SQL (study_memo_cards_active, the host
adapter's views via study_card_source and study_card_host_topics), never the host's tables.
"""

import argparse
import csv
import hashlib
import html
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg

DEFAULT_DECK = "암기 카드"
NO_TOPIC = "(주제 없음)"
# Stable ids: Anki matches note types by id, so every export must use the same ones.
BASIC_MODEL_ID = 1_607_392_319
CLOZE_MODEL_ID = 1_607_392_320
CSS = """.card { font-family: sans-serif; font-size: 20px; text-align: left; color: black; background: white; }
.evidence { font-size: 15px; color: #444; margin-top: 1em; }
.evidence li { margin-bottom: .4em; }
.source { font-size: 13px; color: #777; margin-top: .8em; }
.cloze { font-weight: bold; color: blue; }"""
BACK_EXTRA = '<div class="evidence">{{Evidence}}</div><div class="source">{{Source}}</div>'

CARDS_QUERY = """
SELECT c.id, c.card_type, c.cue, c.answer, c.cloze_text, c.source_kind, c.source_id, c.source_title,
       c.evidence, s.topic_id, t.name AS topic_name,
       (SELECT jsonb_agg(jsonb_build_object('name', CASE e->>'source_kind'
                                                        WHEN 'document_chunk'  -- its document's title
                                                        THEN study_card_source_title(e->>'source_kind', (e->>'source_id')::bigint)
                                                        ELSE study_card_source_name(e->>'source_kind', (e->>'source_id')::bigint)
                                                    END) ORDER BY o)
          FROM jsonb_array_elements(c.evidence) WITH ORDINALITY AS x(e, o)) AS evidence_sources
  FROM study_memo_cards_active c
  LEFT JOIN LATERAL study_card_source(c.source_kind, c.source_id) AS s ON true
  LEFT JOIN study_card_host_topics t ON t.id = s.topic_id
 WHERE c.user_id = %(user)s AND (%(topic)s::bigint IS NULL OR s.topic_id = %(topic)s)
 ORDER BY t.name NULLS LAST, c.source_kind, c.source_id, c.id
"""

KIND_NAMES = {"question": "문제", "subject_note": "노트", "document": "문서", "document_chunk": "문서"}


@dataclass
class Note:
    """One card as an Anki note."""

    card_id: int
    guid: str
    card_type: str  # qa | cloze
    deck: str
    fields: list[str]  # Basic: Front, Back; Cloze: Text; then Evidence, Source (HTML)
    tags: list[str]


def guid_for(namespace: str, card_id: int) -> str:
    """The note's GUID, genanki.guid_for(namespace, card_id): base91 of the first 8 bytes
    of the SHA-256 of "namespace__card_id" (the alphabet Anki's own GUIDs use), here so
    that the plain-text export needs no genanki."""
    alphabet = ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                "!#$%&()*+,-./:;<=>?@[]^_`{|}~")
    number = int.from_bytes(hashlib.sha256(f"{namespace}__{card_id}".encode()).digest()[:8], "big")
    guid = ""
    while number:
        number, digit = divmod(number, len(alphabet))
        guid = alphabet[digit] + guid
    return guid or alphabet[0]


def tag(text: str) -> str:
    """An Anki tag: no white space (Anki splits tags on it)."""
    return "_".join(text.split()) or "_"


def evidence_html(evidence: list[dict], sources: list[dict] | None) -> str:
    items = []
    for item, source in zip(evidence, sources or [{}] * len(evidence)):
        where = KIND_NAMES.get(item["source_kind"], item["source_kind"])
        name = (source or {}).get("name")
        label = f"{where}: {name}" if name else where
        items.append(f"<li>“{html.escape(item['quote'])}” <small>({html.escape(label)})</small></li>")
    return "<ul>" + "".join(items) + "</ul>" if items else ""


def source_html(topic: str | None, kind: str, title: str | None) -> str:
    parts = [f"주제: {html.escape(topic)}"] if topic else []
    parts.append(f"{KIND_NAMES.get(kind, kind)}: {html.escape(' '.join((title or '').split()))}")
    return "<br>".join(parts)


def read_notes(conn: psycopg.Connection, user_id: int, topic_id: int | None, deck: str,
               namespace: str | None) -> list[Note]:
    """The user's active cards (of one topic) as notes."""
    if namespace is None:
        namespace = "study-memo-cards:" + conn.execute("SELECT current_database()").fetchone()[0]
    notes = []
    for row in conn.execute(CARDS_QUERY, {"user": user_id, "topic": topic_id}).fetchall():
        (card_id, card_type, cue, answer, cloze_text, kind, _source_id, title, evidence, _topic_id, topic,
         evidence_sources) = row
        extra = [evidence_html(evidence, evidence_sources), source_html(topic, kind, title)]
        if card_type == "qa":
            fields = [html.escape(cue), html.escape(answer)] + extra
        else:
            fields = [html.escape(cloze_text)] + extra
        tags = [f"topic::{tag(topic or NO_TOPIC)}", f"card::{card_type}", f"source::{kind}"]
        notes.append(Note(card_id, guid_for(namespace, card_id), card_type,
                          f"{deck}::{topic or NO_TOPIC}", fields, tags))
    return notes


def stable_id(*parts) -> int:
    """A deck id from its name: Anki matches decks by id, so the same name gives the same."""
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:6], "big") | 1 << 40


def write_apkg(notes: list[Note], path: Path, deck: str) -> None:
    try:
        import genanki
    except ImportError:
        raise SystemExit("the .apkg export needs genanki: pip install 'study-memo-cards[anki]'"
                         " (or use --format tsv, which needs nothing)") from None
    basic = genanki.Model(
        BASIC_MODEL_ID, "Study cards: Basic",
        fields=[{"name": "Front"}, {"name": "Back"}, {"name": "Evidence"}, {"name": "Source"}],
        templates=[{"name": "Card 1", "qfmt": "{{Front}}",
                    "afmt": '{{FrontSide}}<hr id="answer">{{Back}}' + BACK_EXTRA}],
        css=CSS)
    cloze = genanki.Model(
        CLOZE_MODEL_ID, "Study cards: Cloze",
        fields=[{"name": "Text"}, {"name": "Evidence"}, {"name": "Source"}],
        templates=[{"name": "Cloze", "qfmt": "{{cloze:Text}}", "afmt": "{{cloze:Text}}" + BACK_EXTRA}],
        css=CSS, model_type=genanki.Model.CLOZE)
    decks: dict[str, genanki.Deck] = {}
    for note in notes:
        if note.deck not in decks:
            decks[note.deck] = genanki.Deck(stable_id("deck", note.deck), note.deck)
        decks[note.deck].add_note(genanki.Note(model=basic if note.card_type == "qa" else cloze,
                                               fields=note.fields, tags=note.tags, guid=note.guid))
    if not decks:  # an empty deck rather than no file: the learner sees there is nothing yet
        decks[deck] = genanki.Deck(stable_id("deck", deck), deck)
    genanki.Package(list(decks.values())).write_to_file(str(path))


def write_tsv(notes: list[Note], path: Path) -> None:
    """Anki's plain-text import (Anki 2.1.55 and later read these headers): note type,
    deck, the two fields of Anki's Basic / Cloze note types, tags, GUID. The GUID is not
    the first column: it may begin with '#', which starts a comment line."""
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("#separator:tab\n#html:true\n#notetype column:1\n#deck column:2\n#tags column:5\n"
                  "#guid column:6\n")
        writer = csv.writer(out, delimiter="\t", lineterminator="\n")
        for note in notes:
            evidence, source = note.fields[-2:]
            extra = f'<div class="evidence">{evidence}</div><div class="source"><small>{source}</small></div>'
            if note.card_type == "qa":
                front, back, notetype = note.fields[0], f"{note.fields[1]}<hr>{extra}", "Basic"
            else:
                front, back, notetype = note.fields[0], extra, "Cloze"
            writer.writerow([notetype, note.deck, front, back, " ".join(note.tags), note.guid])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m study_cards.export",
                                     description="export a user's active cards (docs/export.md)")
    commands = parser.add_subparsers(dest="command", required=True)
    anki = commands.add_parser("anki", help="an Anki deck (.apkg) or Anki's plain-text import (--format tsv)")
    anki.add_argument("--user", type=int, required=True, help="the user whose active cards are exported")
    anki.add_argument("--topic", type=int, help="only the cards of this topic (its id)")
    anki.add_argument("--format", choices=("apkg", "tsv"), default="apkg")
    anki.add_argument("--deck", default=DEFAULT_DECK, help=f"the parent deck's name (default {DEFAULT_DECK!r})")
    anki.add_argument("--namespace", help="what note GUIDs are derived from with the card id"
                                          " (default: study-memo-cards:<database name>); keep it when the"
                                          " database moves, so re-imports update the same notes")
    anki.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), help="default: $DATABASE_URL")
    anki.add_argument("path", type=Path, help="the file to write (deck.apkg, cards.txt)")
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("set DATABASE_URL or pass --database-url")
    with psycopg.connect(args.database_url) as conn:
        notes = read_notes(conn, args.user, args.topic, args.deck, args.namespace)
    if args.format == "apkg":
        write_apkg(notes, args.path, args.deck)
    else:
        write_tsv(notes, args.path)
    counts = {kind: sum(note.card_type == kind for note in notes) for kind in ("qa", "cloze")}
    print(f"{args.path}: {len(notes)} notes ({counts['qa']} Basic, {counts['cloze']} Cloze)"
          f" in {len({note.deck for note in notes})} decks", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
