"""Billing runs: preview (totals, buildings, anomalies), issue once, refusals write nothing."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app import clock
from app.domains.devices.models import Device
from app.domains.estate.models import (
    Building,
    Community,
    Household,
    PropertyCompany,
    Unit,
)
from app.domains.fees import billing
from app.domains.fees.billing import BillingError
from app.domains.fees.fee_items import load_items
from app.domains.fees.models import Bill, BillingRun, BillLine, FeeCharge, FeePermit
from app.modules.activation import enable_module
from app.modules.catalog import load_catalog
from app.settings import get_settings
from connectors.models import MeterReading

PERIOD = "2026-10"


@pytest.fixture(autouse=True)
def frozen_clock():
    clock.freeze(datetime(2026, 11, 2, 9, 0))
    yield
    clock.reset()


def make_estate(session, code="T1", areas=("60.00", "75.50", "88.25", "100.00"), meters=True):
    """Two buildings, ``len(areas)`` households; a water meter in each of building 1's units."""
    company = PropertyCompany(name=f"co-{code}")
    community = Community(company=company, code=code, name=f"小区{code}")
    session.add_all([company, community])
    session.flush()
    b1 = Building(community_id=community.id, code="1", name="1号楼")
    b2 = Building(community_id=community.id, code="2", name="2号楼")
    session.add_all([b1, b2])
    session.flush()
    homes = []
    for i, area in enumerate(areas):
        building = b1 if i < 2 else b2
        unit = Unit(community_id=community.id, building_id=building.id, number=f"{101 + i}",
                    floor=1, area_m2=Decimal(area))
        session.add(unit)
        session.flush()
        home = Household(community_id=community.id, unit_id=unit.id, code=f"{code}-{building.code}-{101 + i}",
                         head_name=f"户主{i}")
        session.add(home)
        session.flush()
        homes.append(home)
        if meters and building is b1:
            meter = Device(community_id=community.id, code=f"WM-{i}", name="水表", profile="water_meter_dn20",
                           address=f"127.0.0.1:5020/{i + 1}", unit_id=unit.id)
            session.add(meter)
            session.flush()
    enable_module(session, catalog=load_catalog(get_settings().assets_dir), community_id=community.id,
                  module_id="fees", actor="test")
    session.flush()
    return community, homes


def add_reading(session, code, value, at, community_id):
    device = session.scalar(select(Device).where(Device.code == code, Device.community_id == community_id))
    session.add(MeterReading(device_id=device.id, register="total", value=Decimal(value), unit="m3",
                             quality="good", at=at))
    session.flush()


def readings_for_october(session, community, first=("100.0", "200.0"), last=("112.5", "230.0")):
    for i, (v0, v1) in enumerate(zip(first, last)):
        add_reading(session, f"WM-{i}", v0, datetime(2026, 9, 30, 23, 0), community.id)
        add_reading(session, f"WM-{i}", v1, datetime(2026, 10, 31, 23, 0), community.id)


def test_preview_totals_per_building_and_lines_explained(session):
    community, homes = make_estate(session)
    readings_for_october(session, community)
    result = billing.preview(session, community.id, PERIOD, actor="acc")
    assert result.anomalies == []
    assert result.households == 4 and result.bills == 4
    # property fee 0.85/m² ROUND_HALF_UP: 60→51.00, 75.50→64.175→64.18, 88.25→75.0125→75.01, 100→85.00
    assert result.per_item["property_fee"] == {"lines": 4, "cents": 5100 + 6418 + 7501 + 8500}
    assert result.per_item["waste_fee"] == {"lines": 4, "cents": 1200}
    # water, first tier 5 yuan/m³: 12.5 m³ → 62.50, 30 m³ → 150.00
    assert result.per_item["water"] == {"lines": 2, "cents": 6250 + 15000}
    assert result.total_cents == 5100 + 6418 + 7501 + 8500 + 1200 + 6250 + 15000
    assert [(b["building"], b["households"], b["bills"]) for b in result.per_building] == [("1", 2, 2), ("2", 2, 2)]
    run = billing.get_run(session, community.id, PERIOD)
    assert run.status == "preview" and run.summary["total_cents"] == result.total_cents
    assert session.scalar(select(func.count(Bill.id))) == 0  # a preview bills nobody
    line = result.lines[(result.lines["item"] == "property_fee")].iloc[1]
    assert line["explanation"]["inputs"] == {"area_m2": "75.50", "rate": "0.85"}
    assert line["explanation"]["result"] == "64.1750" and line["explanation"]["amount"] == "64.18"
    assert "ROUND_HALF_UP" in line["explanation"]["rounding"]


def test_issue_writes_bills_and_lines_once(session):
    community, homes = make_estate(session)
    readings_for_october(session, community)
    run = billing.issue(session, community.id, PERIOD, actor="acc")
    session.commit()
    assert run.status == "issued" and run.progress == run.total == 4
    bills = session.scalars(select(Bill).where(Bill.community_id == community.id).order_by(Bill.number)).all()
    assert [b.number for b in bills] == [f"T1-202610-{i:06d}" for i in range(1, 5)]
    assert all(b.amount_cents == sum(l.amount_cents for l in b.lines) for b in bills)
    assert bills[0].due_date.isoformat() == "2026-11-17"  # issued 2026-11-02 + 15 days
    water = next(l for l in bills[0].lines if l.item == "water")
    assert water.quantity == Decimal("12.5") and water.explanation["meter"] == "WM-0"
    assert water.explanation["tiers"][0]["price"] == "5.00"
    count = session.scalar(select(func.count(BillLine.id)))
    with pytest.raises(BillingError) as exc:
        billing.issue(session, community.id, PERIOD, actor="acc")
    assert exc.value.code == "already_billed"
    assert "nothing was billed twice" in exc.value.message("en")
    assert "不会重复出账" in exc.value.message("zh")
    assert session.scalar(select(func.count(BillLine.id))) == count
    assert session.scalar(select(func.count(Bill.id))) == 4


def test_missing_reading_is_an_anomaly_that_blocks_issue(session):
    community, homes = make_estate(session)
    add_reading(session, "WM-0", "100.0", datetime(2026, 9, 30, 23), community.id)
    add_reading(session, "WM-0", "110.0", datetime(2026, 10, 31, 23), community.id)
    add_reading(session, "WM-1", "50.0", datetime(2026, 9, 30, 23), community.id)  # nothing in October
    result = billing.preview(session, community.id, PERIOD)
    assert [(a["kind"], a["household"], a["device"]) for a in result.anomalies] == [
        ("missing_reading", "T1-1-102", "WM-1")]
    assert result.per_building[0]["anomalies"] == 1
    with pytest.raises(BillingError) as exc:
        billing.issue(session, community.id, PERIOD, actor="acc")
    assert exc.value.code == "anomalies" and "missing meter readings" in exc.value.message("en")
    assert session.scalar(select(func.count(Bill.id))) == 0
    run = billing.issue(session, community.id, PERIOD, actor="acc", accept_anomalies=True)
    assert run.summary["anomalies"][0]["household"] == "T1-1-102"
    bill = session.scalar(select(Bill).join(Household).where(Household.code == "T1-1-102"))
    assert sorted(l.item for l in bill.lines) == ["property_fee", "waste_fee"]  # no water money invented


def test_annual_tiers_use_earlier_bills_of_the_year(session):
    community, homes = make_estate(session)
    add_reading(session, "WM-0", "0", datetime(2026, 8, 31, 23), community.id)
    add_reading(session, "WM-0", "170", datetime(2026, 9, 30, 23), community.id)
    add_reading(session, "WM-0", "270", datetime(2026, 10, 31, 23), community.id)
    add_reading(session, "WM-1", "0", datetime(2026, 8, 31, 23), community.id)
    add_reading(session, "WM-1", "1", datetime(2026, 9, 30, 23), community.id)
    add_reading(session, "WM-1", "2", datetime(2026, 10, 31, 23), community.id)
    billing.issue(session, community.id, "2026-09", actor="acc")
    billing.issue(session, community.id, PERIOD, actor="acc")
    bill = session.scalar(select(Bill).join(Household).where(Household.code == "T1-1-101", Bill.period == PERIOD))
    water = next(l for l in bill.lines if l.item == "water")
    # 170 m³ already this year: 10 m³ at 5, 80 at 7, 10 at 9 = 50 + 560 + 90
    assert water.amount_cents == 70000
    assert [t["quantity"] for t in water.explanation["tiers"]] == ["10", "80", "10"]
    assert water.explanation["inputs"]["prior_usage"] == "170.000"


def test_permits_and_one_off_charges_are_billed_once(session):
    community, homes = make_estate(session, meters=False)
    session.add(FeePermit(community_id=community.id, household_id=homes[2].id, item="parking",
                          reference="P-08", quantity=1, start_period="2026-09"))
    session.add(FeeCharge(community_id=community.id, household_id=homes[3].id, item="one_off",
                          description="更换水龙头", quantity=Decimal("1"), unit_price=Decimal("45.50"),
                          period="2026-10"))
    session.flush()
    billing.issue(session, community.id, PERIOD, actor="acc")
    lines = {(l.bill.household_id, l.item): l for l in session.scalars(select(BillLine))}
    assert lines[(homes[2].id, "parking")].amount_cents == 15000
    repair = lines[(homes[3].id, "one_off")]
    assert repair.amount_cents == 4550 and "更换水龙头" in repair.description
    charge = session.scalar(select(FeeCharge))
    assert charge.bill_id == repair.bill_id
    billing.issue(session, community.id, "2026-11", actor="acc")
    assert session.scalar(select(func.count(BillLine.id)).where(BillLine.item == "one_off")) == 1
    assert session.scalar(select(func.count(BillLine.id)).where(BillLine.item == "parking")) == 2


def test_bad_formula_refuses_the_whole_run(session, tmp_path):
    community, homes = make_estate(session, meters=False)
    bad = tmp_path / "items.yaml"
    bad.write_text(
        "items:\n"
        "  - {id: property_fee, label: {zh: 物业费, en: Fee}, basis: area, params: {months: \"0\"},"
        " formula: \"area_m2 / months\"}\n", encoding="utf-8")
    with pytest.raises(BillingError) as exc:
        billing.issue(session, community.id, PERIOD, actor="acc", items=load_items(path=bad))
    assert exc.value.code == "formula"
    assert "division by zero" in exc.value.message("en") and "T1-1-101" in exc.value.message("en")
    assert "除数为零" in exc.value.message("zh")
    assert session.scalar(select(func.count(Bill.id))) == 0


def test_refusals(session):
    community, homes = make_estate(session, meters=False)
    for period, code in (("2026-13", "bad_period"), ("2026/10", "bad_period"), ("2027-01", "future_period")):
        with pytest.raises(BillingError) as exc:
            billing.preview(session, community.id, period)
        assert exc.value.code == code
    other = Community(company_id=community.company_id, code="T2", name="未启用")
    session.add(other)
    session.flush()
    with pytest.raises(BillingError) as exc:
        billing.issue(session, other.id, PERIOD, actor="acc")
    assert exc.value.code == "not_enabled"
    assert session.scalar(select(func.count(BillingRun.id))) == 0


def test_two_concurrent_runs_bill_once(session, db_engine):
    """PostgreSQL: the second run waits on the first's rows, then fails whole (in_progress)."""
    if db_engine.dialect.name != "postgresql":
        pytest.skip("SQLite allows one writer at a time: a second run cannot start concurrently")
    import threading

    from sqlalchemy.orm import Session

    community, homes = make_estate(session, meters=False)
    session.commit()
    first = Session(db_engine)
    billing.issue(first, community.id, PERIOD, actor="a")  # not committed yet
    outcome = {}

    def second_run():
        with Session(db_engine) as other:
            try:
                billing.issue(other, community.id, PERIOD, actor="b")
                other.commit()
                outcome["result"] = "issued"
            except BillingError as exc:
                other.rollback()
                outcome["result"] = exc.code

    thread = threading.Thread(target=second_run)
    thread.start()
    thread.join(timeout=1.0)  # blocked on the first run's uncommitted bills
    first.commit()
    first.close()
    thread.join(timeout=30)
    assert outcome["result"] == "in_progress"
    with Session(db_engine) as check:
        assert check.scalar(select(func.count(Bill.id))) == 4


def test_failure_in_a_later_chunk_writes_nothing(session, tmp_path):
    """Issued in chunks of one household: the fourth fails, so none of the first three is billed."""
    community, homes = make_estate(session, meters=False)
    bad = tmp_path / "items.yaml"
    bad.write_text(
        "items:\n"
        "  - {id: property_fee, label: {zh: 物业费, en: Fee}, basis: area, params: {full: \"100\"},"
        " formula: \"full / (full - area_m2)\"}\n", encoding="utf-8")
    with pytest.raises(BillingError) as exc:
        billing.issue(session, community.id, PERIOD, actor="acc", items=load_items(path=bad), chunk_size=1)
    assert exc.value.code == "formula" and "T1-2-104" in exc.value.message("en")
    assert session.scalar(select(func.count(Bill.id))) == 0
    assert session.scalar(select(func.count(BillLine.id))) == 0
    run = billing.issue(session, community.id, PERIOD, actor="acc", chunk_size=1)  # the session is still usable
    assert run.total == 4 and session.scalar(select(func.count(Bill.id))) == 4


def test_progress_per_chunk_and_same_bills_whatever_the_chunk_size(session):
    community, homes = make_estate(session)
    readings_for_october(session, community)
    calls = []
    run = billing.issue(session, community.id, PERIOD, actor="acc", chunk_size=1,
                        on_progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (4, 4) and [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert run.progress == run.total == 4
    bills = session.scalars(select(Bill).where(Bill.community_id == community.id).order_by(Bill.number)).all()
    assert [b.number for b in bills] == [f"T1-202610-{i:06d}" for i in range(1, 5)]
    assert [b.household_id for b in bills] == [h.id for h in homes]
    assert all(b.amount_cents == sum(l.amount_cents for l in b.lines) for b in bills)
    assert [[l.item for l in b.lines] for b in bills] == [["property_fee", "waste_fee", "water"]] * 2 + \
        [["property_fee", "waste_fee"]] * 2
    assert run.summary["total_cents"] == sum(b.amount_cents for b in bills)


def test_text_that_needs_escaping_is_written_as_is(session):
    """Tabs, newlines and backslashes in a charge note survive the bulk write (COPY text format)."""
    community, homes = make_estate(session, meters=False)
    note = 'tap\\washer\t"new"\nline 2'
    session.add(FeeCharge(community_id=community.id, household_id=homes[0].id, item="one_off",
                          description=note, quantity=Decimal("2"), unit_price=Decimal("1.25"), period=PERIOD))
    session.flush()
    billing.issue(session, community.id, PERIOD, actor="acc")
    session.expire_all()
    line = session.scalar(select(BillLine).where(BillLine.item == "one_off"))
    assert line.description.endswith(note) and line.explanation["note"] == note
    assert line.amount_cents == 250 and line.quantity == Decimal("2")


def test_readings_are_the_last_good_ones_before_each_bound(session):
    """Of a meter's whole history, the last good reading before the period and the last before
    its end count (the larger value when two share a time); flagged readings, and readings at
    or after a bound, do not. Anomalies: missing readings first, then meters running backwards."""
    community, homes = make_estate(session)
    for i in (2, 3):  # meters in building 2 as well
        session.add(Device(community_id=community.id, code=f"WM-{i}", name="水表", profile="water_meter_dn20",
                           address=f"127.0.0.1:5020/{i + 1}", unit_id=homes[i].unit_id))
    session.flush()
    for value, at in [("90.0", datetime(2026, 8, 31, 23)), ("99.0", datetime(2026, 9, 30, 23)),
                      ("100.0", datetime(2026, 9, 30, 23)), ("101.0", datetime(2026, 10, 1)),
                      ("115.0", datetime(2026, 10, 31, 23)), ("500.0", datetime(2026, 11, 1))]:
        add_reading(session, "WM-0", value, at, community.id)
    wm0 = session.scalar(select(Device).where(Device.code == "WM-0", Device.community_id == community.id))
    session.add(MeterReading(device_id=wm0.id, register="total", value=Decimal("999"), unit="m3",
                             quality="suspect", at=datetime(2026, 10, 31, 23, 30)))
    add_reading(session, "WM-1", "10.0", datetime(2026, 10, 2), community.id)  # nothing before October
    add_reading(session, "WM-1", "20.0", datetime(2026, 10, 30), community.id)
    add_reading(session, "WM-2", "200.0", datetime(2026, 9, 15), community.id)  # runs backwards
    add_reading(session, "WM-2", "190.0", datetime(2026, 10, 31, 23), community.id)
    # WM-3 has no reading at all
    result = billing.preview(session, community.id, PERIOD)
    assert [(a["kind"], a["household"], a["device"], a["detail"]) for a in result.anomalies] == [
        ("missing_reading", "T1-1-102", "WM-1", "no reading before the period"),
        ("missing_reading", "T1-2-104", "WM-3", "no reading before the period"),
        ("meter_backwards", "T1-2-103", "WM-2", result.anomalies[2]["detail"])]
    assert [Decimal(v) for v in result.anomalies[2]["detail"].split(" → ")] == [Decimal("200"), Decimal("190")]
    water = result.lines[result.lines["item"] == "water"]
    assert len(water) == 1 and water.iloc[0]["quantity"] == Decimal("15")
    explanation = water.iloc[0]["explanation"]
    assert explanation["meter"] == "WM-0"
    assert explanation["reading_start"] == {"value": "100", "at": "2026-09-30 23:00"}
    assert explanation["reading_end"] == {"value": "115", "at": "2026-10-31 23:00"}
    assert water.iloc[0]["amount_cents"] == 7500  # 15 m³ × 5.00, first tier


def test_reserved_bill_ids_leave_the_sequence_usable(session):
    """Bills take their ids from the table's sequence: each line names its own bill, and a bill
    written afterwards the ordinary way gets a fresh id."""
    community, homes = make_estate(session)
    readings_for_october(session, community)
    billing.issue(session, community.id, PERIOD, actor="acc", chunk_size=3)
    session.expire_all()
    bills = session.scalars(select(Bill).where(Bill.community_id == community.id)).all()
    assert len({b.id for b in bills}) == len(bills) == 4
    assert sorted(l.bill_id for b in bills for l in b.lines) == sorted(b.id for b in bills for _ in b.lines)
    assert all(l.item in ("property_fee", "waste_fee", "water") for b in bills for l in b.lines)
    later = Bill(number="T1-202609-000001", community_id=community.id, household_id=homes[0].id,
                 period="2026-09", kind="monthly", status="open", amount_cents=100, paid_cents=0,
                 issued_at=datetime(2026, 10, 2, 9), due_date=datetime(2026, 10, 17).date())
    session.add(later)
    session.flush()
    assert later.id not in {b.id for b in bills}
