"""docker-compose.yml and its Dockerfile: the file passes `docker-compose config` (Debian's
docker-compose checks a file without a Docker engine; .ci/run installs it, and the
compose tests skip only where the command is missing)."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = shutil.which("docker-compose")
needs_compose = pytest.mark.skipif(COMPOSE is None, reason="docker-compose is not installed (.ci/run installs it)")


def compose(*args: str, **env: str) -> str:
    """`docker-compose ARGS` on the project's file, with only the given settings in the environment."""
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run([COMPOSE, "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml"), *args],
                          env=clean, check=True, capture_output=True, text=True).stdout


def service_block(config: str, name: str) -> str:
    """The lines of one service in `docker-compose config` output."""
    match = re.search(rf"^  {name}:\n((?:    .*\n|\n)*)", config, re.MULTILINE)
    assert match, f"service {name} missing from:\n{config}"
    return match.group(1)


@needs_compose
def test_compose_file_is_valid_and_has_the_three_services():
    assert sorted(compose("config", "--services").split()) == ["db", "schema", "worker"]
    assert compose("config", "--volumes").split() == ["pgdata"]


@needs_compose
def test_postgres_is_pinned_and_utf8_with_a_hangul_aware_ctype():
    db = service_block(compose("config"), "db")
    image = re.search(r"image: (\S+)", db).group(1)
    assert re.fullmatch(r"pgvector/pgvector:\d+\.\d+\.\d+-pg1[6-9]", image), image
    assert "POSTGRES_INITDB_ARGS: --encoding=UTF8 --locale=C.UTF-8" in db
    assert "pg_isready" in db


@needs_compose
def test_schema_runs_once_before_the_worker():
    config = compose("config")
    schema = service_block(config, "schema")
    assert "- study_cards.schema\n    - apply" in schema and 'restart: "no"' in schema
    assert "condition: service_healthy" in schema
    worker = service_block(config, "worker")
    assert "condition: service_completed_successfully" in worker
    assert "- worker.py" in worker


@needs_compose
def test_worker_reaches_the_hosts_mlx_server_by_default_and_takes_overrides():
    worker = service_block(compose("config"), "worker")
    assert "MLX_BASE_URL: http://host.docker.internal:8080/v1" in worker
    assert "host.docker.internal:host-gateway" in worker
    assert "DATABASE_URL: postgresql://study:study@db:5432/study" in worker
    worker = service_block(compose("config", MLX_BASE_URL="http://mac.local:8080/v1", POSTGRES_PASSWORD="s3cret"),
                           "worker")
    assert "MLX_BASE_URL: http://mac.local:8080/v1" in worker
    assert "DATABASE_URL: postgresql://study:s3cret@db:5432/study" in worker


def test_the_image_holds_everything_the_schema_command_and_the_worker_read():
    copied = set()
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            copied.update(Path(source).name for source in line.split()[1:-1])
    assert {"pyproject.toml", "README.md", "worker.py", "study_cards", "migrations", "sql"} <= copied
    from study_cards import schema
    assert {schema.MIGRATIONS.name, schema.SQL_DIR.name} <= copied
