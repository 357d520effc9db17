"""Server time per page, side by side with a bare Flask "hello" route (the floor).

Measures, in one run, in this process (WSGI time through Flask's test client: no network, no
browser; what a page costs the server):
* the floor: a bare Flask app answering "hello";
* pages of the demo estate: the manager's home, the technician's inbox, a task form, the
  resident's page ("me", bills).
Wall and CPU time (of the serving thread) are both recorded. Pages and floor are measured interleaved in rounds (alternating which goes first) so both see
the same load from other processes; ratios to the floor are the headline.

Usage: python bench/web.py [--quick] [--postgres URL]. Last line of output is one JSON object.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _seed(url: str, var_dir: Path) -> None:
    os.environ["ESTATEFLOW_DATABASE_URL"] = url
    os.environ["ESTATEFLOW_VAR_DIR"] = str(var_dir)
    from app.bootstrap import initialise
    from app.settings import get_settings

    get_settings.cache_clear() if hasattr(get_settings, "cache_clear") else None
    initialise(with_demo=True)


def _app(url: str, var_dir: Path):
    from app.settings import Settings
    from app.web import create_app

    settings = Settings(database_url=url, var_dir=var_dir, secret_key="b" * 64)
    return create_app({"WTF_CSRF_ENABLED": False, "TESTING": True}, settings=settings)


def _client(app, username: str, password: str):
    client = app.test_client()
    reply = client.post("/login/", data={"username": username, "password": password})
    assert reply.status_code in (200, 302), (username, reply.status_code)
    return client


def _first_task_path(client) -> str | None:
    import re

    body = client.get("/inbox/").get_data(as_text=True)
    found = re.search(r'href="(/inbox/task/\d+)"', body)
    return found.group(1) if found else None


def _time(client, path: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this thread) of one request: other processes on a shared
    machine stretch the first, hardly the second."""
    start, cpu = time.perf_counter(), time.thread_time()
    reply = client.get(path)
    elapsed, cpu_used = time.perf_counter() - start, time.thread_time() - cpu
    assert reply.status_code == 200, (path, reply.status_code)
    return elapsed, cpu_used


def measure(app, rounds: int) -> dict:
    from flask import Flask

    floor_app = Flask("hello")
    floor_app.add_url_rule("/", "hello", lambda: "hello")
    floor = floor_app.test_client()
    manager = _client(app, "manager_yc", "demo1234")
    tech = _client(app, "tech_yc1", "demo1234")
    resident = _client(app, "resident_yc", "demo1234")
    pages = {"home": (manager, "/"), "inbox": (tech, "/inbox/"), "resident": (resident, "/me/")}
    task = _first_task_path(tech)
    if task:
        pages["task_form"] = (tech, task)
    for client, path in pages.values():  # warm up: templates compiled, caches filled
        for _ in range(3):
            _time(client, path)
    for _ in range(20):
        floor.get("/")
    gc.collect()
    gc.freeze()
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in pages}
    samples["floor"] = []
    for i in range(rounds):
        order = list(pages.items())
        if i % 2:
            order.reverse()
        samples["floor"].append(_time(floor, "/"))
        for name, (client, path) in order:
            samples[name].append(_time(client, path))
        samples["floor"].append(_time(floor, "/"))

    def p(values: list[float], q: float) -> float:
        values = sorted(values)
        return values[min(len(values) - 1, int(q * len(values)))] * 1000

    result = {}
    floor_wall = [w for w, _ in samples["floor"]]
    floor_cpu = [c for _, c in samples["floor"]]
    for name, pairs in samples.items():
        wall, cpu = [w for w, _ in pairs], [c for _, c in pairs]
        result[name] = {"p50_ms": round(p(wall, 0.5), 3), "p95_ms": round(p(wall, 0.95), 3),
                        "mean_ms": round(statistics.mean(wall) * 1000, 3),
                        "cpu_p50_ms": round(p(cpu, 0.5), 3), "cpu_p95_ms": round(p(cpu, 0.95), 3)}
        if name != "floor":
            result[name]["ratio_p95"] = round(p(wall, 0.95) / p(floor_wall, 0.95), 1)
            result[name]["ratio_cpu_p95"] = round(p(cpu, 0.95) / p(floor_cpu, 0.95), 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    parser.add_argument("--postgres", help="also measure on this PostgreSQL database URL (it is seeded)")
    args = parser.parse_args()
    rounds = 30 if args.quick else 200
    out: dict = {"rounds": rounds}
    with tempfile.TemporaryDirectory() as tmp:
        var_dir = Path(tmp)
        url = f"sqlite:///{var_dir / 'bench.db'}"
        t0 = time.perf_counter()
        _seed(url, var_dir)
        print(f"seeded the demo on SQLite in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        out["sqlite"] = measure(_app(url, var_dir), rounds)
        if args.postgres:
            _seed(args.postgres, var_dir)
            out["postgres"] = measure(_app(args.postgres, var_dir), rounds)
    for backend in ("sqlite", "postgres"):
        for name, figures in out.get(backend, {}).items():
            print(f"{backend:8} {name:10} wall p50 {figures['p50_ms']:7.2f} p95 {figures['p95_ms']:7.2f} ms"
                  f" | cpu p50 {figures['cpu_p50_ms']:7.2f} p95 {figures['cpu_p95_ms']:7.2f} ms"
                  + (f" | p95 ×{figures['ratio_p95']} floor (cpu ×{figures['ratio_cpu_p95']})"
                     if "ratio_p95" in figures else ""))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
