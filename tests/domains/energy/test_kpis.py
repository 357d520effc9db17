"""The energy tile of the dashboard: public use per month by kind (never water and electricity
added together), the open findings, and a reason instead of a number when nothing is derived."""
from __future__ import annotations

from datetime import datetime

import pytest
from decimal import Decimal

from app.domains.energy.kpis import TILES, public_energy_tile
from app.domains.energy.models import EnergyFinding
from app.domains.energy.monthly import derive_month
from app.platform import kpi

from tests.support import energy_estate

NOW = datetime(2026, 11, 20, 12, 0)


def test_public_energy_by_month_and_open_findings(session):
    estate = energy_estate.build(session)
    cid = estate.community.id
    for month, rate in (("2026-10", 1), ("2026-11", 2)):  # the stairwell uses 1 kWh/h, then 2
        start = datetime.fromisoformat(f"{month}-01T00:00")
        energy_estate.write_series(session, estate.meters["stair"], start, 24, lambda t, r=rate: r,
                                   start_value="100" if month == "2026-10" else "124")
        derive_month(session, cid, month)
    session.add(EnergyFinding(number="EF-T1", community_id=cid, kind="leak", key="leak:x", status="open", meter_id=estate.meters["w0"].id,
                              opened_at=NOW, last_seen_at=NOW, detail={}))
    session.flush()
    scope = kpi.month_scope([cid], 2, NOW)
    data = public_energy_tile(session, scope)
    figures = {f.key: f for f in data.figures}
    assert figures["energy.open_findings"].value == 1
    assert figures["energy.public.electricity"].value == Decimal("48")  # this month: 24 h × 2 kWh
    assert data.chart["x"] == ["2026-10", "2026-11"]
    assert [s["data"] for s in data.chart["series"]] == [[24.0, 48.0]]
    assert "energy.public.water" not in figures  # no public water meter here: nothing made up


def test_an_empty_window_says_why(session):
    estate = energy_estate.build(session)
    data = public_energy_tile(session, kpi.month_scope([estate.community.id], 3, NOW))
    assert data.chart is None and str(data.note) == "no public meters with derived usage in this period"
    assert [t.id for t in TILES] == ["energy.public"] and TILES[0].module == "energy"


def _usage(session, estate, meter: str, period: str, kwh: str) -> None:
    from app.domains.energy.models import EnergyMonthlyUsage

    m = estate.meters[meter]
    session.add(EnergyMonthlyUsage(community_id=estate.community.id, meter_id=m.id, building_id=m.building_id,
                                   period=period, start_value=Decimal(0), end_value=Decimal(kwh), usage=Decimal(kwh),
                                   readings=2))


def test_public_energy_is_an_audit_pack_outcome(session):
    """The audit pack's "public energy" row: public and lighting electricity per month (kWh, a
    mean over the months with derived usage) before and after, the meter-months behind it, the
    relative change against the −15–30% target and the months' trend — the same tile figure
    the dashboard shows (found through discovery; the platform never imports energy)."""
    import io

    import openpyxl

    from app.platform import audit_pack

    estate = energy_estate.build(session)
    cid = estate.community.id
    before, after = ("2025-01", "2025-03"), ("2026-09", "2026-11")
    for period, stair, light in (("2025-01", "300", "100"), ("2025-02", "260", "100"), ("2025-03", "240", "100"),
                                 ("2026-09", "200", "80"), ("2026-10", "180", "70")):  # 2026-11 not derived yet
        _usage(session, estate, "stair", period, stair)
        _usage(session, estate, "light", period, light)
    _usage(session, estate, "e0", "2026-10", "999")  # a household meter: not public energy
    session.flush()
    rows = {r.outcome: r for r in audit_pack.outcomes(session, cid, before, after, NOW)}
    energy = rows["public_energy"]
    # by hand: before (400 + 360 + 340) / 3 = 366.7 kWh a month from 6 meter-months;
    # after (280 + 250) / 2 = 265.0 from 4; change −27.7%, inside the 15–30% saving target
    assert energy.before.value == Decimal("366.7") and energy.before.count == 6 and not energy.before.entered
    assert energy.after.value == Decimal("265.0") and energy.after.count == 4
    assert round(energy.relative_change, 1) == -27.7
    assert [(p.month, p.value, p.count) for p in energy.trend] == [
        ("2025-01", 400.0, 2), ("2025-02", 360.0, 2), ("2025-03", 340.0, 2),
        ("2026-09", 280.0, 2), ("2026-10", 250.0, 2), ("2026-11", None, 0)]
    # the dashboard tile carries the same figure
    tile = {f.key: f for f in public_energy_tile(session, kpi.month_scope([cid], 3, NOW)).figures}
    assert tile["energy.public_per_month"].value == Decimal("265.0")
    assert tile["energy.public_per_month"].outcome == "public_energy"
    # the workbook: relative change as a percent and the programmes' target
    book = openpyxl.load_workbook(io.BytesIO(audit_pack.workbook_bytes(list(rows.values()), "能耗小区", before, after)))
    sheet = book["改造成效"]
    line = next(r for r in sheet.iter_rows(min_row=4) if r[0].value == "公共区域用电月均（千瓦时）")
    assert line[1].value == pytest.approx(366.7) and line[3].value == pytest.approx(265.0)
    assert line[7].value == pytest.approx(-0.277, abs=1e-3) and line[7].number_format == "0.0%"
    assert line[8].value == "降低 15–30%"
    assert audit_pack.pdf_bytes(list(rows.values()), "能耗小区", before, after).startswith(b"%PDF")


def test_no_public_electricity_says_why(session):
    estate = energy_estate.build(session)
    fig = {f.key: f for f in public_energy_tile(session, kpi.month_scope([estate.community.id], 3, NOW)).figures}
    out = fig["energy.public_per_month"]
    assert out.value is None and out.count == 0 and str(out.empty) == "no public electricity derived in this period"
