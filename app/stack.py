"""``estateflow stack``: the whole production stack on one machine, with one command.

PostgreSQL (the server of ``ESTATEFLOW_DATABASE_URL``: its role and database are created and
migrated), a private Mosquitto with persistence, the web app under gunicorn behind nginx (which
also serves the static files), N engine workers (timers, device events, outbox), and a Prefect
server with a process work pool and worker that run the modules' schedules as deployments
(``estateflow schedules sync``). Everything binds to 127.0.0.1 and keeps its state under one
folder; the command stays in the foreground, restarts a part that dies, and stops everything on
Ctrl-C / SIGTERM. It is what a small property company runs on one server, and what the test of
``deploy/`` brings up to walk a journey through nginx.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK_POOL = "estateflow"


class StackError(Exception):
    """The stack cannot start; one line for the operator."""


@dataclass
class Part:
    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    ready: str | None = None  # URL answering 2xx/3xx when the part is up
    process: subprocess.Popen | None = None
    restarts: int = 0

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        handle = self.log.open("ab")
        self.process = subprocess.Popen(self.command, env=self.env, cwd=ROOT, stdout=handle,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
        handle.close()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 20) -> None:
        if not self.alive():
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)  # the part and the children it spawned
            self.process.wait(timeout)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(5)


@dataclass
class Ports:
    http: int = 8080
    web: int = 8001
    mqtt: int = 1884
    prefect: int = 4200


@dataclass
class Stack:
    state_dir: Path
    ports: Ports = field(default_factory=Ports)
    web_workers: int = 2
    engine_workers: int = 2
    demo: bool = False
    admin_url: str | None = None
    parts: list[Part] = field(default_factory=list)
    broker: object | None = None

    # --- configuration -------------------------------------------------------------------------
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.http}"

    def prefect_api(self) -> str:
        return f"http://127.0.0.1:{self.ports.prefect}/api"

    def env(self) -> dict[str, str]:
        from app.settings import get_settings

        settings = get_settings()
        secret_file = self.state_dir / "secret_key"
        if not os.environ.get("ESTATEFLOW_SECRET_KEY") and not secret_file.exists():
            import secrets

            secret_file.write_text(secrets.token_hex(32))
            secret_file.chmod(0o600)
        return {
            **os.environ,
            "ESTATEFLOW_DATABASE_URL": settings.database_url,
            "ESTATEFLOW_SECRET_KEY": os.environ.get("ESTATEFLOW_SECRET_KEY") or secret_file.read_text().strip(),
            "ESTATEFLOW_VAR_DIR": str(self.state_dir / "var"),
            "ESTATEFLOW_MQTT_URL": f"mqtt://127.0.0.1:{self.ports.mqtt}",
            "ESTATEFLOW_PRODUCTION": "1",
            "ESTATEFLOW_PUBLIC_BASE_URL": os.environ.get("ESTATEFLOW_PUBLIC_BASE_URL") or self.base_url(),
            "ESTATEFLOW_PROXY_HOPS": "1",
            "ESTATEFLOW_WEB_WORKERS": str(self.web_workers),
            "ESTATEFLOW_WORKER_SCHEDULES": "0",  # Prefect runs the schedules here, never both
            "PREFECT_HOME": str(self.state_dir / "prefect"),
            "PREFECT_API_URL": self.prefect_api(),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PYTHONUNBUFFERED": "1",
        }

    @property
    def api_rate_per_minute(self) -> int:
        """The API limit (``ESTATEFLOW_API_RATE_LIMIT``, default 600 per minute) as nginx's rate."""
        from app.web.api import DEFAULT_RATE_LIMIT, limiter

        allowed, seconds = limiter._limit(os.environ.get("ESTATEFLOW_API_RATE_LIMIT", DEFAULT_RATE_LIMIT))
        return max(1, round(allowed * 60 / seconds))

    def nginx_config(self) -> Path:
        folder = self.state_dir / "nginx"
        for sub in ("logs", "tmp"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        conf = folder / "nginx.conf"
        conf.write_text(f"""# generated by `estateflow stack`; see deploy/nginx/estateflow.conf for TLS
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/logs/error.log warn;
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    access_log {folder}/logs/access.log;
    client_body_temp_path {folder}/tmp/body;
    proxy_temp_path {folder}/tmp/proxy;
    fastcgi_temp_path {folder}/tmp/fastcgi;
    uwsgi_temp_path {folder}/tmp/uwsgi;
    scgi_temp_path {folder}/tmp/scgi;
    client_max_body_size 70m;
    # the API's per-caller limit, shared by every gunicorn process (each process also counts its own)
    map $http_authorization $api_caller {{ "" $binary_remote_addr; default $http_authorization; }}
    limit_req_zone $api_caller zone=api:10m rate={self.api_rate_per_minute}r/m;
    limit_req_status 429;
    upstream estateflow_web {{ server 127.0.0.1:{self.ports.web}; }}
    server {{
        listen 127.0.0.1:{self.ports.http};
        location /static/ {{ alias {ROOT}/app/static/; expires 7d; add_header X-Served-By nginx; }}
        location @api_limited {{  # the API's own error body, also when nginx refuses
            default_type application/json;
            add_header Retry-After 1 always;
            return 429 '{{"message": "Too many requests: slow down and try again shortly."}}';
        }}
        location /api/ {{
            limit_req zone=api burst={self.api_rate_per_minute} nodelay;
            error_page 429 = @api_limited;
            proxy_pass http://estateflow_web;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 120s;
        }}
        location / {{
            proxy_pass http://estateflow_web;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 120s;
        }}
    }}
}}
""")
        return conf

    # --- running -------------------------------------------------------------------------------
    def _cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "app.cli", *args]

    def _prefect(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "prefect", *args]

    def _run(self, command: list[str], env: dict[str, str], what: str, timeout: float = 600) -> str:
        done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-3:]
            raise StackError(f"{what} failed: {' / '.join(last)}")
        return done.stdout

    def prepare(self, say=print) -> dict[str, str]:
        """Database, schema and broker; returns the environment of the other parts."""
        from app.dbcheck import create_database, default_admin_url
        from app.settings import get_settings

        url = get_settings().database_url
        if not url.startswith("postgresql"):
            raise StackError("the stack runs on PostgreSQL: set ESTATEFLOW_DATABASE_URL=postgresql+psycopg://…")
        if shutil.which("nginx") is None:
            raise StackError("nginx is not installed (Debian: apt-get install nginx)")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        env = self.env()
        for line in create_database(url, self.admin_url or default_admin_url(url)):
            say(line)
        self._run(self._cli("init", *(["--demo"] if self.demo else [])), env, "estateflow init")
        say("schema migrated" + (" with the demo estate" if self.demo else ""))
        from connectors.mqtt.broker import MosquittoBroker

        self.broker = MosquittoBroker(self.ports.mqtt, self.state_dir / "mosquitto").start()
        say(f"Mosquitto on 127.0.0.1:{self.ports.mqtt} (persistence in {self.state_dir / 'mosquitto'})")
        return env

    def build_parts(self, env: dict[str, str]) -> None:
        logs = self.state_dir / "logs"
        self.parts = [
            Part("prefect-server", self._prefect("server", "start", "--host", "127.0.0.1", "--port",
                                                 str(self.ports.prefect)), env, logs / "prefect-server.log",
                 ready=f"{self.prefect_api()}/health"),
            Part("web", self._cli("serve", "--host", "127.0.0.1", "--port", str(self.ports.web)), env,
                 logs / "web.log", ready=f"http://127.0.0.1:{self.ports.web}/login/"),
            Part("nginx", ["nginx", "-p", str(self.state_dir / "nginx"), "-c", str(self.nginx_config()),
                           "-g", "daemon off;"], env, logs / "nginx.log", ready=f"{self.base_url()}/login/"),
            *[Part(f"worker-{i + 1}", self._cli("worker"), env, logs / f"worker-{i + 1}.log")
              for i in range(self.engine_workers)],
        ]

    def _wait_ready(self, part: Part, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not part.alive():
                tail = part.log.read_text(errors="replace").strip().splitlines()[-3:]
                raise StackError(f"{part.name} exited: {' / '.join(tail)}")
            try:
                with urllib.request.urlopen(part.ready, timeout=3) as answer:
                    if answer.status < 400:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise StackError(f"{part.name} did not answer {part.ready} within {timeout:.0f} s")

    def start(self, say=print) -> None:
        env = self.prepare(say)
        self.build_parts(env)
        for part in list(self.parts):
            part.start()
            if part.ready:
                self._wait_ready(part, 180)
            say(f"{part.name} up" + (f" ({part.ready})" if part.ready else ""))
            if part.name == "prefect-server":
                self._run(self._prefect("work-pool", "create", WORK_POOL, "--type", "process", "--overwrite"), env,
                          "prefect work-pool create")
                pool_worker = Part("prefect-worker", self._prefect("worker", "start", "--pool", WORK_POOL,
                                                                   "--type", "process"),
                                   env, self.state_dir / "logs" / "prefect-worker.log")
                pool_worker.start()
                self.parts.insert(self.parts.index(part) + 1, pool_worker)
        out = self._run(self._cli("schedules", "sync", "--work-pool", WORK_POOL), env, "estateflow schedules sync")
        say(out.strip().splitlines()[-1] if out.strip() else "schedules synced")
        (self.state_dir / "stack.json").write_text(json.dumps({
            "url": self.base_url(), "prefect": self.prefect_api(), "mqtt_port": self.ports.mqtt,
            "parts": {p.name: p.process.pid for p in self.parts if p.process}}, indent=1))

    def supervise(self, stop_after: float | None = None, say=print) -> None:
        """Restart a part that died (with a pause, so a crash loop does not spin) until stopped."""
        started = time.monotonic()
        while stop_after is None or time.monotonic() - started < stop_after:
            for part in self.parts:
                if not part.alive():
                    part.restarts += 1
                    say(f"{part.name} exited (code {part.process.returncode}); restarting (#{part.restarts})")
                    time.sleep(min(30, 2 ** min(part.restarts, 5)))
                    part.start()
            time.sleep(1)

    def stop(self) -> None:
        for part in reversed(self.parts):
            part.stop()
        if self.broker is not None:
            self.broker.stop()
