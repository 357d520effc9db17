"""The billing flow's logic and the CLI entry: preview, issue once, refusals, on both databases."""
from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import clock
from app.domains.estate.models import Community, PropertyCompany
from app.domains.estate.models import Building, Unit
from app.domains.devices.models import Device
from app.domains.fees.models import Bill, BillingRun
from app.modules.models import ModuleActivation
from app.domains.estate.models import Household


@pytest.fixture(autouse=True)
def frozen_clock():
    clock.freeze(datetime(2026, 11, 2, 9, 0))
    yield
    clock.reset()


def seed(session, code="W1", meter=False):
    company = PropertyCompany(name=f"co-{code}")
    community = Community(company=company, code=code, name="流程小区")
    session.add_all([company, community])
    session.flush()
    building = Building(community_id=community.id, code="1", name="1号楼")
    session.add(building)
    session.flush()
    for n in ("101", "102", "201"):
        unit = Unit(community_id=community.id, building_id=building.id, number=n, floor=int(n[0]),
                    area_m2=Decimal("70.00"))
        session.add(unit)
        session.flush()
        session.add(Household(community_id=community.id, unit_id=unit.id, code=f"{code}-1-{n}", head_name="户主"))
        if meter and n == "101":
            session.add(Device(community_id=community.id, code="WM-1", name="水表", profile="water_meter_dn20",
                               address="127.0.0.1:5020/1", unit_id=unit.id))
    session.add(ModuleActivation(community_id=community.id, module_id="fees", version="1.0.0", enabled=True,
                                 settings={}))
    session.commit()
    return community


def test_flow_bills_every_enabled_community_once(session, db_engine):
    from workflows.billing_run import communities_with_fees, run_all

    seed(session, "W1")
    seed(session, "W2")
    url = db_engine.url.render_as_string(hide_password=False)
    assert communities_with_fees(url) == ["W1", "W2"]
    results = run_all("2026-10", database_url=url)
    assert {c: (r["status"], r["bills"], r["total_cents"]) for c, r in results.items()} == {
        "W1": ("issued", 3, 3 * (5950 + 300)), "W2": ("issued", 3, 3 * (5950 + 300))}
    with Session(db_engine) as check:
        run = check.scalar(select(BillingRun).join(Community).where(Community.code == "W1"))
        assert (run.status, run.progress, run.total) == ("issued", 3, 3)
    again = run_all("2026-10", database_url=url)
    assert again["W1"]["error"] == "already_billed"
    with Session(db_engine) as check:
        assert check.scalar(select(func.count(Bill.id))) == 6


def test_cli_preview_then_issue_and_refusals(session, db_engine, capsys):
    from app.domains.fees.billing_cli import main

    seed(session, "C1", meter=True)  # the meter has no readings: an anomaly
    url = db_engine.url.render_as_string(hide_password=False)
    assert main(["run", "--community", "C1", "--period", "2026-10", "--preview", "--database-url", url]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert "anomaly: missing_reading C1-1-101 WM-1" in "\n".join(out)
    assert json.loads(out[-1])["bills"] == 3
    assert main(["run", "--community", "C1", "--period", "2026-10", "--database-url", url]) == 1
    captured = capsys.readouterr()
    assert "missing meter readings" in captured.err and json.loads(captured.out.splitlines()[-1])["error"] == "anomalies"
    with Session(db_engine) as check:
        assert check.scalar(select(func.count(Bill.id))) == 0
        assert check.scalar(select(BillingRun.status)) == "preview"
    assert main(["run", "--community", "C1", "--period", "2026-10", "--accept-anomalies", "--database-url", url]) == 0
    assert main(["run", "--community", "C1", "--period", "2026-10", "--database-url", url, "--lang", "zh"]) == 1
    assert "不会重复出账" in capsys.readouterr().err
    assert main(["run", "--community", "C1", "--period", "2026-1", "--database-url", url]) == 1
    with Session(db_engine) as check:
        assert check.scalar(select(func.count(Bill.id))) == 3


def test_late_fee_flow_accrues_once_per_day(session, db_engine):
    from datetime import date

    from workflows.billing_run import accrue_all, run_all

    seed(session, "L1")
    url = db_engine.url.render_as_string(hide_password=False)
    run_all("2026-10", database_url=url)  # issued 2026-11-02, due 2026-11-17
    assert accrue_all(date(2026, 12, 17), database_url=url) == {"L1": {"bills": 0, "added_cents": 0}}
    first = accrue_all(date(2026, 12, 27), database_url=url)  # 10 days after the 30-day grace
    assert first["L1"]["bills"] == 3 and first["L1"]["added_cents"] == 3 * 19  # 62.50 × 0.0003 × 10 → 0.19
    assert accrue_all(date(2026, 12, 27), database_url=url)["L1"]["bills"] == 0
