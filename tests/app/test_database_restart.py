"""PostgreSQL restarted in the middle of work: pages answer a clean 503 while it is down and
work again once it is back (same login, no restart of the app); the engine worker keeps going
and every due timer fires exactly once.

The test runs its OWN PostgreSQL server (initdb into a temporary folder, a free port), so the
shared server the rest of the suite uses is never touched.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import String, create_engine, func, select
from sqlalchemy.orm import Session

from app import clock
from app.engine.models import ProcessInstance, TimerRow
from app.platform.models import AuditEvent

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), Path("/usr/lib/postgresql/15/bin"))
FIXTURES = ROOT / "tests" / "app" / "engine" / "fixtures"
INSTANCES = 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(*command: str) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the ``postgres`` system user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


class PrivateServer:
    def __init__(self, folder: Path):
        self.data, self.port = folder / "data", _free_port()
        folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
        subprocess.run(_as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                                    "--no-sync"), check=True, capture_output=True, timeout=120)
        self.log = folder / "server.log"

    def start(self) -> None:
        subprocess.run(_as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-o",
                                    f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off",
                                    "start"), check=True, capture_output=True, timeout=60)

    def stop(self) -> None:
        subprocess.run(_as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"),
                       check=False, capture_output=True, timeout=60)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"


@pytest.fixture
def server():
    if not (PG_BIN / "initdb").exists():
        pytest.fail("PostgreSQL server binaries are part of the suite (scripts/services.sh installs them)")
    # outside pytest's private (0700, root-owned) temp tree, which the postgres user cannot enter
    folder = Path(tempfile.mkdtemp(prefix="estateflow-pg-"))
    pg = PrivateServer(folder)
    pg.start()
    yield pg
    pg.stop()
    shutil.rmtree(folder, ignore_errors=True)


def _seed(url: str, var_dir: Path) -> None:
    from app.domains.estate.models import Community
    from app.engine.deploy import deploy_process
    from app.engine.runtime import start_instance
    from tests.conftest import _seed_demo

    _seed_demo(url, var_dir)
    engine = create_engine(url)
    clock.freeze(datetime(2026, 3, 2, 9, 0))  # timers due a day later: long past for the worker
    try:
        with Session(engine) as s:
            community = s.scalars(select(Community).order_by(Community.id)).first()
            deploy_process(s, "wait_timer.bpmn", (FIXTURES / "wait_timer.bpmn").read_bytes(), "test",
                           "consultant", set())
            for i in range(INSTANCES):
                start_instance(s, "wait_timer", community.id, f"R-{i}")
            s.commit()
    finally:
        clock.reset()
        engine.dispose()


def _timer_counts(url: str) -> tuple[int, int, int]:
    """Fired timers, ``timer.fire`` audit rows and completed instances — of this test's instances."""
    engine = create_engine(url)
    try:
        with Session(engine) as s:
            ours = select(ProcessInstance.id).where(ProcessInstance.business_key.like("R-%"))
            fired = s.scalar(select(func.count()).select_from(TimerRow)
                             .where(TimerRow.status == "fired", TimerRow.instance_id.in_(ours)))
            audit = s.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "timer.fire",
                                    AuditEvent.target_id.in_(select(func.cast(ProcessInstance.id, String))
                                                             .where(ProcessInstance.business_key.like("R-%")))))
            done = s.scalar(select(func.count()).select_from(ProcessInstance)
                            .where(ProcessInstance.status == "completed", ProcessInstance.business_key.like("R-%")))
        return fired, audit, done
    finally:
        engine.dispose()


def _login(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=20, follow_redirects=False)
    page = client.get("/login/")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
    answer = client.post("/login/", data={"username": "manager_yc", "password": "demo1234", "csrf_token": token})
    assert answer.status_code == 302, answer.text[:300]
    return client


def _wait(predicate, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    return predicate()


@pytest.mark.timeout(600)
def test_a_postgresql_restart_mid_run_gives_clean_503s_then_everything_recovers(server, tmp_path):
    url = server.url()
    var_dir = tmp_path / "var"
    _seed(url, var_dir)
    env = {**os.environ, "ESTATEFLOW_DATABASE_URL": url, "ESTATEFLOW_VAR_DIR": str(var_dir),
           "ESTATEFLOW_SECRET_KEY": "r" * 64, "ESTATEFLOW_WEB_WORKERS": "1", "ESTATEFLOW_WEB_THREADS": "2",
           "ESTATEFLOW_METER_POLL_SECONDS": "0", "ESTATEFLOW_MQTT_URL": "mqtt://127.0.0.1:1"}
    cli = [sys.executable, "-m", "app.cli"]
    port = _free_port()
    web_log, worker_log = (tmp_path / "web.log").open("w"), (tmp_path / "worker.log").open("w")
    web = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env, cwd=ROOT, stdout=web_log,
                           stderr=subprocess.STDOUT)
    worker = subprocess.Popen([*cli, "worker", "--interval", "0.1"], env=env, cwd=ROOT, stdout=worker_log,
                              stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        def up():
            try:
                return httpx.get(f"{base}/login/", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        assert _wait(up, 120), (tmp_path / "web.log").read_text()[-2000:]
        client = _login(base)
        assert client.get("/").status_code == 200

        assert _wait(lambda: _timer_counts(url)[0] > 0, 120), (tmp_path / "worker.log").read_text()[-2000:]
        server.stop()  # mid-run: the worker has fired some timers, not all
        down = client.get("/", headers={"Accept-Language": "zh-CN"})
        assert down.status_code == 503, down.text[:500]
        assert "Traceback" not in down.text and "psycopg" not in down.text
        assert down.headers.get("Retry-After")
        api = client.get("/api/v1/dashboard/", headers={"Accept": "application/json"})
        assert api.status_code == 503 and "message" in api.json()
        time.sleep(2)  # the worker sweeps against a dead server for a while
        server.start()

        back = _wait(lambda: client.get("/").status_code == 200, 30)
        assert back, "pages did not recover after PostgreSQL came back"
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
        assert web.poll() is None
        assert _wait(lambda: _timer_counts(url) == (INSTANCES, INSTANCES, INSTANCES), 240), (
            _timer_counts(url), (tmp_path / "worker.log").read_text()[-3000:])
    finally:
        for process in (worker, web):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
    assert "Traceback" not in (tmp_path / "web.log").read_text()
