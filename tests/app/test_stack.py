"""``estateflow stack`` brings the whole stack up on loopback with one command — PostgreSQL
database, Mosquitto, gunicorn behind nginx, two engine workers, a Prefect server with a process
work pool — and a journey runs against it through nginx: a resident reports a repair with a
photo, the technician finds it dispatched to him in his inbox, and a module schedule's Prefect
deployment runs its flow to completion. Ctrl-C (SIGTERM) stops every part."""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PG_ADMIN_URL
from tests.domains.repair.test_views import _png

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def _login(base: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    token = _csrf(client.get("/login/").text)
    answer = client.post("/login/", data={"username": username, "password": "demo1234", "csrf_token": token})
    assert answer.status_code == 302, answer.text[:300]
    return client


def _wait_for_line(log: Path, needle: str, process: subprocess.Popen, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        content = log.read_text(errors="replace") if log.exists() else ""
        if needle in content:
            return content
        assert process.poll() is None, content[-3000:]
        time.sleep(1)
    raise AssertionError(f"no {needle!r} within {seconds} s: {log.read_text(errors='replace')[-3000:]}")


def _prefect(api: str, path: str, body: dict | None = None, method: str = "POST"):
    answer = httpx.request(method, f"{api}{path}", json=body, timeout=30)
    answer.raise_for_status()
    return answer.json()


@pytest.mark.timeout(900)
def test_one_command_brings_up_the_stack_and_a_journey_runs_through_nginx(tmp_path):
    if shutil.which("nginx") is None:
        pytest.fail("nginx is part of the suite (scripts/services.sh installs it)")
    name = f"ef_stack_{uuid.uuid4().hex[:8]}"
    url = f"postgresql+psycopg://{name}@127.0.0.1:5432/{name}"
    ports = {k: _free_port() for k in ("http", "web", "mqtt", "prefect")}
    env = {**os.environ, "ESTATEFLOW_DATABASE_URL": url, "ESTATEFLOW_SECRET_KEY": "k" * 64}
    log = tmp_path / "stack.log"
    with log.open("w") as out:
        stack = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "stack", "--demo", "--port", str(ports["http"]),
             "--web-port", str(ports["web"]), "--mqtt-port", str(ports["mqtt"]),
             "--prefect-port", str(ports["prefect"]), "--web-workers", "1", "--workers", "2", "--admin-url", PG_ADMIN_URL,
             "--state-dir", str(tmp_path / "state")],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    base, api = f"http://127.0.0.1:{ports['http']}", f"http://127.0.0.1:{ports['prefect']}/api"
    try:
        started = _wait_for_line(log, "estateflow stack is up", stack, 600)
        assert "deployment(s) applied" in started
        state = json.loads((tmp_path / "state" / "stack.json").read_text())
        assert {"web", "nginx", "prefect-server", "prefect-worker", "worker-1", "worker-2"} <= set(state["parts"])

        static = httpx.get(f"{base}/static/manifest.json", timeout=10)
        assert static.status_code == 200 and static.headers.get("x-served-by") == "nginx"

        resident = _login(base, "resident_yc")
        form = resident.get("/me/repairs/new")
        assert form.status_code == 200
        action = re.search(r'action="(/me/repairs/new[^"]*)"', form.text).group(1).replace("&amp;", "&")
        reported = resident.post(action, data={
            "csrf_token": _csrf(form.text), "category": "plumbing", "description": "厨房水管漏水（部署测试）",
            "location_kind": "unit", "preferred_time": "anytime"},
            files={"photos": ("leak.png", io.BytesIO(_png()), "image/png")}, follow_redirects=False)
        assert reported.status_code == 302, reported.text[:800]
        number = re.search(r"YC-R-\d{8}-\d{4}", reported.headers["location"]).group(0)
        assert 'data-kind="dispatched"' in resident.get(f"/me/repairs/order/{number}").text

        engine = create_engine(url)
        with engine.connect() as conn:
            assignee = conn.execute(text(
                "SELECT t.assignee FROM wf_task t JOIN repair_order o ON o.instance_id = t.instance_id "
                "WHERE o.number = :n AND t.status IN ('ready', 'claimed')"), {"n": number}).scalar()
        engine.dispose()
        technician = _login(base, assignee)
        assert number in technician.get("/inbox/").text

        deployments = _prefect(api, "/deployments/filter", {})
        reconciliation = next(d for d in deployments if d["name"].endswith("payment_reconciliation"))
        assert reconciliation["job_variables"].get("working_dir") == str(ROOT)
        run = _prefect(api, f"/deployments/{reconciliation['id']}/create_flow_run", {})
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            state_type = _prefect(api, f"/flow_runs/{run['id']}", method="GET")["state"]["type"]
            if state_type in ("COMPLETED", "FAILED", "CRASHED"):
                break
            time.sleep(2)
        assert state_type == "COMPLETED", (tmp_path / "state" / "logs" / "prefect-worker.log").read_text()[-3000:]
    finally:
        stack.send_signal(signal.SIGTERM)
        try:
            stack.wait(timeout=120)
        except subprocess.TimeoutExpired:
            stack.kill()
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
        admin.dispose()
    assert stack.returncode == 0, log.read_text()[-2000:]
    assert "stopped" in log.read_text()
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path / "state")], capture_output=True, text=True).stdout
    assert not leftovers.strip(), f"parts still running after the stop: {leftovers}"
