"""The API rate limit is shared by the web processes: ``estateflow serve`` with two gunicorn
processes behind the nginx of ``estateflow stack`` (its generated config, ``limit_req`` keyed by the
caller's token). One token sends more requests than the limit: past it every answer is 429 — had
each process counted alone, two processes would have let up to twice the limit through.
SQLite (a copy of the seeded demo), loopback, bounded (~30 s after the seed)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app.stack import ROOT, Ports, Stack

LIMIT = 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx not installed (scripts/services.sh installs it)")
@pytest.mark.parametrize("demo_db_url", ["sqlite"], indirect=True)
def test_two_web_processes_share_one_limit(demo_db_url: str, tmp_path: Path, monkeypatch):
    env = {**os.environ, "ESTATEFLOW_DATABASE_URL": demo_db_url,
           "ESTATEFLOW_VAR_DIR": str(tmp_path / "var"), "ESTATEFLOW_SECRET_KEY": "r" * 64,
           "ESTATEFLOW_WEB_WORKERS": "2", "ESTATEFLOW_WEB_THREADS": "2",
           "ESTATEFLOW_API_RATE_LIMIT": f"{LIMIT} per minute", "ESTATEFLOW_PROXY_HOPS": "1"}
    monkeypatch.setenv("ESTATEFLOW_API_RATE_LIMIT", f"{LIMIT} per minute")
    stack = Stack(tmp_path / "stack", Ports(http=_free_port(), web=_free_port()))
    conf = stack.nginx_config()
    assert f"rate={LIMIT}r/m" in conf.read_text()
    web = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(stack.ports.web)],
                           env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    nginx = subprocess.Popen(["nginx", "-p", str(conf.parent), "-c", str(conf), "-g", "daemon off;"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = stack.base_url()
        with httpx.Client(base_url=base, timeout=20) as client:
            for _ in range(120):
                try:
                    if client.get("/login/").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            token = client.post("/api/v1/security/login", json={
                "username": "tech_yc1", "password": "demo1234", "provider": "db"}).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            statuses = [client.get("/api/v1/devices/", headers=headers).status_code for _ in range(2 * LIMIT + 5)]
            last = client.get("/api/v1/devices/", headers=headers)
            other = client.get("/api/v1/devices/", headers={"Authorization": "Bearer x"}).status_code
    finally:
        nginx.terminate()
        os.killpg(web.pid, 15)
        web.wait(30)
        nginx.wait(30)
    assert statuses.count(200) <= LIMIT + 1, statuses  # one may refill during the run
    assert statuses.count(200) >= LIMIT - 1, statuses
    assert statuses[-5:] == [429] * 5, statuses
    assert last.json()["message"] and last.headers["Retry-After"]
    assert other != 429  # another caller has its own allowance
