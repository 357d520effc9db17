"""The command line and a database that is down, unknown, or not migrated; and the README's
"Running on PostgreSQL" section run as written, on a role and database that did not exist."""
from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.migrate import upgrade
from tests.conftest import PG_ADMIN_URL

README = Path(__file__).resolve().parents[2] / "README.md"
ROOT = README.parent


def _estateflow(db_url: str, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "ESTATEFLOW_DATABASE_URL": db_url}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], check=False, capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=ROOT)


def _one_clear_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


PG_SERVER = PG_ADMIN_URL.rsplit("/", 1)[0].split("@", 1)[1]  # 127.0.0.1:5432


@pytest.mark.parametrize("args", [("init",), ("serve", "--port", "1"), ("worker", "--once"),
                                  ("import", "households", "--community", "YC", "README.md")])
def test_a_database_server_that_is_down_is_one_line(args):
    line = _one_clear_line(_estateflow("postgresql+psycopg://estateflow@127.0.0.1:1/estateflow", *args))
    assert line == ("estateflow: cannot reach the database server at 127.0.0.1:1/estateflow: "
                    "is PostgreSQL running and listening there?")


def test_a_role_that_does_not_exist_points_to_db_create():
    url = f"postgresql+psycopg://nobody_{uuid.uuid4().hex[:8]}@{PG_SERVER}/nothing"
    line = _one_clear_line(_estateflow(url, "init"))
    assert "does not exist" in line and "`estateflow db create`" in line


def test_an_empty_database_is_refused_until_init(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    for args in (("serve", "--port", "1"), ("worker", "--once")):
        line = _one_clear_line(_estateflow(url, *args))
        assert line.endswith("has no estateflow schema yet: run `estateflow init`")


def test_a_schema_behind_this_version_names_both_revisions(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0001")
    line = _one_clear_line(_estateflow(url, "serve", "--port", "1"))
    assert re.search(r"is at revision 0001, this version needs \w+: run `estateflow init` to upgrade it", line)


def test_a_missing_sqlite_folder_is_one_line():
    line = _one_clear_line(_estateflow("sqlite:////nonexistent-folder/x.db", "init"))
    assert "cannot open the SQLite file /nonexistent-folder/x.db" in line


def _readme_postgres_commands() -> list[str]:
    section = README.read_text(encoding="utf-8").split("## Running on PostgreSQL", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.strip().splitlines() if line.strip()]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.timeout(600)
def test_the_readme_postgres_section_works_as_written_on_a_fresh_role_and_database(tmp_path):
    """The section's commands, run in order, with only the role/database name made unique: the
    role and database do not exist before, the served app answers its login page after."""
    name = f"ef_readme_{uuid.uuid4().hex[:8]}"
    commands = _readme_postgres_commands()
    assert [c.split()[0] for c in commands] == ["export", "export", ".venv/bin/estateflow",
                                               ".venv/bin/estateflow", ".venv/bin/estateflow"]
    env = dict(os.environ)
    for command in commands[:2]:
        key, value = command.removeprefix("export ").split("=", 1)
        if value.startswith("$("):
            value = subprocess.run(value[2:-1], shell=True, capture_output=True, text=True,
                                   check=True).stdout.strip()
        env[key] = value
    documented = make_url(env["ESTATEFLOW_DATABASE_URL"])
    assert documented.username == documented.database == "estateflow"
    server = make_url(PG_ADMIN_URL)
    env["ESTATEFLOW_DATABASE_URL"] = documented.set(
        username=name, database=name, host=server.host, port=server.port).render_as_string(hide_password=False)
    env["ESTATEFLOW_VAR_DIR"] = str(tmp_path)
    estateflow = [str(Path(sys.executable).with_name("estateflow"))]
    port = _free_port()
    try:
        for command in commands[2:4]:
            args = shlex.split(command)[1:]
            done = subprocess.run(estateflow + args, env=env, cwd=ROOT, check=False, capture_output=True, text=True,
                                  timeout=300)
            assert done.returncode == 0, (command, done.stdout, done.stderr)
        serve_args = shlex.split(commands[4])[1:] + ["--port", str(port)]
        server_process = subprocess.Popen(estateflow + serve_args, env=env, cwd=ROOT,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 90
            status = None
            while time.monotonic() < deadline and status is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5) as reply:
                        status = reply.status
                except OSError:
                    assert server_process.poll() is None, server_process.stderr.read().decode()
                    time.sleep(0.5)
            assert status == 200
        finally:
            server_process.terminate()
            server_process.wait(timeout=30)
    finally:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
        admin.dispose()
