"""The energy tile of the dashboard: public use per month by kind (never water and electricity
added together), the open findings, and a reason instead of a number when nothing is derived."""
from __future__ import annotations

from datetime import datetime
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
