"""Fee KPIs (dashboard, export, API): collection rate by month against hand-computed values,
months without bills, one building, and the households over the attention amount."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from app.domains.fees import kpis
from app.domains.fees.models import Bill
from tests.support.kpi_estate import build_kpi_estate


def _bills(session, estate):
    h1, h2, h3 = estate.households
    rows = [(h1, "2026-10", 10000, 10000, "paid"), (h2, "2026-10", 10000, 5000, "partially_paid"),
            (h3, "2026-10", 20000, 0, "open"), (h1, "2026-11", 10000, 10000, "paid"),
            (h2, "2026-11", 99900, 0, "cancelled")]
    for i, (h, period, amount, paid, status) in enumerate(rows):
        session.add(Bill(number=f"{estate.community.code}-{i}", community_id=estate.community.id, household_id=h.id,
                         period=period, status=status, amount_cents=amount, paid_cents=paid,
                         due_date=date(2026, int(period[5:]), 15)))
    session.flush()


def test_collection_by_month_and_building(session):
    estate = build_kpi_estate(session)
    _bills(session, estate)
    rows = kpis.collection_by_month(session, [estate.community.id], ["2026-09", "2026-10", "2026-11"])
    assert rows[0] == {"period": "2026-09", "bills": 0, "billed_cents": 0, "collected_cents": 0, "rate": None,
                       "empty": "no bills issued"}
    assert (rows[1]["bills"], rows[1]["billed_cents"], rows[1]["collected_cents"]) == (3, 40000, 15000)
    assert rows[1]["rate"] == Decimal("37.5")
    assert rows[2]["rate"] == Decimal("100.0") and rows[2]["bills"] == 1  # the cancelled bill is not billed
    one = kpis.collection_by_month(session, [estate.community.id], ["2026-10"], estate.buildings[0].id)
    assert one[0]["rate"] == Decimal("75.0") and one[0]["bills"] == 2


def test_collection_tile_and_an_empty_period(session):
    estate = build_kpi_estate(session)
    _bills(session, estate)
    figures = {f.key: f for f in kpis.collection_tile(session, estate.scope()).figures}
    assert figures["collection_rate"].value == Decimal("50.0")  # 25,000 of 50,000
    assert (figures["collection_rate"].numerator, figures["collection_rate"].denominator) == (25000, 50000)
    assert figures["collection_rate"].count == 4
    assert figures["collection_latest"].value == Decimal("100.0")
    assert figures["collection_latest"].link == ("FeesView.bills", {"community_id": estate.community.id,
                                                                    "period": "2026-11"})
    assert figures["outstanding"].value == 25000
    empty = {f.key: f for f in kpis.collection_tile(session, estate.scope(until="2026-08")).figures}
    assert empty["collection_rate"].value is None and empty["collection_rate"].empty == "no bills issued"
    assert empty["collection_rate"].count == 0


def test_households_over_the_attention_amount(session):
    estate = build_kpi_estate(session)
    _bills(session, estate)
    over = kpis.arrears_households(session, [estate.community.id], 10000)
    assert [(r["household_id"], r["owed_cents"]) for r in over] == [(estate.households[2].id, 20000)]
    assert len(kpis.arrears_households(session, [estate.community.id], 1000)) == 2
