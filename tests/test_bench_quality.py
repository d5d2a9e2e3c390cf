"""The quality benchmark's corpus (bench/quality/) is well formed: every job names an
existing source, every card has a verdict, the quotes of the cards the reviewer keeps
are verbatim. Pure Python, no database: the benchmark itself is `./run bench quality`."""

import copy
import json

import pytest

from bench import quality


@pytest.fixture(scope="module")
def sets():
    return quality.load_sets()


@pytest.fixture(scope="module")
def corpora():
    return quality.load_corpora()


def test_the_corpus_is_well_formed(sets, corpora):
    assert quality.corpus_problems(sets, corpora) == []


def test_the_corpus_has_the_size_and_mix_the_issue_asks_for(corpora):
    verdicts = [v for corpus in corpora.values() for job in corpus["jobs"] for v in job["verdicts"]]
    bad = sum(v["verdict"] == "reject" for v in verdicts)
    assert len(verdicts) >= 150
    assert 0.2 <= bad / len(verdicts) <= 0.3
    assert set(corpora) == {"sample", "second"}
    for corpus in corpora.values():
        assert sum(len(job["verdicts"]) for job in corpus["jobs"]) >= 100


def test_the_second_set_is_a_consistent_study_set(sets):
    second = json.loads(quality.SECOND_SET.read_text(encoding="utf-8"))
    assert 12 <= len(second["questions"]) <= 20 and second["notes"]
    for q in second["questions"]:
        assert q["topic"] in second["topics"], q["stem"]
        assert len(q["choices"]) == 4 and len(set(q["choices"])) == 4, q["stem"]
        assert q["answer"] in q["choices"] or q["answer"] in {"1", "2", "3", "4"}, q["stem"]
        assert len(q["explanation"]) >= 80, q["stem"]
    stems = [q["stem"] for q in sets["sample"]["questions"] + sets["second"]["questions"]]
    assert len(stems) == len(set(stems))


def test_the_sample_set_is_read_from_its_sql(sets):
    sample = sets["sample"]
    assert len(sample["questions"]) == 42 and len(sample["notes"]) == 3 and len(sample["chunks"]) == 10
    assert all(isinstance(q["choices"], list) and q["explanation"] for q in sample["questions"])
    assert "Banker's Algorithm" in " ".join(q["explanation"] for q in sample["questions"])  # '' unescaped


def mutated(corpora, change) -> dict:
    broken = copy.deepcopy(corpora)
    change(broken["second"]["jobs"][0])
    return broken


@pytest.mark.parametrize("change, complaint", [
    (lambda job: job["verdicts"].pop(), "verdicts"),
    (lambda job: job["source"].update(key="없는 문제"), "no unique question"),
    (lambda job: job["verdicts"][0].update(verdict="maybe"), "keep/reject"),
    (lambda job: job["verdicts"][-1].update(verdict="reject", **{"class": "nonsense"}), "unknown class"),
    (lambda job: job["reply"]["cards"][0]["evidence"][0].update(quote="원문에 없는 문장이다."), "not verbatim"),
    (lambda job: job["reply"]["cards"][0]["evidence"][0].update(source={"note": "없는 노트"}), "does not have"),
])
def test_a_broken_corpus_is_reported(sets, corpora, change, complaint):
    assert corpora["second"]["jobs"][0]["verdicts"][0]["verdict"] == "keep"
    problems = quality.corpus_problems(sets, mutated(corpora, change))
    assert len(problems) == 1 and complaint in problems[0], problems


def test_a_quote_must_lie_within_one_part_of_the_question(sets):
    """Quotes are checked part by part (stem, each choice, explanation), so they stay
    valid however study_card_source_text lays the parts out and labels them."""
    q = sets["sample"]["questions"][0]
    spanning = q["stem"][-5:] + q["choices"][0]
    parts = quality.source_parts(q, "question")
    assert not any(quality.norm(spanning) in quality.norm(part) for part in parts)
    assert any(quality.norm(q["choices"][1]) in quality.norm(part) for part in parts)
