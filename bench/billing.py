"""Billing run for 100,000 households with three fee items each, on PostgreSQL.

Items: property fee (floor area × rate), waste fee (fixed), water (meter usage × 阶梯 tiers,
Beijing 5/7/9 yuan). Every household has a water meter with a reading before and at the end
of the period, so each bill has three lines: 100,000 bills and 300,000 lines written.

Measured in one run, each in a fresh child process (so ``peak_mb`` is that phase's own
peak resident memory):
* ``vectorised``: ``app.domains.fees.billing.issue`` (pandas, one evaluation per item, Core bulk
  inserts) — compute + write + commit;
* ``naive``: the baseline, a per-household ORM loop (query the unit and meter readings,
  evaluate each formula, ``session.add`` a bill and its lines) on a sample, extrapolated.

Target: under 10 s for 100,000 households on PostgreSQL on two cores.
Usage: python bench/billing.py [--quick]  (quick: 5,000 households). Needs PostgreSQL at
``ESTATEFLOW_TEST_PG_URL`` (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
Last line of output: one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, insert, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

PG_ADMIN_URL = os.environ.get("ESTATEFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PERIOD = "2026-10"
NOW = datetime(2026, 11, 2, 9, 0)
ITEMS = ("property_fee", "waste_fee", "water")


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _items():
    from app.domains.fees.fee_items import FeeItemSet, load_items

    shipped = load_items("BENCH")
    return FeeItemSet(items=tuple(i for i in shipped.items if i.id in ITEMS), due_days=shipped.due_days)


def seed(url: str, code: str, households: int) -> None:
    """A community with ``households`` units/households, one water meter and two readings each."""
    from app.domains.devices.models import Device
    from app.domains.estate.models import (
        Building,
        Community,
        Household,
        PropertyCompany,
        Unit,
    )
    from app.modules.models import ModuleActivation
    from connectors.models import MeterReading

    engine = create_engine(url)
    with Session(engine) as s:
        company = s.scalar(select(PropertyCompany).where(PropertyCompany.name == "bench")) or PropertyCompany(name="bench")
        community = Community(company=company, code=code, name=f"压测小区{code}")
        s.add(community)
        s.flush()
        s.add(ModuleActivation(community_id=community.id, module_id="fees", version="1.0.0", enabled=True,
                               settings={}))
        per_building = 200
        n_buildings = (households + per_building - 1) // per_building
        s.execute(insert(Building), [{"community_id": community.id, "code": str(b + 1), "name": f"{b + 1}号楼",
                                      "floors": 6} for b in range(n_buildings)])
        buildings = dict(s.execute(select(Building.code, Building.id).where(Building.community_id == community.id)).all())
        units = []
        for i in range(households):
            b = i // per_building + 1
            units.append({"community_id": community.id, "building_id": buildings[str(b)], "number": f"{i % per_building + 101}",
                          "floor": 1 + (i % per_building) // 34,
                          "area_m2": Decimal(45 + (i * 37) % 8000 / 100).quantize(Decimal("0.01"))})
        s.execute(insert(Unit), units)
        unit_ids = s.scalars(select(Unit.id).where(Unit.community_id == community.id).order_by(Unit.id)).all()
        s.execute(insert(Household), [{"community_id": community.id, "unit_id": u, "code": f"{code}-{u}",
                                       "head_name": "住户", "active": True, "elderly_alone": False,
                                       "medical_exemption": False, "disability_exemption": False,
                                       "prepaid_balance_cents": 0} for u in unit_ids])
        s.execute(insert(Device), [{"community_id": community.id, "code": f"WM-{u}", "name": "水表",
                                    "profile": "water_meter_dn20", "address": f"10.0.0.1:502/{u % 247 + 1}",
                                    "unit_id": u, "status": "online"} for u in unit_ids])
        devices = s.scalars(select(Device.id).where(Device.community_id == community.id).order_by(Device.id)).all()
        readings = []
        for j, d in enumerate(devices):
            start = Decimal(100 + j % 500)
            readings.append({"device_id": d, "register": "total", "value": start, "unit": "m3", "quality": "good",
                             "at": datetime(2026, 9, 30, 23, 0)})
            readings.append({"device_id": d, "register": "total", "value": start + Decimal(j % 40) + Decimal("0.5"),
                             "unit": "m3", "quality": "good", "at": datetime(2026, 10, 31, 23, 0)})
        s.execute(insert(MeterReading), readings)
        s.commit()
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    engine.dispose()


def measure_vectorised(url: str, code: str) -> dict:
    from app import clock
    from app.domains.estate.models import Community
    from app.domains.fees import billing
    from app.domains.fees.models import Bill, BillLine

    clock.freeze(NOW)
    engine = create_engine(url)
    with Session(engine) as s:
        community_id = s.scalar(select(Community.id).where(Community.code == code))
        items = _items()
        started, cpu = time.perf_counter(), time.process_time()
        run = billing.issue(s, community_id, PERIOD, actor="bench", items=items)
        s.commit()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        bills = s.scalar(select(__import__("sqlalchemy").func.count(Bill.id)).where(Bill.billing_run_id == run.id))
        lines = s.scalar(select(__import__("sqlalchemy").func.count(BillLine.id)).join(Bill)
                         .where(Bill.billing_run_id == run.id))
    engine.dispose()
    return {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "bills": bills, "lines": lines,
            "peak_mb": _peak_mb()}


def measure_naive(url: str, code: str) -> dict:
    """The baseline: one household at a time through the ORM."""
    from datetime import timedelta

    from app.domains.devices.models import Device
    from app.domains.devices.registry import billable_readings
    from app.domains.estate.models import Community, Household
    from app.domains.fees.fee_items import resolve_params, round_cents
    from app.domains.fees.models import Bill, BillLine
    from app.engine.evaluator import evaluate_expression

    engine = create_engine(url)
    items = _items()
    with Session(engine) as s:
        community = s.scalar(select(Community).where(Community.code == code))
        started = time.perf_counter()
        homes = s.scalars(select(Household).where(Household.community_id == community.id).order_by(Household.id)).all()
        for seq, home in enumerate(homes, start=1):
            bill = Bill(number=f"{code}-{PERIOD}-{seq:06d}", community_id=community.id, household_id=home.id,
                        period=PERIOD, kind="monthly", status="open", amount_cents=0, paid_cents=0,
                        issued_at=NOW, due_date=(NOW + timedelta(days=15)).date())
            for item in items.items:
                params = resolve_params(item, {"fee_rate_per_m2": Decimal("0.85")})
                data = dict(params)
                if item.basis == "area":
                    data["area_m2"] = home.unit.area_m2
                elif item.basis == "usage":
                    meter = s.scalar(select(Device).where(Device.community_id == community.id,
                                                          Device.unit_id == home.unit_id))
                    readings = billable_readings(s, meter, until=datetime(2026, 11, 1))
                    data["usage"] = readings[-1].value - readings[0].value
                    data["prior_usage"] = Decimal(0)
                value = evaluate_expression(item.formula, data, {"tiered": lambda u, p, t=item.tiers: t.charge(u, p)})
                cents = round_cents(Decimal(value))
                bill.lines.append(BillLine(item=item.id, kind="charge", description=item.label["zh"],
                                           quantity=Decimal(1), unit_price=Decimal(value), amount_cents=cents,
                                           explanation={"inputs": {k: str(v) for k, v in data.items()},
                                                        "formula": item.formula}))
                bill.amount_cents += cents
            s.add(bill)
            s.flush()
        s.commit()
        seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": round(seconds, 2), "households": len(homes), "peak_mb": _peak_mb()}


def _child(phase: str, url: str, code: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--phase", phase, "--url", url, "--code", code],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 households instead of 100,000")
    parser.add_argument("--households", type=int)
    parser.add_argument("--phase", choices=["vectorised", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--code", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        fn = measure_vectorised if args.phase == "vectorised" else measure_naive
        print(json.dumps(fn(args.url, args.code)))
        return {}

    households = args.households or (5_000 if args.quick else 100_000)
    sample = min(households, 1_000 if args.quick else 2_000)
    from app.platform.discovery import import_all_models

    name = f"ef_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        version = conn.scalar(text("SHOW server_version"))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        engine = create_engine(url)
        import_all_models().create_all(engine)
        engine.dispose()
        t = time.perf_counter()
        seed(url, "BENCH", households)
        seed(url, "NAIVE", sample)
        print(f"seeded {households} + {sample} households in {time.perf_counter() - t:.1f} s", flush=True)
        load_at_start = os.getloadavg()[0]  # the machine is shared: report the load with each figure
        fast = _child("vectorised", url, "BENCH")
        print(f"vectorised: {households} households, {fast['bills']} bills, {fast['lines']} lines "
              f"in {fast['seconds']} s ({fast['cpu_seconds']} s CPU in Python), peak {fast['peak_mb']} MB",
              flush=True)
        naive = _child("naive", url, "NAIVE")
        extrapolated = round(naive["seconds"] * households / naive["households"], 1)
        print(f"naive ORM loop: {naive['households']} households in {naive['seconds']} s "
              f"→ {extrapolated} s for {households} (extrapolated), peak {naive['peak_mb']} MB", flush=True)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    load = os.getloadavg()[0]
    result = {"households": households, "seconds": fast["seconds"], "peak_mb": fast["peak_mb"],
              "cpu_seconds": fast["cpu_seconds"], "load_average_1m": round(load, 1),
              "load_average_1m_at_start": round(load_at_start, 1),
              "database": f"postgresql {version}", "bills": fast["bills"], "lines": fast["lines"],
              "items_per_household": len(ITEMS), "cpus": os.cpu_count(),
              "baseline": {"name": "naive per-household ORM loop", "sample_households": naive["households"],
                           "sample_seconds": naive["seconds"], "extrapolated_seconds": extrapolated,
                           "peak_mb": naive["peak_mb"]},
              "speedup": round(extrapolated / fast["seconds"], 1) if fast["seconds"] else None,
              "target_seconds": 10}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
