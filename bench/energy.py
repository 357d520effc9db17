"""Benchmark: a year of hourly meter readings on PostgreSQL — backfill analysis, nightly
analysis, a month's 公摊 for every household — against the physical limit of reading the
year once (``COPY (SELECT ...) TO STDOUT``), measured in the same run.

Full: 10,000 meters × 8,760 hours ≈ 87.6 M rows; ``--quick``: 1,000 meters ≈ 8.8 M rows;
``--meters N`` for any other size. Seeding uses COPY into the monthly partitions (its time
is reported). Buildings of 50 households; each building has a master water meter over the
households' water meters and a public stairwell meter; the rest are household meters.

Measured:
- ``seconds`` (backfill): for each month of the year, the monthly usage of every meter stored
  and the daily use per meter (the detection's history), both from ONE window-function scan of
  the month's partition grouped by meter and local day in the database
  (``monthly.derive_month_and_days``) — streamed month by month, never the year at once;
- ``nightly_seconds``: ``detection.analyse`` on the month's last day (01:30 local on 30 November,
  the backfill's days kept through the 28th as the previous night left them): it derives only
  the days since (``monthly.catch_up``: the 29th and the 30th, the month stored again as the
  sum of its stored days), then the 24 h window measures, the 28-day history from the stored
  days, the master/sub-meter balance from the stored month, silent meters;
- ``nightly_rescan_seconds``: for comparison, what the nightly run did before at the same
  moment — the month so far scanned again (``monthly.compute_month``) and the 28-day history
  grouped from the readings;
- ``apportionment_seconds``: ``apportionment.issue`` of the last month (every household,
  charges written);
- ``limit_seconds``: ``COPY (SELECT meter_id, at, value FROM energy_reading) TO STDOUT``
  read to the end by the client; ``ratio`` = seconds / limit_seconds.
- ``peak_mb``: the bench process's peak RSS (the PostgreSQL server's memory is not in it).

- ``night_min_pandas_vs_sql``: the leak measure (night minimum flow per meter and local day)
  computed the app's way (readings out, rates in pandas: ``detection._window``) and in SQL
  (window function + GROUP BY in PostgreSQL), over the last day (every meter) and the last 30
  days (the first 1,000 meters).

Last line: JSON. Targets (full size): ratio ≤ 3, peak < 2 GB, nightly < 10 s, apportionment < 5 s.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PG_ADMIN = os.environ.get("ESTATEFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
YEAR_START = datetime(2025, 12, 1)  # a year: 2025-12 … 2026-11 (UTC-naive, local month bounds differ by 8 h)
HOURS = 8760
PER_BUILDING = 50


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _database() -> tuple[str, str]:
    from sqlalchemy import create_engine, text

    name = f"ef_bench_energy_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"


def _drop(name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _estate(session, meters: int):
    """Community, buildings, households, meters; returns (community_id, meter rows)."""
    from sqlalchemy import insert, select

    from app.domains.energy.models import EnergyMeter
    from app.domains.estate.models import Building, Community, Household, PropertyCompany, Unit
    from app.modules.activation import enable_module
    from app.modules.catalog import load_catalog
    from app.platform.processes import install_hooks
    from app.settings import get_settings

    company = PropertyCompany(name="压测物业")
    community = Community(company=company, code="BENCH", name="压测小区")
    session.add_all([company, community])
    session.flush()
    cid = community.id
    buildings = max(1, meters // (PER_BUILDING + 2))
    plan = []  # (code, role, kind, building index, unit index or None)
    for b in range(buildings):
        plan.append((f"WM-{b}-M", "master", "water", b, None))
        plan.append((f"EM-{b}-P", "public", "electricity", b, None))
        for u in range(PER_BUILDING):
            plan.append((f"WM-{b}-{u:02d}", "household", "water", b, u))
    plan = plan[:meters] + [(f"WM-X-{i}", "household", "water", 0, PER_BUILDING + i)
                            for i in range(max(0, meters - len(plan)))]
    bids = []
    for b in range(buildings):
        building = Building(community_id=cid, code=str(b + 1), name=f"{b + 1}号楼")
        session.add(building)
        session.flush()
        bids.append(building.id)
    units: dict[tuple[int, int], int] = {}
    for code, role, kind, b, u in plan:
        if u is not None and (b, u) not in units:
            unit = Unit(community_id=cid, building_id=bids[b], number=f"{u:03d}", floor=u // 4 + 1,
                        area_m2=Decimal(50 + (u * 7) % 60))
            session.add(unit)
            session.flush()
            session.add(Household(community_id=cid, unit_id=unit.id, code=f"BENCH-{b + 1}-{u:03d}",
                                  head_name="户", active=True))
            units[(b, u)] = unit.id
    session.flush()
    masters: dict[int, int] = {}
    for code, role, kind, b, u in plan:
        if role == "master":
            m = EnergyMeter(community_id=cid, code=code, name=code, kind=kind, role=role, unit="m3",
                            building_id=bids[b], handheld=False, active=True)
            session.add(m)
            session.flush()
            masters[b] = m.id
    session.execute(insert(EnergyMeter), [
        {"community_id": cid, "code": code, "name": code, "kind": kind, "role": role,
         "unit": "m3" if kind == "water" else "kWh", "building_id": bids[b],
         "unit_id": units.get((b, u)) if u is not None else None,
         "master_id": masters.get(b) if role == "household" else None, "handheld": False, "active": True}
        for code, role, kind, b, u in plan if role != "master"])
    install_hooks()
    enable_module(session, catalog=load_catalog(get_settings().assets_dir), community_id=cid, module_id="energy",
                  settings={"apportionment_method": "area"}, actor="bench")
    session.commit()
    rows = session.execute(select(EnergyMeter.id, EnergyMeter.role, EnergyMeter.master_id)
                           .where(EnergyMeter.community_id == cid).order_by(EnergyMeter.id)).all()
    return cid, rows


def _seed(engine, rows) -> float:
    """COPY a year of hourly readings; master meters = their sub-meters' use + 10%."""
    import numpy as np

    hours = np.arange(HOURS)
    local_hour = (hours + 8) % 24
    shape = np.where((local_hour >= 1) & (local_hour <= 5), 0.05, 1.0 + 0.5 * np.sin(hours / 24 * 2 * np.pi) ** 2)
    stamps = [(YEAR_START + timedelta(hours=int(h))).strftime("%Y-%m-%d %H:%M:%S") for h in hours]
    rng = np.random.default_rng(7)
    sub_sum: dict[int, np.ndarray] = {}
    t0 = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy("COPY energy_reading (meter_id, at, value, quality, source) FROM STDIN") as copy:
            ordered = [r for r in rows if r[1] != "master"] + [r for r in rows if r[1] == "master"]
            for meter_id, role, master_id in ordered:
                if role == "master":
                    use = sub_sum.get(meter_id, np.zeros(HOURS)) * 1.10
                else:
                    use = shape * (0.015 if role == "household" else 0.4) * rng.uniform(0.6, 1.4, HOURS)
                    if master_id is not None:
                        sub_sum[master_id] = sub_sum.get(master_id, np.zeros(HOURS)) + use
                values = np.round(100 + np.cumsum(use), 4)
                copy.write("".join(f"{meter_id}\t{s}\t{v:.4f}\tgood\tiot\n" for s, v in zip(stamps, values.tolist())))
        raw.commit()
        cur.execute("ANALYZE")  # every table (as autovacuum would): the planner needs the meters' stats too
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - t0


def _limit(engine) -> tuple[float, int]:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        t0 = time.perf_counter()
        size = 0
        with cur.copy("COPY (SELECT meter_id, at, value FROM energy_reading) TO STDOUT") as copy:
            for block in copy:
                size += len(block)
        return time.perf_counter() - t0, size
    finally:
        raw.rollback()
        raw.close()


_NIGHT_SQL = """
SELECT meter_id, local_day, min(rate) FROM (
  SELECT meter_id, date(at + interval '{m} minutes') AS local_day,
         (value - lag(value) OVER w) / (extract(epoch FROM at - lag(at) OVER w) / 3600) AS rate,
         extract(epoch FROM (at + interval '{m} minutes')::time) / 3600 AS end_hour,
         extract(epoch FROM (lag(at) OVER w + interval '{m} minutes')::time) / 3600 AS start_hour
  FROM energy_reading WHERE meter_id = ANY(:ids) AND at >= :since AND at < :until
  WINDOW w AS (PARTITION BY meter_id ORDER BY at)) d
WHERE rate IS NOT NULL AND start_hour >= 2 AND end_hour <= 5 AND end_hour > start_hour
GROUP BY meter_id, local_day
"""


def _night_pandas(session, ids, since, until) -> dict:
    """Night minimum flow (2–5 a.m. local) per meter and local day, the app's way: one query for
    the readings, the rates and the filter in pandas (``detection._window``)."""
    from app.domains.energy.detection import _window
    from app.localtime import offset

    import pandas as pd

    frame = _window(session, ids, since, until)
    night = frame[(frame["start_hour"] >= 2 - 1e-9) & (frame["local_hour"] <= 5 + 1e-9) & frame["rate"].notna()]
    day = (night["at"] + pd.Timedelta(offset(until))).dt.date
    return {k: round(v, 6) for k, v in night.groupby([night["meter_id"], day])["rate"].min().items()}


def _night_sql(session, ids, since, until) -> dict:
    """The same measure computed in PostgreSQL (window function + GROUP BY); rows out only."""
    from sqlalchemy import text

    from app.localtime import offset

    minutes = int(offset(until).total_seconds() // 60)
    rows = session.execute(text(_NIGHT_SQL.format(m=minutes)), {"ids": ids, "since": since, "until": until}).all()
    return {(m, d): round(float(v), 6) for m, d, v in rows}


def _pandas_vs_sql(session, ids, end_at) -> dict:
    """Both ways over the last day (the nightly case, every meter) and the last 30 days (a
    backfill month, the first 1,000 meters)."""
    out = {}
    for label, days in (("day", 1), ("month", 30)):
        since = end_at - timedelta(days=days)
        ids = ids if days == 1 else ids[:1000]  # a month of 1,000 meters (720,000 rows) in pandas at most
        timings = {}
        results = {}
        for way, fn in (("pandas", _night_pandas), ("sql", _night_sql)):
            t0 = time.perf_counter()
            results[way] = fn(session, ids, since, end_at + timedelta(seconds=1))
            timings[way] = round(time.perf_counter() - t0, 3)
        same = results["pandas"].keys() == results["sql"].keys() and all(
            abs(results["pandas"][k] - results["sql"][k]) < 1e-4 for k in results["sql"])
        out[label] = {**timings, "same_result": same, "groups": len(results["sql"]),
                      "sql_speedup": round(timings["pandas"] / max(timings["sql"], 1e-6), 2)}
    return out


def _as_left_the_night_before(engine, community_id: int, through: date) -> None:
    """The state the nightly run of the 29th leaves: days derived through the 28th."""
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM energy_daily_usage WHERE community_id = :c AND day > :d"),
                     {"c": community_id, "d": through})
        conn.execute(text("UPDATE energy_derivation SET complete_through = :d WHERE community_id = :c"),
                     {"c": community_id, "d": through})


def _rescan(session, community_id: int, ids: list[int], now: datetime) -> float:
    """The nightly run's derivation before the daily figures: the month so far in one scan and
    the 28-day history grouped from the readings (timed together)."""
    from sqlalchemy import func, select

    from app.domains.energy.days import local_day
    from app.domains.energy.models import EnergyReading
    from app.domains.energy.monthly import compute_month
    from app.localtime import to_local

    t0 = time.perf_counter()
    compute_month(session, community_id, f"{to_local(now):%Y-%m}")
    day = local_day(session)
    session.execute(select(EnergyReading.meter_id, day, func.max(EnergyReading.value) - func.min(EnergyReading.value))
                    .where(EnergyReading.meter_id.in_(ids), EnergyReading.at >= now - timedelta(days=29),
                           EnergyReading.at < now - timedelta(hours=24))
                    .group_by(EnergyReading.meter_id, day)).all()
    return time.perf_counter() - t0


def _months() -> list[str]:
    return [f"{(YEAR_START.year * 12 + YEAR_START.month - 1 + i) // 12}-"
            f"{(YEAR_START.month - 1 + i) % 12 + 1:02d}" for i in range(12)]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 meters (≈ 8.8 M rows)")
    parser.add_argument("--meters", type=int, help="any other number of meters")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--no-comparison", action="store_true", help="leave out the pandas/SQL comparison")
    args = parser.parse_args(argv)
    meters = args.meters or (1000 if args.quick else 10000)
    os.environ.setdefault("ESTATEFLOW_VAR_DIR", f"/tmp/ef-bench-energy-{os.getpid()}")

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from app import clock
    from app.domains.energy import apportionment
    from app.domains.energy.detection import analyse
    from app.domains.energy.monthly import derive_month_and_days
    from app.domains.energy.partitions import ensure_partitions
    from app.localtime import from_local
    from app.platform.discovery import import_all_models

    name, url = _database()
    if args.keep:
        print(f"database: {name}", file=sys.stderr)
    engine = create_engine(url)
    try:
        import_all_models().create_all(engine)
        with Session(engine) as s:
            ensure_partitions(s, date(2025, 11, 1), months=15)
            s.commit()
            cid, rows = _estate(s, meters)
        seed_s = _seed(engine, rows)
        readings = HOURS * len(rows)
        limit_s, limit_bytes = _limit(engine)

        t0 = time.perf_counter()
        ids = [r[0] for r in rows]
        with Session(engine) as s:
            for period in _months():
                derive_month_and_days(s, cid, period)  # one scan: the month stored + the daily history
                s.commit()
        backfill_s = time.perf_counter() - t0

        end_at = YEAR_START + timedelta(hours=HOURS - 1)
        night_at = from_local(datetime(2026, 11, 30, 1, 30))
        _as_left_the_night_before(engine, cid, date(2026, 11, 28))
        clock.freeze(night_at)
        with Session(engine) as s:
            t0 = time.perf_counter()
            found = analyse(s, cid, night_at)
            nightly_s = time.perf_counter() - t0
            s.rollback()
        with Session(engine) as s:
            rescan_s = _rescan(s, cid, ids, night_at)
            s.rollback()
        clock.freeze(end_at)
        with Session(engine) as s:
            t0 = time.perf_counter()
            made = apportionment.issue(s, cid, _months()[-2], "electricity", actor="bench")
            s.commit()
            apportion_s = time.perf_counter() - t0
            households = sum(a.households for a in made)
        peak = _peak_mb()  # the measured work; the comparison below loads a month in pandas
        night = None
        if not args.no_comparison:
            with Session(engine) as s:
                night = _pandas_vs_sql(s, ids, end_at)
                s.rollback()
        clock.reset()
    finally:
        engine.dispose()
        if not args.keep:
            _drop(name)
    result = {"meters": len(rows), "rows": readings, "seed_seconds": round(seed_s, 2),
              "seconds": round(backfill_s, 2), "limit_seconds": round(limit_s, 2),
              "limit_mb": round(limit_bytes / 2**20, 1), "ratio": round(backfill_s / limit_s, 2),
              "nightly_seconds": round(nightly_s, 2), "nightly_rescan_seconds": round(rescan_s, 2),
              "nightly_findings": len(found),
              "nightly_kinds": dict(sorted(Counter(f.kind for f in found).items())),
              "apportionment_seconds": round(apportion_s, 2), "apportioned_households": households,
              "night_min_pandas_vs_sql": night, "peak_mb": peak,
              "peak_mb_with_comparison": _peak_mb(), "load_avg": os.getloadavg()[0]}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
