"""Fee KPIs for the dashboard, its export and its API: collection rate by month (the 90%
target of the renovation programmes) and the households whose arrears need attention.

Collection rate = collected ÷ billed over the bills of a period that are not cancelled (the
same rule as :mod:`app.domains.fees.reports`); a month with no bills says so.
"""
from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domains.estate.models import Household, Unit
from app.domains.fees.models import Bill
from app.platform.kpi import (
    Attention,
    Figure,
    Rolled,
    Rollup,
    Scope,
    Tile,
    TileData,
    percent,
    read_rollup,
    rollup_wanted,
)

TARGET_PERCENT = Decimal(90)
OPEN = ("open", "partially_paid")


def _collection_found(session: Session, community_ids, months, building_id: int | None = None) -> dict:
    """period → (bills, billed cents, collected cents), from the bills."""
    q = (select(Bill.period, func.count(Bill.id), func.coalesce(func.sum(Bill.amount_cents), 0),
                func.coalesce(func.sum(Bill.paid_cents), 0))
         .where(Bill.community_id.in_(list(community_ids)), Bill.status != "cancelled",
                Bill.period.in_(list(months)))
         .group_by(Bill.period))
    if building_id is not None:
        q = (q.join(Household, Household.id == Bill.household_id).join(Unit, Unit.id == Household.unit_id)
             .where(Unit.building_id == building_id))
    return {p: (int(n), int(b), int(c)) for p, n, b, c in session.execute(q)}


def collection_by_month(session: Session, community_ids, months, building_id: int | None = None,
                        found: dict | None = None) -> list[dict]:
    """One row per month in ``months`` (``YYYY-MM``): bills, billed, collected, rate (percent).
    ``found``: the per-period sums already read (from the roll-ups)."""
    if found is None:
        found = _collection_found(session, community_ids, months, building_id)
    rows = []
    for month in months:
        n, billed, collected = found.get(month, (0, 0, 0))
        rows.append({"period": month, "bills": n, "billed_cents": billed, "collected_cents": collected,
                     "rate": percent(collected, billed), "empty": None if n else "no bills issued"})
    return rows


def arrears_households(session: Session, community_ids, min_cents: dict[int, int] | int) -> list[dict]:
    """Households whose open bills owe more than ``min_cents`` (per community, or one figure)."""
    owed = func.sum(Bill.amount_cents - Bill.paid_cents)
    q = (select(Bill.community_id, Bill.household_id, owed, func.count(Bill.id))
         .where(Bill.community_id.in_(list(community_ids)), Bill.status.in_(OPEN))
         .group_by(Bill.community_id, Bill.household_id))
    out = []
    for community_id, household_id, cents, bills in session.execute(q):
        limit = min_cents.get(community_id, 0) if isinstance(min_cents, dict) else min_cents
        if int(cents or 0) > limit:
            out.append({"community_id": community_id, "household_id": household_id,
                        "owed_cents": int(cents), "bills": int(bills)})
    return out


def attention_threshold_cents(session: Session, community_id: int) -> int:
    from app.platform.module_settings import module_settings

    value = module_settings(session, community_id, "fees").get("arrears_attention") or Decimal(500)
    return int(Decimal(str(value)) * 100)


def _bills_link(scope: Scope, **args) -> tuple[str, dict]:
    if scope.single_community is not None:
        return "FeesView.bills", {"community_id": scope.single_community, **args}
    return "FeesView.index", {}


def _collection_rollup(session: Session, scope: Scope) -> dict[str, Rolled]:
    """Per period: n = bills, a = billed cents, b = collected cents (one community)."""
    return {p: Rolled(n, b, c) for p, (n, b, c) in _collection_found(session, scope.community_ids, scope.months).items()}


def collection_tile(session: Session, scope: Scope) -> TileData:
    rolled = read_rollup(session, scope, "fees.collection") if rollup_wanted(scope) else None
    found = {m: (r.n, r.a, r.b) for m, r in rolled.months.items() if r.n} if rolled else None
    rows = collection_by_month(session, scope.community_ids, scope.months, scope.building_id, found)
    billed = sum(r["billed_cents"] for r in rows)
    collected = sum(r["collected_cents"] for r in rows)
    bills = sum(r["bills"] for r in rows)
    latest = next((r for r in reversed(rows) if r["bills"]), None)
    figures = [
        Figure("collection_rate", _l("Collection rate, whole period"), percent(collected, billed), unit="percent",
               count=bills, basis="bills", empty=None if bills else "no bills issued", target=TARGET_PERCENT,
               numerator=collected, denominator=billed, link=_bills_link(scope), outcome="fee_collection"),
        Figure("collection_latest", _l("Collection rate, latest month"), latest["rate"] if latest else None,
               unit="percent", count=latest["bills"] if latest else 0, basis="bills",
               empty=None if latest else "no bills issued", target=TARGET_PERCENT,
               numerator=latest["collected_cents"] if latest else None,
               denominator=latest["billed_cents"] if latest else None,
               link=_bills_link(scope, period=latest["period"]) if latest else _bills_link(scope)),
        Figure("outstanding", _l("Still owed on these bills"), billed - collected, unit="yuan_cents", count=bills,
               basis="bills", link=_bills_link(scope, status="overdue")),
    ]
    chart = {"kind": "line", "unit": "percent", "x": [r["period"] for r in rows],
             "series": [{"name": str(_l("Collection rate")),
                         "data": [float(r["rate"]) if r["rate"] is not None else None for r in rows]}],
             "target": {"value": float(TARGET_PERCENT), "label": str(_l("Target 90%"))},
             "links": [list(_bills_link(scope, period=r["period"])) for r in rows]}
    return TileData(figures=figures, chart=chart, as_of=rolled.as_of if rolled else None)


ROLLUPS = [Rollup("fees.collection", _collection_rollup)]
TILES = [Tile("fees.collection", _l("Fee collection"), collection_tile, module="fees", order=10, per_building=True)]


def _today_arrears(session: Session, community_id: int, now) -> Figure:
    """Households owing more than the attention amount on overdue bills: the same list the
    arrears page shows (:func:`app.domains.fees.aging.household_aging`), which the count links to."""
    from app.domains.fees.aging import household_aging
    from app.localtime import to_local

    limit = attention_threshold_cents(session, community_id)
    rows = household_aging(session, community_id, to_local(now).date(), limit)
    return Figure("fees.arrears", _l("Households owing more than the attention amount"), len(rows), count=len(rows),
                  basis="households", numerator=sum(r.owed_cents for r in rows), denominator=limit,
                  link=("ArrearsView.index", {"community_id": community_id, "min": f"{limit / 100:.2f}"}))


TODAY = [Attention("fees.arrears", _l("Households owing more than the attention amount"), _today_arrears,
                   module="fees", order=40)]
