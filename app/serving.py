"""``estateflow serve``: the web app under gunicorn, with processes and threads from settings.

Flask's development server is one process with a thread per request and no supervision; gunicorn
keeps ``web_workers`` processes (each builds its own app after the fork, so no database
connection is shared between processes), replaces one that dies or hangs past the timeout, and
serves ``web_threads`` requests at once per process.
"""
from __future__ import annotations

from collections.abc import Callable

from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, factory: Callable, options: dict) -> None:
        self._factory = factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self):
        return self._factory()


def serve(factory: Callable, host: str, port: int, workers: int, threads: int, timeout: int) -> None:
    """Run ``factory()`` (called once in each worker process) on ``host:port`` until stopped."""
    import gunicorn.http.wsgi

    gunicorn.http.wsgi.SERVER = "estateflow"  # the Server header names no server software version
    _Gunicorn(factory, {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": timeout,
        "graceful_timeout": 20,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "estateflow-web",
    }).run()
