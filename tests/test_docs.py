"""The documentation tells the truth about the tree: every command (`./run X`,
`python -m M`, `python worker.py --flag`) and every repository path that README.md and
docs/*.md mention exists, every link resolves (anchors included), and the psql cookbook
of docs/operations.md runs against a migrated database."""

import ast
import importlib.util
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from psycopg.types.json import Jsonb

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PAGE_IDS = [str(page.relative_to(ROOT)) for page in PAGES]

FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)

PYTHON = r"(?:python3?|\.venv/bin/python)"
RUN_COMMAND = re.compile(r"(?<![\w./-])\./run[ \t]+([a-z][\w-]*)((?:[ \t]+[^\s`|;&]+)*)")
PYTHON_MODULE = re.compile(rf"(?<![\w/-]){PYTHON}[ \t]+-m[ \t]+([\w.]+)")
WORKER = re.compile(rf"(?<![\w/-]){PYTHON}[ \t]+worker\.py((?:[ \t]+--[\w-]+)*)")
# A path in the repository: under one of its top-level directories, or a file at the top.
REPO_DIRS = ("\\.ci", "bench", "deploy", "docs", "migrations", "sample_data", "sql", "study_cards", "tests")
REPO_PATH = re.compile(rf"^(?:(?:{'|'.join(REPO_DIRS)})(?:/[\w.*-]*)*"
                       r"|[\w-]+(?:\.[\w-]+)*\.(?:md|py|sql|yml|yaml|ini|toml|json|service|example)"
                       r"|Dockerfile|run)$")


def split_page(text: str) -> tuple[str, list[tuple[str, str]]]:
    """(the prose with fenced blocks blanked, [(language, block text)])."""
    blocks = [(m.group(1), m.group(2)) for m in FENCE.finditer(text)]
    return FENCE.sub("\n", text), blocks


def code_tokens(text: str) -> set[str]:
    """Whitespace-separated words of inline code spans and fenced blocks, without the
    punctuation around them."""
    prose, blocks = split_page(text)
    pieces = INLINE_CODE.findall(prose) + [body for _, body in blocks]
    return {word.strip("\"'`,;()[]<>") for piece in pieces for word in piece.split()} - {""}


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def anchors(page: Path) -> set[str]:
    prose, _ = split_page(page.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    result = set()
    for heading in HEADING.findall(prose):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        result.add(base if n == 0 else f"{base}-{n}")
    return result


@cache
def run_commands() -> dict[str, str | None]:
    """The commands ./run knows, each with the module it runs (`python -m M`), if any."""
    script = (ROOT / "run").read_text(encoding="utf-8")
    commands: dict[str, str | None] = {"help": None}
    for match in re.finditer(r"^[ \t]+([a-z][\w|-]*)\)\s*\n(.*?);;", script, re.M | re.S):
        module = re.search(r"-m[ \t]+([\w.]+)", match.group(2))
        for name in match.group(1).split("|"):
            commands[name] = module.group(1) if module else None
    return commands


@cache
def benchmark_names() -> set[str]:
    tree = ast.parse((ROOT / "bench" / "__main__.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "BENCHMARKS" for t in node.targets):
            return {key.value for key in node.value.keys}
    return set()


@cache
def help_text(*command: str) -> str:
    done = subprocess.run([sys.executable, *command, "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT)})
    assert done.returncode == 0, f"{' '.join(command)} --help failed:\n{done.stderr}"
    return done.stdout


def module_exists(module: str) -> bool:
    """A module of the repository (by its file), or one importable here (venv, pip)."""
    parts = module.split(".")
    if (ROOT / parts[0]).is_dir() or (ROOT / f"{parts[0]}.py").is_file():
        base = ROOT.joinpath(*parts)
        return base.with_suffix(".py").is_file() or (base / "__main__.py").is_file()
    return importlib.util.find_spec(module) is not None


def test_the_pages_exist():
    assert (ROOT / "README.md").is_file()
    names = {page.name for page in PAGES}
    assert {"architecture.md", "queue.md", "cards.md", "worker.md", "operations.md", "host-adapter.md"} <= names
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) < 200


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_commands_exist(page):
    text = page.read_text(encoding="utf-8")
    problems = []
    known = run_commands()
    for name, args in RUN_COMMAND.findall(text):
        if name not in known:
            problems.append(f"./run {name}: ./run has no such command (it knows {', '.join(sorted(known))})")
            continue
        words = args.split()
        if name == "bench":
            problems += [f"./run bench {word}: no such benchmark" for word in words
                         if re.fullmatch(r"[a-z_]+", word) and word not in benchmark_names()]
        for flag in (word for word in words if word.startswith("--")):
            if known[name] and flag not in help_text("-m", known[name]):
                problems.append(f"./run {name} {flag}: not an option of python -m {known[name]}")
    for module in PYTHON_MODULE.findall(text):
        if not module_exists(module):
            problems.append(f"python -m {module}: no such module")
    for flags in WORKER.findall(text):
        assert (ROOT / "worker.py").is_file()
        problems += [f"python worker.py {flag}: not an option" for flag in flags.split()
                     if flag not in help_text("worker.py")]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_paths_exist(page):
    problems = []
    for token in sorted(code_tokens(page.read_text(encoding="utf-8"))):
        path = token.rstrip(".:")
        if not REPO_PATH.match(path):
            continue
        if "*" in path:
            if not list(ROOT.glob(path)):
                problems.append(f"{token}: matches no file")
        elif not (ROOT / path).exists():
            problems.append(f"{token}: no such file or directory")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_links_resolve(page):
    prose, _ = split_page(page.read_text(encoding="utf-8"))
    problems = []
    for target in LINK.findall(prose):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            problems.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            problems.append(f"{target}: no heading with that anchor in {linked.relative_to(ROOT)}")
    assert not problems, "\n".join(problems)


def test_no_section_markers():
    for page in PAGES:
        assert "<!-- section" not in page.read_text(encoding="utf-8"), page


# -- the psql cookbook ---------------------------------------------------------------------

def cookbook() -> tuple[dict[str, str], list[str]]:
    """The cookbook of docs/operations.md: its psql variables (\\set name value) and its
    SQL statements, in order, comments removed."""
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    section = re.search(r"^## psql cookbook\n(.*?)(?=^## )", text, re.S | re.M)
    assert section, "docs/operations.md has no '## psql cookbook' section"
    _, blocks = split_page(section.group(1))
    variables = dict(re.findall(r"^\\set[ \t]+(\w+)[ \t]+(\S+)", section.group(1), re.M))
    statements = [statement.strip()
                  for language, body in blocks if language == "sql"
                  for statement in re.sub(r"--[^\n]*", "", body).split(";") if statement.strip()]
    return variables, statements


def cookbook_rows(db) -> dict[str, int]:
    """Rows for every variable of the cookbook, made through the real functions: a
    question whose job completed with one card kept, one dropped and a review flag; a
    question whose job failed; a document; their topic."""
    user = db.execute("INSERT INTO users (email) VALUES ('cookbook@example.com') RETURNING id").fetchone()[0]
    topic = db.execute("INSERT INTO study_topics (user_id, name) VALUES (%s, '데이터베이스') RETURNING id",
                       (user,)).fetchone()[0]

    def question(stem: str, explanation: str) -> tuple[int, int]:
        question_id = db.execute(
            "INSERT INTO study_questions (user_id, topic_id, stem, choices, answer, ai_explanation,"
            " ai_explanation_generated_at) VALUES (%s, %s, %s, %s, %s, %s, now()) RETURNING id",
            (user, topic, stem, Jsonb(["에드거 커드", "피터 첸"]), "1", explanation)).fetchone()[0]
        job_id = db.execute("SELECT id FROM study_card_claim('cookbook')").fetchone()[0]
        return question_id, job_id

    question_id, job_id = question("관계형 모델을 제안한 사람은?", "관계형 모델은 1970년 에드거 커드가 제안했다.")
    db.execute("SELECT * FROM study_card_gather(%s, p_worker => 'cookbook')", (job_id,)).fetchall()
    quote = [{"source": "S1", "quote": "관계형 모델은 1970년 에드거 커드가 제안했다"}]
    report = db.execute("SELECT commit_cards(%s, 'cookbook', %s)", (job_id, Jsonb({
        "cards": [{"type": "qa", "cue": "관계형 모델을 제안한 사람은?", "answer": "에드거 커드", "evidence": quote},
                  {"type": "qa", "cue": "관계형 모델이 제안된 해는?", "answer": "1972년", "evidence": quote}],
        "needs_review": {"reason": "해설의 연도를 확인할 것"}}),)).fetchone()[0]
    assert report["status"] == "completed" and len(report["kept"]) == 1 and len(report["dropped"]) == 1, report

    _, failed_job = question("E-R 모델을 제안한 사람은?", "E-R 모델은 피터 첸이 제안했다.")
    db.execute("UPDATE study_memo_card_jobs SET max_attempts = 1 WHERE id = %s", (failed_job,))
    assert db.execute("SELECT study_card_fail(%s, 'cookbook', 'llm_timeout', 'no answer')",
                      (failed_job,)).fetchone()[0] == "failed"

    document_id = db.execute("INSERT INTO documents (user_id, title) VALUES (%s, '정규화 강의') RETURNING id",
                             (user,)).fetchone()[0]
    db.execute("INSERT INTO document_chunks (document_id, ord, content) VALUES (%s, 0, %s)",
               (document_id, "제2정규형은 부분 함수 종속을 제거한다."))
    return {"question_id": question_id, "document_id": document_id, "topic_id": topic,
            "job_id": failed_job, "card_id": report["kept"][0]}


def test_the_psql_cookbook_runs(db):
    variables, statements = cookbook()
    assert statements, "the cookbook has no ```sql block"
    values = cookbook_rows(db)
    assert set(variables) <= set(values), f"the test has no row for {set(variables) - set(values)}"
    results = {}
    for statement in statements:
        used = set(re.findall(r"(?<![:\w]):(\w+)", statement))
        assert used <= set(variables), f"{used - set(variables)} not \\set in the cookbook:\n{statement}"
        sql = re.sub(r"(?<![:\w]):(\w+)", lambda m: str(values[m.group(1)]), statement)
        try:
            cursor = db.execute(sql)
        except Exception as error:
            pytest.fail(f"the cookbook's statement failed: {error}\n{statement}")
        results[statement] = cursor.fetchall() if cursor.description else None
    # The variables point at the rows they are meant to.
    assert results.get("SELECT study_card_retry(:job_id)") == [(True,)]
    assert results.get("SELECT study_card_delete(:card_id)") == [(True,)]
