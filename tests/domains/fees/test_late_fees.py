"""Late fees: daily rate after the grace period, capped, their own line, idempotent per day."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app import clock
from app.domains.estate.models import (
    Building,
    Community,
    Household,
    PropertyCompany,
    Unit,
)
from app.domains.fees.late_fees import accrue_late_fees, late_fee_line
from app.domains.fees.models import Bill, BillLine
from app.modules.models import ModuleActivation


@pytest.fixture(autouse=True)
def frozen_clock():
    clock.freeze(datetime(2026, 11, 2, 9, 0))
    yield
    clock.reset()


def make_bill(session, amount_cents=10_000, due=date(2026, 10, 15), paid_cents=0, code="L1"):
    company = PropertyCompany(name=f"co-{code}")
    community = Community(company=company, code=code, name="小区")
    session.add_all([company, community])
    session.flush()
    building = Building(community_id=community.id, code="1", name="1号楼")
    session.add(building)
    session.flush()
    unit = Unit(community_id=community.id, building_id=building.id, number="101", floor=1, area_m2=Decimal("60"))
    session.add(unit)
    session.flush()
    home = Household(community_id=community.id, unit_id=unit.id, code=f"{code}-1-101", head_name="户主")
    session.add(home)
    session.add(ModuleActivation(community_id=community.id, module_id="fees", version="1.0.0", enabled=True,
                                 settings={}))
    session.flush()
    bill = Bill(number=f"{code}-202609-000001", community_id=community.id, household_id=home.id, period="2026-09",
                kind="monthly", status="partially_paid" if paid_cents else "open", amount_cents=amount_cents,
                paid_cents=paid_cents, issued_at=datetime(2026, 10, 1), due_date=due)
    bill.lines.append(BillLine(item="property_fee", kind="charge", description="物业费", quantity=Decimal(1),
                               unit_price=Decimal(amount_cents) / 100, amount_cents=amount_cents, explanation={}))
    session.add(bill)
    session.flush()
    return community, bill


def test_no_late_fee_within_grace(session):
    community, bill = make_bill(session)
    # due 10-15 + 30 grace days: 11-14 is the last free day
    assert accrue_late_fees(session, community.id, date(2026, 11, 14)).bills == 0
    assert late_fee_line(session, bill) is None


def test_daily_accrual_is_its_own_line_and_idempotent_per_day(session):
    community, bill = make_bill(session)  # 100.00 yuan principal, default 0.0003/day
    result = accrue_late_fees(session, community.id, date(2026, 11, 24))  # 11-15..11-24: 10 days
    assert (result.bills, result.added_cents) == (1, 30)
    line = late_fee_line(session, bill)
    assert line.kind == "late_fee" and line.amount_cents == 30 and line.quantity == Decimal(10)
    assert line.explanation["accrued"] == "0.3000" and line.explanation["inputs"]["grace_days"] == 30
    assert "ROUND_HALF_UP" in line.explanation["rounding"]
    assert bill.amount_cents == 10_030 == sum(l.amount_cents for l in bill.lines)
    # the same day again: nothing changes
    assert accrue_late_fees(session, community.id, date(2026, 11, 24)).bills == 0
    assert session.scalar(select(func.count(BillLine.id)).where(BillLine.kind == "late_fee")) == 1
    # a week later (days skipped): caught up, still one line
    accrue_late_fees(session, community.id, date(2026, 12, 1))
    session.refresh(line)
    assert line.amount_cents == 51 and line.explanation["accrued"] == "0.5100"  # 17 days × 0.03
    assert session.scalar(select(func.count(BillLine.id)).where(BillLine.kind == "late_fee")) == 1


def test_partial_payment_reduces_the_base_and_cap_limits_the_total(session):
    community, bill = make_bill(session, paid_cents=5_000)
    accrue_late_fees(session, community.id, date(2026, 11, 24))
    assert late_fee_line(session, bill).amount_cents == 15  # 50.00 × 0.0003 × 10
    session.execute(ModuleActivation.__table__.update().values(
        settings={"late_fee_daily_rate": "0.01", "late_fee_cap_percent": "5"}))
    session.expire_all()
    accrue_late_fees(session, community.id, date(2027, 3, 1))
    line = late_fee_line(session, bill)
    assert line.amount_cents == 500 and line.explanation["capped"] is True  # 5 % of 100.00


def test_paid_bills_accrue_nothing(session):
    community, bill = make_bill(session)
    bill.paid_cents, bill.status = bill.amount_cents, "paid"
    session.flush()
    assert accrue_late_fees(session, community.id, date(2027, 1, 1)).bills == 0
