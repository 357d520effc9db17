"""``estateflow serve`` runs gunicorn: several processes answering, no server banner, and a process
that dies is replaced while the others keep serving."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str):
    with urllib.request.urlopen(url, timeout=10) as reply:
        return reply.status, reply.headers


def _children(pid: int) -> set[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return {int(p) for p in found.stdout.split()}


def _wait(predicate, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    return predicate()


@pytest.mark.timeout(300)
def test_serve_runs_supervised_worker_processes(tmp_path):
    env = {**os.environ, "ESTATEFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
           "ESTATEFLOW_VAR_DIR": str(tmp_path), "ESTATEFLOW_WEB_WORKERS": "2", "ESTATEFLOW_WEB_THREADS": "2"}
    cli = [sys.executable, "-m", "app.cli"]
    subprocess.run([*cli, "init"], env=env, cwd=ROOT, check=True, capture_output=True, timeout=240)
    port = _free_port()
    server = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/login/"

    def answers():
        try:
            return _get(url)
        except OSError:
            assert server.poll() is None, server.stdout.read()
            return None

    try:
        status, headers = _wait(answers, 90)
        assert status == 200
        assert headers["Server"] == "estateflow"  # neither gunicorn nor its version
        workers = _wait(lambda: _children(server.pid) if len(_children(server.pid)) == 2 else None, 60)
        assert workers and len(workers) == 2

        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        replaced = _wait(lambda: (kids := _children(server.pid)) and victim not in kids and len(kids) == 2, 60)
        assert replaced, "the killed web process was not replaced"
        assert _wait(answers, 30)[0] == 200
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
