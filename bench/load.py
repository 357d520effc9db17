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

``--mixed`` (needs ``--postgres URL``; the database is seeded): ``estateflow serve`` (gunicorn,
``ESTATEFLOW_WEB_WORKERS`` × ``ESTATEFLOW_WEB_THREADS``) on loopback and 50 simulated users (asyncio
+ httpx), each with its own JWT and 1–3 s think time, for ``--seconds``: 30 residents (bills, repairs,
visitor passes, now and then a repair report with a photo), 15 technicians (inbox, a task's form,
their orders), 5 managers (dashboard, alerts, devices). p95 per endpoint and every error counted.

Usage: python bench/load.py [--quick] [--clients N] [--postgres URL [--mixed [--seconds S]]].
Last line: one JSON object.
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


def _png() -> bytes:
    """A real 1×1 PNG: uploads are sniffed."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


ROLES = ([("resident_yc", "resident")] * 15 + [("resident_fx", "resident")] * 15
         + [("tech_yc1", "tech")] * 8 + [("tech_yc2", "tech")] * 4 + [("tech_fx1", "tech")] * 3
         + [("manager_yc", "manager")] * 3 + [("manager_fx", "manager")] * 2)


async def _user(client, username: str, kind: str, token: str, until: float, record, rng) -> None:
    import asyncio

    headers = {"Authorization": f"Bearer {token}"}

    async def get(label: str, path: str):
        t0 = time.perf_counter()
        r = await client.get(path, headers=headers)
        record(label, time.perf_counter() - t0, r.status_code)
        return r

    n = 0
    while time.perf_counter() < until:
        n += 1
        if kind == "resident":
            await get("GET /me/bills", "/api/v1/me/bills/?status=unpaid")
            repairs = username.endswith("_yc")  # the demo's FX has no repair module (its residents: 404)
            if repairs:
                await get("GET /me/repairs", "/api/v1/me/repairs/")
            await get("GET /me/visitors", "/api/v1/me/visitors/")
            if repairs and rng.random() < 0.1:
                from io import BytesIO
                t0 = time.perf_counter()
                r = await client.post("/api/v1/me/repairs/", headers=headers, data={
                    "category": "plumbing", "description": "水龙头漏水（压测）", "location_kind": "unit",
                    "token": f"load-{username}-{id(rng)}-{n}"}, files={"photos": ("p.png", BytesIO(_png()), "image/png")})
                record("POST /me/repairs", time.perf_counter() - t0, r.status_code)
        elif kind == "tech":
            inbox = await get("GET /inbox", "/api/v1/inbox/?page_size=20")
            items = inbox.json().get("items", []) if inbox.status_code == 200 else []
            if items:
                await get("GET /tasks/{id}", f"/api/v1/tasks/{items[0]['id']}")
            await get("GET /repairs", "/api/v1/repairs/?page_size=20")
        else:
            await get("GET /dashboard", "/api/v1/dashboard/")
            await get("GET /alerts", "/api/v1/alerts/?status=open")
            await get("GET /devices", "/api/v1/devices/?page_size=50")
        await asyncio.sleep(rng.uniform(1.0, 3.0))


def mixed_load(pg_url: str, seconds: float, var_dir: Path) -> dict:
    """50 users against ``estateflow serve`` (gunicorn) on PostgreSQL, loopback only."""
    import asyncio
    import os
    import random
    import socket
    import subprocess

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "ESTATEFLOW_DATABASE_URL": pg_url, "ESTATEFLOW_VAR_DIR": str(var_dir)}
    root = Path(__file__).resolve().parents[1]
    server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples: dict[str, list[float]] = {}
    errors: dict[str, dict[int, int]] = {}

    def record(label: str, took: float, status: int) -> None:
        samples.setdefault(label, []).append(took)
        if status >= 400:
            errors.setdefault(label, {}).setdefault(status, 0)
            errors[label][status] += 1

    async def run() -> None:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            for _ in range(120):  # wait for the server
                try:
                    if (await client.get("/login/")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.5)
            tokens = []
            for username, _kind in ROLES:  # sign everybody in first: password hashing is not the load
                reply = await client.post("/api/v1/security/login", json={
                    "username": username, "password": "demo1234", "provider": "db"})
                tokens.append(reply.json()["access_token"])
            warm = time.perf_counter() + 5  # every process has served each endpoint before we count
            await asyncio.gather(*(_user(client, u, k, t, warm, lambda *a: None, random.Random(i))
                                   for i, ((u, k), t) in enumerate(zip(ROLES, tokens))))
            until = time.perf_counter() + seconds
            rng = random.Random(19)
            await asyncio.gather(*(_user(client, u, k, t, until, record, random.Random(rng.random()))
                                   for (u, k), t in zip(ROLES, tokens)))

    try:
        asyncio.run(run())
    finally:
        server.terminate()
        server.wait(timeout=30)
    out = {}
    for label, values in sorted(samples.items()):
        values.sort()
        out[label] = {"n": len(values), "p50_ms": round(values[len(values) // 2] * 1000, 1),
                      "p95_ms": round(values[min(len(values) - 1, int(len(values) * 0.95))] * 1000, 1),
                      "errors": errors.get(label, {})}
    return {"users": len(ROLES), "seconds": seconds, "endpoints": out,
            "web_workers": os.environ.get("ESTATEFLOW_WEB_WORKERS", "default"),
            "web_threads": os.environ.get("ESTATEFLOW_WEB_THREADS", "default"),
            "max_p95_ms": max(v["p95_ms"] for v in out.values()),
            "errors": sum(sum(e.values()) for e in errors.values())}


def main() -> None:
    from web import _app, _seed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (smoke)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--postgres", help="also measure on this PostgreSQL database URL (it is seeded)")
    parser.add_argument("--mixed", action="store_true", help="the 50-user mixed load (needs --postgres)")
    parser.add_argument("--seconds", type=float, default=None, help="length of the mixed load")
    parser.add_argument("--mixed-only", action="store_true", help="skip the lifecycle ratios (--postgres is "
                                                                   "used as it is, already seeded)")
    args = parser.parse_args()
    n = 48 if args.quick else 600
    out: dict = {}
    if args.mixed_only:
        with tempfile.TemporaryDirectory() as tmp:
            out["mixed"] = mixed_load(args.postgres, args.seconds or 60, Path(tmp))
        _report(out)
        return
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
            if args.mixed:
                with app.app_context():
                    from app.db import db

                    db.session.remove()
                    db.engine.dispose()
                out["mixed"] = mixed_load(args.postgres, args.seconds or (20 if args.quick else 60), var_dir)
    _report(out)


def _report(out: dict) -> None:
    for label, f in out.get("mixed", {}).get("endpoints", {}).items():
        print(f"mixed    {label:18} n {f['n']:5}  p50 {f['p50_ms']:7.1f}  p95 {f['p95_ms']:7.1f} ms  errors {f['errors']}",
              file=sys.stderr)
    for backend, f in ((k, v) for k, v in out.items() if k != "mixed"):
        print(f"{backend:8} API {f['api_lifecycles_per_s']:7.1f}/s ({f['clients']} clients) vs floor "
              f"{f['floor_lifecycles_per_s']:7.1f}/s = x{f['ratio_to_floor']} (CPU x{f['ratio_to_floor_cpu']})  p95 {f['lifecycle_p95_ms']} ms "
              f"errors {f['errors']}", file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
