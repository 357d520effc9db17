"""Fee reports: collection rate (the headline KPI), arrears aging, daily cash journal, Excel.

* **Collection rate** = collected ÷ billed, over bills that are not cancelled, where billed is
  the bills' ``amount_cents`` (late fees included) and collected their ``paid_cents``. By
  period, by building (for one period) and by fee item. Per item, a bill's payments are
  spread over its lines in proportion to their amounts (exact fractions, rounded once per
  item at the end), since a payment settles a bill, not a line.
* **Arrears aging**: what open bills still owe as of a date, by days past due: not yet due,
  1–30, 31–90, 91–180, 181–365, over 365.
* **Cash journal**: money received on one day (online, cash, bank transfer; prepaid
  applications are not new money) and refunds paid out, with totals per method. It reads the
  payments tables when the payments service is installed.

All amounts are integer cents; rates are Decimal percentages with one decimal place.
"""
from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pandas as pd
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.domains.estate.models import Building, Household, Unit
from app.domains.fees.models import Bill, BillLine
from app.localtime import from_local, to_local

AGING_BUCKETS = (("not_due", None, 0), ("1-30", 1, 30), ("31-90", 31, 90), ("91-180", 91, 180),
                 ("181-365", 181, 365), ("365+", 366, None))


def rate_percent(collected: int, billed: int) -> Decimal | None:
    """collected ÷ billed as a percentage with one decimal (ROUND_HALF_UP); None if nothing billed."""
    if not billed:
        return None
    return (Decimal(collected) * 100 / Decimal(billed)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _with_rate(frame: pd.DataFrame) -> pd.DataFrame:
    frame["rate"] = [rate_percent(int(c), int(b)) for c, b in zip(frame["collected_cents"], frame["billed_cents"])]
    return frame


def collection_by_period(session: Session, community_id: int, periods: list[str] | None = None) -> pd.DataFrame:
    q = (select(Bill.period, func.count(Bill.id), func.sum(Bill.amount_cents), func.sum(Bill.paid_cents),
                func.sum(case((Bill.status == "paid", 1), else_=0)))
         .where(Bill.community_id == community_id, Bill.status != "cancelled")
         .group_by(Bill.period).order_by(Bill.period))
    if periods:
        q = q.where(Bill.period.in_(periods))
    rows = [(p, int(n), int(b or 0), int(c or 0), int(paid or 0)) for p, n, b, c, paid in session.execute(q)]
    frame = pd.DataFrame(rows, columns=["period", "bills", "billed_cents", "collected_cents", "paid_bills"])
    return _with_rate(frame)


def collection_by_building(session: Session, community_id: int, period: str) -> pd.DataFrame:
    rows = session.execute(
        select(Building.code, Building.name, func.count(Bill.id), func.sum(Bill.amount_cents),
               func.sum(Bill.paid_cents))
        .join(Household, Bill.household_id == Household.id).join(Unit, Household.unit_id == Unit.id)
        .join(Building, Unit.building_id == Building.id)
        .where(Bill.community_id == community_id, Bill.period == period, Bill.status != "cancelled")
        .group_by(Building.code, Building.name)).all()
    frame = pd.DataFrame([(c, n, int(k), int(b or 0), int(p or 0)) for c, n, k, b, p in rows],
                         columns=["building", "name", "bills", "billed_cents", "collected_cents"])
    if not frame.empty:
        frame["_order"] = frame["building"].map(lambda c: (len(c), c))
        frame = frame.sort_values("_order").drop(columns="_order").reset_index(drop=True)
    return _with_rate(frame)


def collection_by_item(session: Session, community_id: int, period: str) -> pd.DataFrame:
    rows = session.execute(
        select(BillLine.item, BillLine.amount_cents, Bill.amount_cents, Bill.paid_cents)
        .join(Bill, BillLine.bill_id == Bill.id)
        .where(Bill.community_id == community_id, Bill.period == period, Bill.status != "cancelled")).all()
    billed: dict[str, int] = {}
    collected: dict[str, Fraction] = {}
    for item, line_cents, bill_cents, paid in rows:
        billed[item] = billed.get(item, 0) + line_cents
        share = Fraction(line_cents * min(paid, bill_cents), bill_cents) if bill_cents else Fraction(0)
        collected[item] = collected.get(item, Fraction(0)) + share
    # exact shares, rounded half up once per item
    data = [(item, billed[item], int((collected[item] * 2 + 1) // 2)) for item in sorted(billed)]
    frame = pd.DataFrame(data, columns=["item", "billed_cents", "collected_cents"])
    return _with_rate(frame)


def arrears_aging(session: Session, community_id: int, as_of: date) -> pd.DataFrame:
    rows = session.execute(
        select(Bill.household_id, Bill.due_date, Bill.amount_cents - Bill.paid_cents)
        .where(Bill.community_id == community_id, Bill.status.in_(("open", "partially_paid")))).all()
    buckets = {name: {"bills": 0, "households": set(), "cents": 0} for name, _, _ in AGING_BUCKETS}
    for household_id, due, owed in rows:
        days = (as_of - due).days
        for name, low, high in AGING_BUCKETS:
            if (low is None and days <= high) or (low is not None and days >= low and (high is None or days <= high)):
                buckets[name]["bills"] += 1
                buckets[name]["households"].add(household_id)
                buckets[name]["cents"] += int(owed)
                break
    return pd.DataFrame([(name, b["bills"], len(b["households"]), b["cents"]) for name, b in buckets.items()],
                        columns=["bucket", "bills", "households", "outstanding_cents"])


def cash_journal(session: Session, community_id: int, day: date) -> tuple[pd.DataFrame, bool]:
    """(rows, available): money in and out on local ``day`` (times in local time);
    ``available`` is False without payments."""
    columns = ["time", "household", "kind", "method", "reference", "amount_cents"]
    try:
        from app.domains.fees.models import Payment, Refund
    except ImportError:
        return pd.DataFrame(columns=columns), False
    start = from_local(datetime(day.year, day.month, day.day))  # the cashier's day, not UTC's
    end = start + timedelta(days=1)
    rows = []
    for at, code, method, reference, amount in session.execute(
            select(Payment.received_at, Household.code, Payment.method, Payment.reference, Payment.amount_cents)
            .join(Household, Payment.household_id == Household.id)
            .where(Payment.community_id == community_id, Payment.received_at >= start,
                   Payment.received_at < end, Payment.method != "prepaid")
            .order_by(Payment.received_at, Payment.id)):
        rows.append((to_local(at), code, "payment", method, reference or "", int(amount)))
    for at, code, method, reason, amount in session.execute(
            select(Refund.created_at, Household.code, Payment.method, Refund.reason,
                   Refund.amount_cents - Refund.from_prepaid_cents)
            .join(Payment, Refund.payment_id == Payment.id)
            .join(Household, Refund.household_id == Household.id)
            .where(Refund.community_id == community_id, Refund.created_at >= start, Refund.created_at < end)
            .order_by(Refund.created_at, Refund.id)):
        rows.append((to_local(at), code, "refund", method, reason or "", -int(amount)))
    frame = pd.DataFrame(sorted(rows, key=lambda r: r[0]), columns=columns)
    return frame, True


def journal_totals(journal: pd.DataFrame) -> dict[str, int]:
    if journal.empty:
        return {}
    totals = journal.groupby("method")["amount_cents"].sum()
    return {str(k): int(v) for k, v in totals.items()}


def _yuan(frame: pd.DataFrame) -> pd.DataFrame:
    """Cents columns → yuan (Decimal, 2 places) for people reading the spreadsheet."""
    out = frame.copy()
    for col in [c for c in out.columns if c.endswith("_cents")]:
        out[col[:-6] + "_yuan"] = [Decimal(int(v)) / 100 for v in out.pop(col)]
    if "rate" in out:
        out["rate_percent"] = out.pop("rate")
    return out


def export_excel(session: Session, community_id: int, period: str, as_of: date, day: date | None = None) -> bytes:
    """One workbook: collection by period, by building and by item for ``period``, aging, journal."""
    journal, _ = cash_journal(session, community_id, day or as_of)
    sheets = {
        "collection_by_period": collection_by_period(session, community_id),
        "by_building": collection_by_building(session, community_id, period),
        "by_item": collection_by_item(session, community_id, period),
        "arrears_aging": arrears_aging(session, community_id, as_of),
        "cash_journal": journal,
    }
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            _yuan(frame).to_excel(writer, sheet_name=name, index=False)  # Decimals stay Decimal cells
    return buffer.getvalue()
