"""公摊: largest remainder by hand, idempotence, bad input (SQLite and PostgreSQL)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.domains.energy import apportionment
from app.domains.energy.apportionment import largest_remainder
from app.domains.energy.errors import EnergyError
from app.domains.energy.meters import register_meter
from app.domains.energy.models import EnergyApportionment, EnergyFinding, EnergyMeter, EnergyShare
from app.domains.energy.readings import Incoming, store
from app.domains.fees.models import FeeCharge
from app.localtime import from_local
from tests.support.energy_estate import build


def test_largest_remainder_by_hand():
    # 1000 cents by 50/70/80 m²: exact 250, 350, 400 → no remainder
    assert [s.cents for s in largest_remainder(1000, [(1, "A", Decimal(50)), (2, "B", Decimal(70)),
                                                      (3, "C", Decimal(80))])] == [250, 350, 400]
    # 100 cents in three equal parts: 33.33 each, one cent left → lowest code "A" gets it
    lines = largest_remainder(100, [(2, "B", Decimal(1)), (1, "A", Decimal(1)), (3, "C", Decimal(1))])
    assert {s.code: s.cents for s in lines} == {"A": 34, "B": 33, "C": 33}
    # 1001 by 50/70/80: exact 250.25, 350.35, 400.40 → floors 250+350+400 = 1000, the one cent
    # goes to the largest remainder (.40, household C)
    lines = largest_remainder(1001, [(1, "A", Decimal(50)), (2, "B", Decimal(70)), (3, "C", Decimal(80))])
    assert [(s.floor_cents, s.extra_cent) for s in lines] == [(250, 0), (350, 0), (400, 1)]
    assert sum(s.cents for s in lines) == 1001


def _readings(session, estate, stair_kwh="100", master=("0", "300"), subs=("100", "80", "90")):
    """Readings of 2026-10: stairwell meter +stair_kwh, master water +…, sub-meters +each."""
    t0, t1 = from_local(datetime(2026, 10, 1, 0, 30)), from_local(datetime(2026, 10, 31, 23, 0))
    m = estate.meters
    items = [Incoming(m["stair"].id, t0, Decimal("1000")), Incoming(m["stair"].id, t1, Decimal("1000") + Decimal(stair_kwh)),
             Incoming(m["master"].id, t0, Decimal(master[0])), Incoming(m["master"].id, t1, Decimal(master[1]))]
    for i, use in enumerate(subs):
        items += [Incoming(m[f"w{i}"].id, t0, Decimal("10")), Incoming(m[f"w{i}"].id, t1, Decimal("10") + Decimal(use))]
    store(session, items)


def test_apportion_by_area_is_exact_explained_and_idempotent(session):
    estate = build(session, settings={"energy": {"electricity_price": "0.5"}})
    _readings(session, estate, stair_kwh="20.02")  # 20.02 kWh × 0.5 = 10.01 yuan = 1001 cents
    preview = apportionment.plan(session, estate.community.id, "2026-10", "electricity")
    assert [s.cents for s in preview[0].shares] == [250, 350, 401]
    assert session.scalar(select(func.count(EnergyApportionment.id))) == 0  # preview writes nothing
    rows = apportionment.issue(session, estate.community.id, "2026-10", "electricity", actor="manager")
    assert rows[0].total_cents == 1001
    charges = session.scalars(select(FeeCharge).where(FeeCharge.community_id == estate.community.id)
                              .order_by(FeeCharge.household_id)).all()
    assert [int(c.unit_price * 100) for c in charges] == [250, 350, 401]
    assert all(c.item == "shared_energy" and c.period == "2026-10" for c in charges)
    assert "本户 80 m² / 合计 200 m²" in charges[2].description and "最大余数法 +0.01 元" in charges[2].description
    assert "总额 10.01 元" in charges[0].description
    with pytest.raises(EnergyError) as err:
        apportionment.issue(session, estate.community.id, "2026-10", "electricity", actor="manager")
    assert err.value.code == "already_apportioned" and "10.01" in err.value.message("zh")
    assert session.scalar(select(func.count(FeeCharge.id)).where(FeeCharge.community_id == estate.community.id)) == 3
    assert session.scalar(select(func.count(EnergyShare.id))) == 3


def test_water_master_minus_subs_and_negative_remainder(session):
    estate = build(session, settings={"energy": {"apportionment_method": "household", "water_price": "5"}})
    _readings(session, estate, stair_kwh="0", master=("0", "300"), subs=("100", "80", "90"))  # 30 m3 shared
    water = apportionment.plan(session, estate.community.id, "2026-10", "water")
    assert water[0].quantity == Decimal("30") and water[0].total_cents == 15000
    assert [s.cents for s in water[0].shares] == [5000, 5000, 5000]


def test_sub_meters_above_master_is_a_finding_not_a_negative_share(session):
    estate = build(session)
    _readings(session, estate, master=("0", "200"), subs=("100", "80", "90"))  # 270 > 200
    with pytest.raises(EnergyError) as err:
        apportionment.issue(session, estate.community.id, "2026-10", "water", actor="manager")
    assert err.value.code == "negative_remainder" and "270" in err.value.message("en")
    assert session.scalar(select(func.count(EnergyApportionment.id))) == 0
    assert session.scalar(select(func.count(FeeCharge.id)).where(FeeCharge.community_id == estate.community.id)) == 0
    assert session.scalar(select(EnergyFinding.kind).where(EnergyFinding.community_id == estate.community.id)) \
        == "sub_above_master"


def test_bad_input_meter_without_unit_and_public_meter_without_building(session):
    estate = build(session, settings={"energy": {"apportion_by_building": True}})
    with pytest.raises(EnergyError) as err:
        register_meter(session, estate.community.id, "WM-X", name="无房屋水表", kind="water", role="household")
    assert err.value.code == "no_unit" and "WM-X" in err.value.message("zh")
    register_meter(session, estate.community.id, "EM-PUMP", name="水泵电表", kind="electricity", role="public")
    _readings(session, estate)
    with pytest.raises(EnergyError) as err:
        apportionment.issue(session, estate.community.id, "2026-10", "electricity", actor="manager")
    assert err.value.code == "no_building" and "EM-PUMP" in err.value.message("en")
    assert session.scalar(select(func.count(EnergyApportionment.id))) == 0


def test_billing_run_puts_each_share_on_the_bill_with_its_explanation(session):
    from app.domains.fees import billing
    from app.domains.fees.models import Bill, BillLine

    estate = build(session, modules=("fees", "energy"), settings={"energy": {"electricity_price": "0.5"}})
    _readings(session, estate, stair_kwh="20.02")
    apportionment.issue(session, estate.community.id, "2026-10", "electricity", actor="manager")
    billing.issue(session, estate.community.id, "2026-10", actor="accountant", accept_anomalies=True)
    lines = session.execute(select(Bill.household_id, BillLine.amount_cents, BillLine.description)
                            .join(BillLine, BillLine.bill_id == Bill.id)
                            .where(Bill.community_id == estate.community.id, BillLine.item == "shared_energy")
                            .order_by(Bill.household_id)).all()
    assert [a for _, a, _ in lines] == [250, 350, 401]
    assert lines[2][2].startswith("公摊能耗费：2026-10 A栋公摊电") or "公摊" in lines[2][2]
    assert "按建筑面积：本户 80 m² / 合计 200 m²" in lines[2][2] and "最大余数法 +0.01 元" in lines[2][2]
    assert session.scalar(select(func.count(FeeCharge.id)).where(
        FeeCharge.community_id == estate.community.id, FeeCharge.bill_id.is_(None))) == 0  # billed once


def test_preview_writes_nothing_even_when_sub_meters_exceed_the_master(session):
    """plan() (the preview) computes the month in memory: no derived-usage row, no finding; the
    issuing run stores the month and records the finding."""
    from app.domains.energy.models import EnergyMonthlyUsage

    estate = build(session)
    _readings(session, estate, master=("0", "200"), subs=("100", "80", "90"))
    with pytest.raises(EnergyError):
        apportionment.plan(session, estate.community.id, "2026-10", "water")
    assert apportionment.plan(session, estate.community.id, "2026-10", "electricity")[0].total_cents > 0
    assert session.scalar(select(func.count(EnergyMonthlyUsage.id)).where(
        EnergyMonthlyUsage.community_id == estate.community.id)) == 0
    assert session.scalar(select(func.count(EnergyFinding.id)).where(
        EnergyFinding.community_id == estate.community.id)) == 0


def test_tiered_water_bills_the_energy_modules_derived_month(session):
    """Energy enabled: the water line's usage and tiers come from energy's derived month per unit
    (no meter_reading at all here: the old path would bill no water line)."""
    from app.domains.fees import billing
    from app.domains.fees.models import Bill, BillLine

    estate = build(session, modules=("fees", "energy"))
    m = estate.meters
    t0, t1 = from_local(datetime(2026, 10, 1, 0, 30)), from_local(datetime(2026, 10, 31, 23, 0))
    mid = from_local(datetime(2026, 10, 15, 12, 0))
    # 101: 200 m³ in the month (crosses the yearly 180 m³ tier), with a backwards reading kept apart
    store(session, [Incoming(m["w0"].id, t0, Decimal("1000")), Incoming(m["w0"].id, mid, Decimal("1100")),
                    Incoming(m["w0"].id, mid.replace(hour=13), Decimal("900")),
                    Incoming(m["w0"].id, t1, Decimal("1200"))])
    store(session, [Incoming(m["w1"].id, t0, Decimal("10")), Incoming(m["w1"].id, t1, Decimal("22.5"))])
    result = billing.issue(session, estate.community.id, "2026-10", actor="accountant", accept_anomalies=True)
    assert result is not None
    lines = {hh: (q, a, e) for hh, q, a, e in session.execute(
        select(Bill.household_id, BillLine.quantity, BillLine.amount_cents, BillLine.explanation)
        .join(BillLine, BillLine.bill_id == Bill.id)
        .where(Bill.community_id == estate.community.id, BillLine.item == "water")).all()}
    h0, h1, h2 = (h.id for h in estate.households)
    assert Decimal(lines[h0][0]) == Decimal("200") and Decimal(lines[h1][0]) == Decimal("12.5")
    # 180 m³ × 5.00 + 20 m³ × 7.00 = 1040.00 yuan; 12.5 × 5.00 = 62.50
    assert lines[h0][1] == 104000 and lines[h1][1] == 6250
    tiers = lines[h0][2]["tiers"]
    assert [(int(t["tier"]), Decimal(t["quantity"])) for t in tiers] == [(1, Decimal("180")), (2, Decimal("20"))]
    assert lines[h0][2]["reading_start"]["value"] == "1000" and lines[h0][2]["reading_end"]["value"] == "1200"
    assert h2 not in lines  # no reading in the month: an anomaly, not a zero bill


def test_bad_input_messages_name_what_is_wrong_in_both_languages(session):
    """The issue's bad input, each refused with a message naming the meter or period, nothing written:
    a household meter without a unit, a public meter in no building (the preview says so too), a
    period already apportioned, a handheld reading lower than the last."""
    from app.domains.energy import handheld
    from app.domains.energy.models import EnergyMonthlyUsage, EnergyReading

    estate = build(session, settings={"energy": {"apportion_by_building": True, "electricity_price": "0.5"}})
    cid = estate.community.id
    with pytest.raises(EnergyError) as err:
        register_meter(session, cid, "WM-NOUNIT", name="无房屋水表", kind="water", role="household")
    assert "WM-NOUNIT" in err.value.message("zh") and "房屋" in err.value.message("zh")
    assert "WM-NOUNIT" in err.value.message("en") and "unit" in err.value.message("en")
    register_meter(session, cid, "EM-NOBLD", name="水泵电表", kind="electricity", role="public")
    _readings(session, estate)
    with pytest.raises(EnergyError) as err:
        apportionment.plan(session, cid, "2026-10", "electricity")  # the preview page shows this message
    assert err.value.code == "no_building" and "EM-NOBLD" in err.value.message("zh") and "楼栋" in err.value.message("zh")
    assert session.scalar(select(func.count(EnergyMonthlyUsage.id)).where(EnergyMonthlyUsage.community_id == cid)) == 0
    session.scalar(select(EnergyMeter).where(EnergyMeter.code == "EM-NOBLD")).building_id = estate.building.id
    apportionment.issue(session, cid, "2026-10", "electricity", actor="manager")
    charges = session.scalar(select(func.count(FeeCharge.id)).where(FeeCharge.community_id == cid))
    with pytest.raises(EnergyError) as err:
        apportionment.issue(session, cid, "2026-10", "electricity", actor="manager")
    assert err.value.code == "already_apportioned" and "2026-10" in err.value.message("zh")
    assert "not repeated" in err.value.message("en")
    assert session.scalar(select(func.count(FeeCharge.id)).where(FeeCharge.community_id == cid)) == charges
    meter = estate.meters["w0"]
    count = session.scalar(select(func.count()).select_from(EnergyReading).where(EnergyReading.meter_id == meter.id))
    ref = [{"sha256": "b" * 64, "name": "dial.png", "content_type": "image/png"}]
    with pytest.raises(EnergyError) as err:
        handheld.submit(session, meter.id, "1", ref, "tech")
    assert err.value.code == "backwards" and "是否换表" in err.value.message("zh")
    assert "replaced" in err.value.message("en")
    assert session.scalar(select(func.count()).select_from(EnergyReading).where(
        EnergyReading.meter_id == meter.id)) == count
