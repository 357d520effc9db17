"""Inspection compliance figures over a year of patrols, on PostgreSQL.

Seeds (COPY straight into the tables, not through the engine) ``communities`` communities with
40 points and one daily route each, a run per route and day for a year and a check-in per point
per run (200 × 40 × 365 ≈ 2.9 M check-ins in the full run), ~0.5 % of them with a failed item and
a finding (most rectified on time, some late, some still open), a few runs closed early.

Measured in one run, on the same database:
* ``report``: ``compliance.monthly_report`` of one community for one month (status, failures by
  point, findings list, the self-inspection plan with each check done / missed) — p50/p95 over
  50 runs;
* ``overview``: ``compliance.overview`` of every community for one month (the regulator's page)
  — p50/p95 over 50 runs;
* the baseline: ``compliance.overview_naive`` (an ORM loop loading every run, check-in and finding
  row) for the same community (with ``plan_naive``: the plan's checks looked up one by one) and
  for all communities, once each; the figures must be equal.

Target (issue #16): p95 under 200 ms for both. Usage: python bench/inspection.py [--quick]
(quick: 20 communities × 40 points × 60 days). Needs PostgreSQL at ``ESTATEFLOW_TEST_PG_URL``
(default postgresql+psycopg://postgres@127.0.0.1:5432/postgres). Last line: one JSON object.
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

from sqlalchemy import create_engine, insert, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

PG_ADMIN_URL = os.environ.get("ESTATEFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
POINTS = 40
END = datetime(2026, 11, 30, 1, 0)  # the last run: 09:00 Beijing time, 30 November 2026
PERIOD = "2026-10"
NOW = datetime(2026, 12, 1, 2, 0)


def _p(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 2)


def seed(url: str, communities: int, days: int, rnd: random.Random) -> dict:
    from app.domains.estate.models import Community, PropertyCompany
    from app.domains.inspection.models import InspectionPoint, InspectionRoute
    from app.modules.models import ModuleActivation

    engine = create_engine(url)
    counts = {"runs": 0, "checkins": 0, "findings": 0}
    with Session(engine) as s:
        company = PropertyCompany(name="bench")
        s.add(company)
        s.flush()
        s.execute(insert(Community), [{"company_id": company.id, "code": f"B{i:03d}", "name": f"压测小区{i:03d}"}
                                      for i in range(communities)])
        ids = list(s.scalars(select(Community.id).order_by(Community.id)))
        s.execute(insert(ModuleActivation), [{"community_id": c, "module_id": "inspection", "version": "1.1.0",
                                              "enabled": True, "settings": {}} for c in ids])
        s.execute(insert(InspectionPoint), [
            {"community_id": c, "code": f"P{j:02d}", "name": f"点位{j:02d}", "kind": "fire_lane", "location": "",
             "checklist": "fire_lanes", "active": True} for c in ids for j in range(POINTS)])
        s.execute(insert(InspectionRoute), [
            {"community_id": c, "name": "日间巡查", "point_codes": " ".join(f"P{j:02d}" for j in range(POINTS)),
             "frequency": "daily", "shift": "day", "start_time": "09:00", "role": "guard", "active": True}
            for c in ids])
        s.commit()
        points = {}
        for cid, pid in s.execute(select(InspectionPoint.community_id, InspectionPoint.id)
                                  .order_by(InspectionPoint.id)):
            points.setdefault(cid, []).append(pid)
        routes = dict(s.execute(select(InspectionRoute.community_id, InspectionRoute.id)).all())
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        run_id = checkin_id = 0
        failed_checkins: list[tuple] = []
        with cur.copy("COPY inspection_run (id, number, community_id, route_id, point_ids, planned_at, due_at, "
                      "status, started_by, late, missed_point_ids, out_of_order, finished_at) FROM STDIN") as runs_copy:
            run_rows = []
            for cid in ids:
                pids = json.dumps(points[cid])
                for d in range(days):
                    planned = END - timedelta(days=days - 1 - d)
                    run_id += 1
                    closed = rnd.random() < 0.01
                    late = rnd.random() < 0.03
                    run_rows.append((run_id, cid, planned, closed))
                    runs_copy.write_row((run_id, f"PR-{cid}-{run_id}", cid, routes[cid], pids, planned,
                                         planned + timedelta(minutes=90), "closed" if closed else "completed",
                                         "schedule", late, json.dumps(points[cid][-3:] if closed else []), 0,
                                         planned + timedelta(minutes=100 if late else 60)))
        counts["runs"] = run_id
        with cur.copy("COPY inspection_checkin (id, community_id, run_id, point_id, at, received_at, by, sequence, "
                      "in_order, answers, items_checked, items_failed) FROM STDIN") as copy:
            answers = json.dumps({"lane_clear": True, "exits_clear": True, "signs_present": True, "photo": []})
            bad = json.dumps({"lane_clear": False, "exits_clear": True, "signs_present": True, "photo": []})
            for rid, cid, planned, closed in run_rows:
                for seq, pid in enumerate(points[cid][:-3] if closed else points[cid]):
                    checkin_id += 1
                    at = planned + timedelta(seconds=60 * seq + 30)
                    fail = rnd.random() < 0.005
                    copy.write_row((checkin_id, cid, rid, pid, at, at, "guard", seq + 1, True,
                                    bad if fail else answers, 3, 1 if fail else 0))
                    if fail:
                        failed_checkins.append((checkin_id, cid, pid, at))
        counts["checkins"] = checkin_id
        with cur.copy("COPY inspection_finding (id, number, community_id, source, checkin_id, point_id, item, "
                      "description, clause, severity, role, status, opened_at, deadline_at, rectified_at, "
                      "accepted_at, before_photos, after_photos) FROM STDIN") as copy:
            for i, (cid_in, cid, pid, at) in enumerate(failed_checkins, start=1):
                deadline = at + timedelta(hours=24)
                roll = rnd.random()
                if roll < 0.85:
                    rectified, status = at + timedelta(hours=rnd.randrange(1, 24)), "accepted"
                elif roll < 0.95:
                    rectified, status = at + timedelta(hours=rnd.randrange(25, 72)), "accepted"
                else:
                    rectified, status = None, "open"
                copy.write_row((i, f"ZG-{i}", cid, "patrol", cid_in, pid, "lane_clear", "消防车通道被占用",
                                "《消防法》第二十八条", "high", "guard", status, at, deadline, rectified,
                                rectified + timedelta(hours=1) if rectified else None, "[]", "[]"))
        counts["findings"] = len(failed_checkins)
        for table, column in (("inspection_run", "id"), ("inspection_checkin", "id"), ("inspection_finding", "id")):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), (SELECT max({column}) FROM {table}))")
        raw.commit()
    finally:
        raw.close()
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    engine.dispose()
    counts["community_ids"] = ids
    return counts


def plan_naive(session, community_id: int, period: str, now: datetime) -> tuple[int, int, int, int]:
    """The plan's (due, done, missed, upcoming) by an ORM loop: per route, day and point, the
    day's runs and a check-in looked up one by one (the baseline for the report's plan part)."""
    from app.domains.inspection.models import InspectionCheckIn, InspectionRun
    from app.domains.inspection.plans import plan_lines
    from app.localtime import from_local, to_local

    due = done = missed = upcoming = 0
    today = to_local(now).date().isoformat()
    for line in plan_lines(session, community_id, period):
        for day in line["dates"]:
            start = from_local(datetime.fromisoformat(day))
            day_runs = list(session.scalars(select(InspectionRun).where(
                InspectionRun.route_id == line["route_id"], InspectionRun.planned_at >= start,
                InspectionRun.planned_at < start + timedelta(days=1))))
            over = all(r.status != "open" for r in day_runs) if day_runs else day < today
            for point in line["points"]:
                due += 1
                hit = any(session.scalar(select(InspectionCheckIn).where(
                    InspectionCheckIn.run_id == r.id, InspectionCheckIn.point_id == point["id"])) for r in day_runs)
                done += hit
                missed += (not hit) and over
                upcoming += (not hit) and not over
    return due, done, missed, upcoming


def measure(url: str, ids: list[int], repeats: int) -> dict:
    from app.domains.inspection import compliance

    engine = create_engine(url)
    one = ids[len(ids) // 2]
    out = {}
    with Session(engine) as s:
        compliance.monthly_report(s, one, PERIOD)  # warm the statement caches
        compliance.overview(s, ids, PERIOD, now=NOW)
        report_ms, overview_ms = [], []
        for _ in range(repeats):
            t = time.perf_counter()
            report = compliance.monthly_report(s, one, PERIOD)
            report_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            fast = compliance.overview(s, ids, PERIOD, now=NOW)
            overview_ms.append((time.perf_counter() - t) * 1000)
            s.expire_all()
        t = time.perf_counter()
        naive_one = compliance.overview_naive(s, [one], PERIOD, now=NOW)
        naive_plan = plan_naive(s, one, PERIOD, NOW)
        naive_report_ms = (time.perf_counter() - t) * 1000
        plan = report["plan"].total
        assert naive_plan == (plan.due, plan.done, plan.missed, plan.upcoming), (naive_plan, plan)
        s.expire_all()
        t = time.perf_counter()
        naive_all = compliance.overview_naive(s, ids, PERIOD, now=NOW)
        naive_overview_ms = (time.perf_counter() - t) * 1000
        fast_one = compliance.overview(s, [one], PERIOD, now=NOW)
        assert [vars(x) for x in naive_one] == [vars(x) for x in fast_one], (naive_one, fast_one)
        assert [vars(x) for x in naive_all] == [vars(x) for x in fast], "naive and grouped overviews differ"
        out = {
            "report_p50_ms": _p(report_ms, 0.5), "report_p95_ms": _p(report_ms, 0.95),
            "overview_p50_ms": _p(overview_ms, 0.5), "overview_p95_ms": _p(overview_ms, 0.95),
            "naive_report_ms": round(naive_report_ms, 1), "naive_overview_ms": round(naive_overview_ms, 1),
            "report_findings": len(report["findings"]), "report_points": len(report["by_point"]),
            "report_plan_checks": plan.due, "report_plan_missed": plan.missed,
            "month_checkins_all": sum(x.checkins for x in fast),
            "report_mean_ms": round(statistics.mean(report_ms), 2),
        }
    engine.dispose()
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 communities × 60 days")
    parser.add_argument("--communities", type=int)
    parser.add_argument("--days", type=int)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args(argv)
    communities = args.communities or (20 if args.quick else 200)
    days = args.days or (60 if args.quick else 365)
    from app.migrate import upgrade

    name = f"ef_inspbench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        version = conn.scalar(text("SHOW server_version"))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    load_at_start = os.getloadavg()[0]
    try:
        upgrade(url)
        t = time.perf_counter()
        counts = seed(url, communities, days, random.Random(16))
        seed_s = round(time.perf_counter() - t, 1)
        print(f"seeded {communities} communities, {counts['runs']} runs, {counts['checkins']} check-ins, "
              f"{counts['findings']} findings by COPY in {seed_s} s", flush=True)
        figures = measure(url, counts["community_ids"], args.repeats)
        print(f"monthly report (one community): p50 {figures['report_p50_ms']} ms, p95 {figures['report_p95_ms']} ms; "
              f"naive ORM loop {figures['naive_report_ms']} ms", flush=True)
        print(f"regulator's overview ({communities} communities): p50 {figures['overview_p50_ms']} ms, "
              f"p95 {figures['overview_p95_ms']} ms; naive ORM loop {figures['naive_overview_ms']} ms", flush=True)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    result = {"communities": communities, "points": POINTS, "days": days, "runs": counts["runs"],
              "checkins": counts["checkins"], "findings": counts["findings"], "seed_seconds": seed_s,
              "repeats": args.repeats, "period": PERIOD, **figures,
              "target_p95_ms": 200, "database": f"postgresql {version}", "cpus": os.cpu_count(),
              "load_average_1m_at_start": round(load_at_start, 1), "load_average_1m": round(os.getloadavg()[0], 1)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
