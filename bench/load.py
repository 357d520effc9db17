"""Process lifecycles through the JSON API v1, beside the bare-SpiffWorkflow floor of bench/engine.py.

One lifecycle = 2 API requests by the front desk's JWT: ``POST /api/v1/instances/`` (start
``bench_life``; the answer names its open task) and ``POST /api/v1/tasks/<id>/complete`` (the pinned
form ``bench/fill`` validates ``amount``). ``--clients`` threads (default 4), each with its own
client, run lifecycles against one app over the seeded demo estate (SQLite; ``--postgres URL`` adds
a run on PostgreSQL). WSGI in-process (Flask's test client): server time, no network. The floor
(bench/engine.py's ``_FloorSide``: SpiffWorkflow + its JSON in plain sqlite3, one thread) runs in the
same process, interleaved in rounds, so both see the same machine load. ``bench_life`` is deployed
under the demo's ``repair`` module so it may start in the community (a process with no module
starts nowhere).

Not measured here yet: the issue's 50-user mixed load against gunicorn + PostgreSQL (p95 per
endpoint).

Usage: python bench/load.py [--quick] [--clients N] [--postgres URL]. Last line: one JSON object.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

FORM = """id: bench/fill
title: {zh: 填写, en: Fill}
fields:
  - name: amount
    type: number
    label: {zh: 数量, en: Amount}
    required: true
    integer: true
"""


def _deploy(app) -> int:
    from sqlalchemy import select

    from app.db import db
    from app.domains.estate.models import Community
    from app.forms.versions import deploy_with_forms
    from engine import LIFECYCLE_BPMN

    with app.app_context():
        deploy_with_forms(db.session, "bench_life.bpmn", LIFECYCLE_BPMN, "repair", "bench", {"bench/fill"},
                          Path(tempfile.mkdtemp()), texts={"bench/fill": FORM})
        db.session.commit()
        cid = db.session.scalar(select(Community.id).where(Community.code == "YC"))
        db.session.remove()
    return cid


class _ApiSide:
    def __init__(self, app, community_id: int, clients: int) -> None:
        self.app, self.cid, self.clients = app, community_id, clients
        reply = app.test_client().post("/api/v1/security/login", json={
            "username": "frontdesk_yc", "password": "demo1234", "provider": "db"})
        self.headers = {"Authorization": f"Bearer {reply.get_json()['access_token']}"}
        self.errors: dict[int, int] = {}
        self.latencies: list[float] = []
        self.lock = threading.Lock()
        self.counter = itertools.count()

    def _one(self, client, i: int) -> None:
        t0 = time.perf_counter()
        started = client.post("/api/v1/instances/", headers=self.headers,
                              json={"community_id": self.cid, "process_id": "bench_life", "business_key": f"L-{i}"})
        if started.status_code != 201:
            with self.lock:
                self.errors[started.status_code] = self.errors.get(started.status_code, 0) + 1
            return
        task = started.get_json()["open_tasks"][0]["id"]
        done = client.post(f"/api/v1/tasks/{task}/complete", headers=self.headers, json={"amount": i})
        with self.lock:
            if done.status_code != 200 or done.get_json()["status"] != "completed":
                self.errors[done.status_code] = self.errors.get(done.status_code, 0) + 1
            self.latencies.append(time.perf_counter() - t0)

    def run(self, n: int) -> None:
        counter = self.counter
        per = [n // self.clients + (1 if k < n % self.clients else 0) for k in range(self.clients)]

        def worker(count: int) -> None:
            client = self.app.test_client()
            for _ in range(count):
                self._one(client, next(counter))

        threads = [threading.Thread(target=worker, args=(c,)) for c in per]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def measure(app, community_id: int, n: int, clients: int, rounds: int = 6) -> dict:
    from engine import _FloorSide

    api = _ApiSide(app, community_id, clients)
    chunk = max(clients, n // rounds)
    wall = {"api": 0.0, "floor": 0.0}
    cpu = {"api": 0.0, "floor": 0.0}  # this process's CPU (all threads): load from others hardly moves it
    with tempfile.TemporaryDirectory() as tmp:
        floor = _FloorSide(tmp)
        floor.run(20)
        api.run(8)  # warm both
        api.latencies.clear()
        try:
            for r in range(rounds):
                for name in (("api", "floor") if r % 2 == 0 else ("floor", "api")):
                    t0, c0 = time.perf_counter(), time.process_time()
                    (api.run if name == "api" else floor.run)(chunk)
                    wall[name] += time.perf_counter() - t0
                    cpu[name] += time.process_time() - c0
        finally:
            floor.close()
    total = chunk * rounds
    lat = sorted(api.latencies)
    return {"lifecycles": total, "clients": clients,
            "api_lifecycles_per_s": round(total / wall["api"], 1),
            "floor_lifecycles_per_s": round(total / wall["floor"], 1),
            "ratio_to_floor": round(wall["floor"] / wall["api"], 3),
            "api_lifecycles_per_cpu_s": round(total / cpu["api"], 1),
            "floor_lifecycles_per_cpu_s": round(total / cpu["floor"], 1),
            "ratio_to_floor_cpu": round(cpu["floor"] / cpu["api"], 3),
            "lifecycle_p50_ms": round(lat[len(lat) // 2] * 1000, 1) if lat else None,
            "lifecycle_p95_ms": round(lat[int(len(lat) * 0.95)] * 1000, 1) if lat else None,
            "errors": api.errors}


def main() -> None:
    from web import _app, _seed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (smoke)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--postgres", help="also measure on this PostgreSQL database URL (it is seeded)")
    args = parser.parse_args()
    n = 48 if args.quick else 600
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        var_dir = Path(tmp)
        url = f"sqlite:///{var_dir / 'load.db'}"
        _seed(url, var_dir)
        app = _app(url, var_dir)
        app.config["ESTATEFLOW_API_RATE_LIMIT"] = "1000000 per minute"
        out["sqlite"] = measure(app, _deploy(app), n, args.clients)
        if args.postgres:
            _seed(args.postgres, var_dir)
            app = _app(args.postgres, var_dir)
            app.config["ESTATEFLOW_API_RATE_LIMIT"] = "1000000 per minute"
            out["postgres"] = measure(app, _deploy(app), n, args.clients)
    for backend, f in out.items():
        print(f"{backend:8} API {f['api_lifecycles_per_s']:7.1f}/s ({f['clients']} clients) vs floor "
              f"{f['floor_lifecycles_per_s']:7.1f}/s = x{f['ratio_to_floor']} (CPU x{f['ratio_to_floor_cpu']})  p95 {f['lifecycle_p95_ms']} ms "
              f"errors {f['errors']}", file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
