"""Dashboard queries on a large company, on PostgreSQL: the KPI tiles at company and at
community level, against a naive ORM loop computing the same figures in the same run.

Seeded with COPY into a fresh database: communities with buildings (map coordinates), units and
households; monthly bills for ten months (paid, part paid, open); repair orders over the last
ten months (accepted/completed times, SLA limits); devices with their fault log ("device
events"); security incidents; engine task records (staff efficiency).

Measured:
* ``company``: :func:`app.platform.kpi.build_dashboard` over every community, last 6 months —
  p50/p95 over 50 runs (after one warm-up);
* ``community``: the same for one community;
* ``naive``: the baseline, the company-level figures from ORM objects loaded community by
  community (bills, orders, devices and their errors, incidents, tasks) and summed in Python,
  once.

* ``rollup``: the ``kpi_rollup`` flow's refresh of every community (once, timed), which the
  company level then reads; ``company_raw``: the company level on the raw tables (a few runs,
  the figure before the roll-ups).

Targets (issue #15): company p95 < 300 ms, community p95 < 100 ms for 200 communities, 100,000
households, 1 M bills, 200,000 orders, 5 M device events. Company and community level read
the roll-ups (per community × month, ``kpi_rollup`` table); the company level's "now" figures
(open orders, devices by state, open incidents) the flow's snapshot; every figure is checked
equal to the raw tables' (both levels) and the main ones to the naive loop's (see
bench/RESULTS.md for the figures).
Usage: python bench/dashboard.py [--quick] [--keep | --database NAME]  (quick: 20 communities, 10,000
households).
Needs PostgreSQL at ``ESTATEFLOW_TEST_PG_URL``. Last line of output: one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

PG_ADMIN_URL = os.environ.get("ESTATEFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
NOW = datetime(2026, 11, 20, 4, 0)
MONTHS = [f"2026-{m:02d}" for m in range(2, 12)]  # ten months of bills and orders
MODULES = ("fees", "repair", "security", "visitors")
#: the tiles the company level reads from roll-ups
ROLLED = ("fees.collection", "repair.response", "repair.backlog", "devices.health", "security.alerts", "engine.staff")
FULL = {"communities": 200, "households": 100_000, "orders": 200_000, "device_events": 5_000_000,
        "incidents": 20_000, "tasks": 200_000, "devices_per_community": 50}
QUICK = {"communities": 20, "households": 10_000, "orders": 20_000, "device_events": 200_000,
         "incidents": 2_000, "tasks": 20_000, "devices_per_community": 20}


def _copy(conn, table: str, columns: list[str], rows) -> int:
    """COPY rows (tuples) into ``table`` through psycopg's copy protocol."""
    n = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def seed(url: str, size: dict) -> dict:
    import psycopg

    from app.db import Model
    from app.platform.discovery import import_all_models

    import_all_models()
    engine = create_engine(url)
    Model.metadata.create_all(engine)
    engine.dispose()
    rnd = random.Random(15)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    counts = {}
    with psycopg.connect(dsn) as conn:
        conn.execute("INSERT INTO property_company (id, name) VALUES (1, 'bench')")
        nc = size["communities"]
        counts["communities"] = _copy(conn, "community", ["id", "company_id", "code", "name"],
                                      ((c, 1, f"B{c:03d}", f"压测小区{c}") for c in range(1, nc + 1)))
        per_community = size["households"] // nc
        n_buildings = max(1, per_community // 60)
        buildings = [(c, b) for c in range(1, nc + 1) for b in range(n_buildings)]
        _copy(conn, "building", ["id", "community_id", "code", "name", "floors", "latitude", "longitude"],
              ((i + 1, c, str(b + 1), f"{b + 1}号楼", 6, 39.9 + b * 0.0002, 116.3 + c * 0.01)
               for i, (c, b) in enumerate(buildings)))
        households = [(h + 1, c, (c - 1) * n_buildings + (h % n_buildings) + 1)
                      for c in range(1, nc + 1) for h in range((c - 1) * per_community, c * per_community)]
        _copy(conn, "unit", ["id", "community_id", "building_id", "number", "floor", "area_m2"],
              ((h, c, b, str(h), 1, 60) for h, c, b in households))
        counts["households"] = _copy(
            conn, "household", ["id", "community_id", "unit_id", "code", "head_name", "active", "elderly_alone",
                                "medical_exemption", "disability_exemption", "prepaid_balance_cents"],
            ((h, c, h, f"H{h}", "户主", True, False, False, False, 0) for h, c, _b in households))

        def bills():
            n = 0
            for h, c, _b in households:
                for period in MONTHS:
                    n += 1
                    amount = 5000 + (h % 7) * 100
                    roll = rnd.random()
                    paid, status = (amount, "paid") if roll < 0.8 else ((amount // 2, "partially_paid") if roll < 0.9
                                                                        else (0, "open"))
                    yield (n, f"B{n}", c, h, period, "monthly", status, amount, paid, NOW,
                           f"{period}-28")
        counts["bills"] = _copy(conn, "bill", ["id", "number", "community_id", "household_id", "period", "kind",
                                               "status", "amount_cents", "paid_cents", "issued_at", "due_date"],
                                bills())

        start = datetime(2026, 1, 31, 16)
        span = (NOW - start).total_seconds()

        def orders():
            for i in range(1, size["orders"] + 1):
                h, c, b = households[rnd.randrange(len(households))]
                reported = start + timedelta(seconds=rnd.random() * span)
                accepted = reported + timedelta(minutes=rnd.expovariate(1 / 40)) if rnd.random() < 0.95 else None
                completed = accepted + timedelta(hours=rnd.expovariate(1 / 6)) if accepted and rnd.random() < 0.9 \
                    else None
                status = "closed" if completed and completed < NOW else ("accepted" if accepted else "unassigned")
                yield (i, f"R{i}", c, h, b, "plumbing", "x", "[]", "unit", status, 0, "[]", "[]", "[]", 0, 0, 0, 0,
                       False, reported, accepted, completed, reported + timedelta(minutes=30),
                       reported + timedelta(hours=24))
        counts["orders"] = _copy(conn, "repair_order", [
            "id", "number", "community_id", "household_id", "building_id", "category", "description", "photos",
            "location_kind", "status", "dispatch_attempts", "declined_staff_ids", "before_photos", "after_photos",
            "materials_cost_cents", "labour_cost_cents", "charge_cents", "reopen_count", "revisit", "reported_at",
            "accepted_at", "completed_at", "response_due_at", "resolution_due_at"], orders())

        nd = size["devices_per_community"]
        statuses = ["online"] * 8 + ["offline", "error"]
        _copy(conn, "device", ["id", "community_id", "code", "name", "profile", "address", "status", "building_id"],
              ((c * nd + d, c, f"D{d}", f"设备{d}", "door_controller", f"a{c}-{d}", statuses[d % 10],
                (c - 1) * n_buildings + (d % n_buildings) + 1)
               for c in range(1, nc + 1) for d in range(nd)))
        device_ids = [c * nd + d for c in range(1, nc + 1) for d in range(nd)]
        counts["device_events"] = _copy(conn, "device_error", ["device_id", "kind", "message", "at"], (
            (device_ids[rnd.randrange(len(device_ids))], "timeout", "no answer",
             start + timedelta(seconds=rnd.random() * span)) for _ in range(size["device_events"])))

        def incidents():
            for i in range(1, size["incidents"] + 1):
                first = start + timedelta(seconds=rnd.random() * span)
                closed = first + timedelta(minutes=rnd.expovariate(1 / 30))
                yield (i, f"S{i}", rnd.randrange(1, nc + 1), "CAM", "fire", "", "closed" if closed < NOW else "open",
                       first, first, 1, 0, first + timedelta(minutes=3), closed if closed < NOW else None)
        counts["incidents"] = _copy(conn, "security_incident", [
            "id", "number", "community_id", "device_code", "kind", "location", "status", "first_at", "last_at",
            "alert_count", "max_confidence", "acknowledged_at", "closed_at"], incidents())

        conn.execute("INSERT INTO wf_process_version (id, process_id, version, filename, content_hash, bpmn, "
                     "start_messages, deployed_at) VALUES (1, 'repair', 1, 'r.bpmn', 'h', '<x/>', '[]', now())")
        _copy(conn, "wf_instance", ["id", "version_id", "process_id", "spec_hash", "community_id", "status",
                                    "lock_version", "projection", "started_at"],
              ((c, 1, "repair", "h", c, "running", 0, "{}", NOW) for c in range(1, nc + 1)))

        def tasks():
            for i in range(1, size["tasks"] + 1):
                c = rnd.randrange(1, nc + 1)
                done = start + timedelta(seconds=rnd.random() * span)
                yield (i, c, f"t{i}", "work", c, "technician", "completed", done - timedelta(hours=1),
                       done - timedelta(minutes=20), done, f"tech{c}-{i % 3}")
        counts["tasks"] = _copy(conn, "wf_task", ["id", "instance_id", "spiff_task_id", "element_id", "community_id",
                                                  "role", "status", "created_at", "claimed_at", "completed_at",
                                                  "completed_by"], tasks())
        _copy(conn, "module_activation", ["community_id", "module_id", "version", "enabled", "settings", "changed_at"],
              ((c, m, "1.0.0", True, "{}", NOW) for c in range(1, nc + 1) for m in MODULES))
        conn.commit()
        conn.execute("ANALYZE")
    return counts


def _timed(fn, runs: int) -> dict:
    fn()  # warm-up (catalogue, discovery, plan cache)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[min(len(times) - 1, round(0.95 * len(times)) - 1)], 1)}


def naive(session: Session, community_ids: list[int], scope, budget_s: float | None = None) -> dict:
    """The same company-level figures the obvious way: ORM objects per community, Python sums.
    ``budget_s``: stop after the community during which the budget ran out (``done`` says how
    many were summed; the caller extrapolates and compares on those)."""
    from app.domains.devices.models import Device
    from app.domains.fees.models import Bill
    from app.domains.repair.models import ACTIVE_STATUSES, RepairOrder
    from app.domains.security.models import SecurityIncident
    from app.engine.models import TaskRow
    from connectors.models import DeviceError

    billed = collected = accepted = 0
    response: list[float] = []
    online = devices = failed = incidents = tasks = open_orders = open_incidents = 0
    started = time.perf_counter()
    done: list[int] = []
    for cid in community_ids:
        if budget_s is not None and done and time.perf_counter() - started > budget_s:
            break
        done.append(cid)
        for bill in session.scalars(select(Bill).where(Bill.community_id == cid)):
            if bill.period in scope.months and bill.status != "cancelled":
                billed += bill.amount_cents
                collected += bill.paid_cents
        for order in session.scalars(select(RepairOrder).where(RepairOrder.community_id == cid)):
            open_orders += order.status in ACTIVE_STATUSES
            if scope.start <= order.reported_at < scope.end and order.accepted_at:
                accepted += 1
                response.append((order.accepted_at - order.reported_at).total_seconds() / 60)
        for device in session.scalars(select(Device).where(Device.community_id == cid)):
            devices += 1
            online += device.status == "online"
            errors = session.scalars(select(DeviceError).where(DeviceError.device_id == device.id)).all()
            failed += any(scope.start <= e.at < scope.end for e in errors)
        for incident in session.scalars(select(SecurityIncident).where(SecurityIncident.community_id == cid)):
            incidents += scope.start <= incident.first_at < scope.end
            open_incidents += incident.status != "closed"
        tasks += sum(1 for t in session.scalars(select(TaskRow).where(TaskRow.community_id == cid))
                     if t.completed_at and scope.start <= t.completed_at < scope.end)
        session.expunge_all()
    return {"done": done, "billed": billed, "collected": collected, "accepted": accepted,
            "median_response": statistics.median(response) if response else None,
            "devices": devices, "online": online, "failed": failed, "incidents": incidents, "tasks": tasks,
            "open_orders": open_orders, "open_incidents": open_incidents}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--raw-runs", type=int, default=5, help="runs of the company level on raw tables")
    parser.add_argument("--naive-budget", type=float, default=None,
                        help="seconds for the naive loop; past them it stops after the current community and "
                             "the time for all is extrapolated (the figures are compared on those done)")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database (for --database)")
    parser.add_argument("--database", help="a database seeded (and kept) by an earlier run: no seeding; its "
                                           "roll-ups are deleted first")
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    os.environ.setdefault("ESTATEFLOW_VAR_DIR", "/tmp/estateflow-bench-dashboard")
    from app import clock
    from app.platform.kpi import build_dashboard, month_scope

    clock.freeze(NOW)  # the seeded company lives at NOW: due times, the flow's refresh and snapshots
    name = args.database or f"ef_bench_dash_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    try:
        if args.database:  # seeded by an earlier run: its roll-ups removed, so the raw tables are timed first
            engine = create_engine(url)
            with engine.begin() as conn:
                conn.execute(text("DELETE FROM kpi_rollup"))
                counts = {t: conn.scalar(text(f"SELECT count(*) FROM {t}")) for t in (
                    "community", "household", "bill", "repair_order", "device_error", "security_incident", "wf_task")}
            counts = dict(zip(("communities", "households", "bills", "orders", "device_events", "incidents", "tasks"),
                              counts.values()))
            seed_s = None
            print(f"reusing {name}: {counts}", flush=True)
        else:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            t = time.perf_counter()
            counts = seed(url, size)
            seed_s = round(time.perf_counter() - t, 1)
            print(f"seeded {counts} in {seed_s} s", flush=True)
            engine = create_engine(url)
        with Session(engine) as session:
            ids = list(session.scalars(text("SELECT id FROM community ORDER BY id")))
            company = month_scope(ids, 6, NOW)
            community = month_scope(ids[:1], 6, NOW)
            raw_t = _timed(lambda: build_dashboard(session, company), args.raw_runs)
            print(f"company level, raw tables (no roll-ups yet): {raw_t}", flush=True)
            raw = {b.tile.id: {f.key: f.value for f in b.data.figures} for b in build_dashboard(session, company)}
            raw_one_t = _timed(lambda: build_dashboard(session, community), args.raw_runs)
            print(f"community level, raw tables: {raw_one_t}", flush=True)
            raw_one = {b.tile.id: {f.key: f.value for f in b.data.figures} for b in build_dashboard(session, community)}
            from workflows.kpi_rollup import refresh

            t = time.perf_counter()
            refresh(url, fresh_minutes=0)
            rollup_s = round(time.perf_counter() - t, 1)
            with engine.begin() as conn:  # as autovacuum would after the flow's first pass
                conn.execute(text("ANALYZE kpi_rollup"))
            print(f"roll-ups refreshed for {len(ids)} communities in {rollup_s} s", flush=True)
            built = build_dashboard(session, company)
            assert all(b.data.as_of is not None for b in built if b.tile.id in ROLLED), "tiles not from roll-ups"
            print(f"tiles: {[b.tile.id for b in built]}", flush=True)
            company_t = _timed(lambda: build_dashboard(session, company), args.runs)
            print(f"company level: {company_t}", flush=True)
            community_t = _timed(lambda: build_dashboard(session, community), args.runs)
            print(f"community level: {community_t}", flush=True)
            fast = {b.tile.id: {f.key: f.value for f in b.data.figures} for b in build_dashboard(session, company)}
            rolled_company = fast
            rolled_one = {b.tile.id: {f.key: f.value for f in b.data.figures}
                          for b in build_dashboard(session, community)}
            # roll-ups (and snapshots) and raw tables agree (times to within a tenth of a second per sample)
            for before, after in ((raw, rolled_company), (raw_one, rolled_one)):
                for tile, figures in before.items():
                    for key, value in figures.items():
                        got = after[tile][key]
                        assert got == value or (isinstance(value, float) and abs(got - value) <= 0.11), \
                            (tile, key, got, value)
            t = time.perf_counter()
            slow = naive(session, ids, company, args.naive_budget)
            naive_s = round(time.perf_counter() - t, 2)
            naive_done = len(slow["done"])
            naive_all_s = round(naive_s * len(ids) / naive_done, 1)
            print(f"naive ORM loop: {naive_s} s for {naive_done} of {len(ids)} communities"
                  f" (all: {naive_all_s} s{'' if naive_done == len(ids) else ', extrapolated'})", flush=True)
            if naive_done < len(ids):  # compare on the communities the loop summed
                subset = month_scope(slow["done"], 6, NOW)
                fast = {b.tile.id: {f.key: f.value for f in b.data.figures} for b in build_dashboard(session, subset)}
            # the two paths agree on what they both compute
            from app.platform.kpi import percent

            assert fast["fees.collection"]["collection_rate"] == percent(slow["collected"], slow["billed"])
            assert fast["devices.health"]["online_rate"] == percent(slow["online"], slow["devices"])
            assert fast["devices.health"]["failure_rate"] == percent(slow["failed"], slow["devices"])
            assert fast["repair.backlog"]["open"] == slow["open_orders"]
            assert fast["security.alerts"]["open"] == slow["open_incidents"]
            assert fast["security.alerts"]["incidents"] == slow["incidents"]
        engine.dispose()
    finally:
        if not (args.database or args.keep):
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        elif args.keep:
            print(f"kept database {name} (drop it when done)", flush=True)
        admin.dispose()
    load = os.getloadavg()[0]
    print(json.dumps({"bench": "dashboard", "quick": args.quick, **counts, "runs": args.runs,
                      "company_p50_ms": company_t["p50_ms"], "company_p95_ms": company_t["p95_ms"],
                      "community_p50_ms": community_t["p50_ms"], "community_p95_ms": community_t["p95_ms"],
                      "company_raw_p50_ms": raw_t["p50_ms"], "company_raw_p95_ms": raw_t["p95_ms"],
                      "community_raw_p50_ms": raw_one_t["p50_ms"], "community_raw_p95_ms": raw_one_t["p95_ms"],
                      "naive_seconds": naive_all_s, "naive_measured_seconds": naive_s,
                      "naive_communities": naive_done, "seed_seconds": seed_s, "rollup_seconds": rollup_s, "load": round(load, 2)}))


if __name__ == "__main__":
    main()
