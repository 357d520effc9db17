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

from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pandas as pd
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.domains.estate.models import Building, Household, Unit
from app.domains.fees.models import Bill, BillLine
from app.localtime import from_local, to_local
from app.platform.kpi import percent

AGING_BUCKETS = (("not_due", None, 0), ("1-30", 1, 30), ("31-90", 31, 90), ("91-180", 91, 180),
                 ("181-365", 181, 365), ("365+", 366, None))


def rate_percent(collected: int, billed: int) -> Decimal | None:
    """collected ÷ billed as a percentage with one decimal (ROUND_HALF_UP); None if nothing billed."""
    return percent(collected, billed)


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


def latest_issued_period(session: Session, community_id: int) -> str | None:
    """The newest period of this community with an issued monthly billing run (what a report
    should open on: an un-issued month has no bills to show)."""
    from app.domains.fees.models import BillingRun

    return session.scalar(select(func.max(BillingRun.period)).where(
        BillingRun.community_id == community_id, BillingRun.status == "issued", BillingRun.kind == "monthly"))


# --------------------------------------------------------------------------- Excel for people

_TEXT = {
    "title": {"zh": "{community} · 物业费报表 · 账期 {period}", "en": "{community} · Fee report · period {period}"},
    "note": {"zh": "欠费截至 {as_of}；收款日记账 {day}。金额单位：元。", "en": "Arrears as of {as_of}; cash journal of {day}. Amounts in yuan."},
    "sheet_period": {"zh": "收缴率（按账期）", "en": "Collection by period"},
    "sheet_building": {"zh": "按楼栋", "en": "By building"},
    "sheet_item": {"zh": "按收费项目", "en": "By fee item"},
    "sheet_aging": {"zh": "欠费账龄", "en": "Arrears aging"},
    "sheet_journal": {"zh": "收款日记账", "en": "Cash journal"},
    "period": {"zh": "账期", "en": "Period"}, "bills": {"zh": "账单数", "en": "Bills"},
    "paid_bills": {"zh": "已结清账单", "en": "Bills paid in full"},
    "billed": {"zh": "应收（元）", "en": "Billed (yuan)"}, "collected": {"zh": "实收（元）", "en": "Collected (yuan)"},
    "rate": {"zh": "收缴率", "en": "Collection rate"}, "building": {"zh": "楼栋", "en": "Building"},
    "item": {"zh": "收费项目", "en": "Fee item"}, "bucket": {"zh": "逾期天数", "en": "Days past due"},
    "households": {"zh": "户数", "en": "Households"}, "outstanding": {"zh": "欠费（元）", "en": "Outstanding (yuan)"},
    "time": {"zh": "时间", "en": "Time"}, "household": {"zh": "户号", "en": "Household"},
    "kind": {"zh": "类型", "en": "Kind"}, "method": {"zh": "方式", "en": "Method"},
    "reference": {"zh": "凭证号", "en": "Reference"}, "amount": {"zh": "金额（元）", "en": "Amount (yuan)"},
    "payment": {"zh": "收款", "en": "Payment"}, "refund": {"zh": "退款", "en": "Refund"},
    "not_due": {"zh": "未到期", "en": "Not yet due"}, "late_fee": {"zh": "滞纳金", "en": "Late fee"},
}
_BUCKET_TEXT = {"zh": "逾期 {low}–{high} 天", "en": "{low}–{high} days overdue"}
_BUCKET_OVER = {"zh": "逾期 {low} 天以上", "en": "over {low} days overdue"}


def _t(key: str, locale: str) -> str:
    return _TEXT[key]["en" if locale.startswith("en") else "zh"]


def bucket_label(bucket: str, locale: str) -> str:
    """``1-30`` → "逾期 1–30 天" / "1–30 days overdue" (never the code)."""
    if bucket == "not_due":
        return _t("not_due", locale)
    lang = "en" if locale.startswith("en") else "zh"
    low, _, high = bucket.partition("-")
    if bucket.endswith("+"):
        return _BUCKET_OVER[lang].format(low=int(bucket[:-1]))
    return _BUCKET_TEXT[lang].format(low=low, high=high)


def _money(cents) -> Decimal:
    return Decimal(int(cents or 0)) / 100


def _fraction(rate: Decimal | None) -> Decimal | None:
    return None if rate is None else rate / 100


def export_excel(session: Session, community_id: int, period: str, as_of: date, day: date | None = None, *,
                 locale: str = "zh", item_labels: dict[str, str] | None = None) -> bytes:
    """One workbook people can read: collection by period, by building and by item for
    ``period``, arrears aging as of ``as_of``, the cash journal of ``day``; headers and values in
    ``locale`` (zh or en), money as ¥#,##0.00, rates as percent, a title row, frozen headers."""
    from app.domains.estate.models import Community
    from app.domains.fees.receipts import METHOD_LABELS
    from app.platform.excel import Column, Sheet, workbook

    lang = "en" if locale.startswith("en") else "zh"
    community = session.get(Community, community_id)
    name = (community.name_en or community.name) if lang == "en" else community.name
    labels = {"late_fee": _t("late_fee", lang), **(item_labels or {})}
    day = day or as_of
    journal, _ = cash_journal(session, community_id, day)
    t = lambda key: _t(key, lang)
    by_period = collection_by_period(session, community_id)
    by_building = collection_by_building(session, community_id, period)
    by_item = collection_by_item(session, community_id, period)
    aging = arrears_aging(session, community_id, as_of)
    money, pct = "money", "percent"
    sheets = [
        Sheet(t("sheet_period"), [Column(t("period"), "text", 10), Column(t("bills"), "int", 10),
                                  Column(t("paid_bills"), "int", 14), Column(t("billed"), money, 16),
                                  Column(t("collected"), money, 16), Column(t("rate"), pct, 12)],
              [[r.period, r.bills, r.paid_bills, _money(r.billed_cents), _money(r.collected_cents), _fraction(r.rate)]
               for r in by_period.itertuples()]),
        Sheet(t("sheet_building"), [Column(t("building"), "text", 14), Column(t("bills"), "int", 10),
                                    Column(t("billed"), money, 16), Column(t("collected"), money, 16),
                                    Column(t("rate"), pct, 12)],
              [[r.name, r.bills, _money(r.billed_cents), _money(r.collected_cents), _fraction(r.rate)]
               for r in by_building.itertuples()]),
        Sheet(t("sheet_item"), [Column(t("item"), "text", 20), Column(t("billed"), money, 16),
                                Column(t("collected"), money, 16), Column(t("rate"), pct, 12)],
              [[labels.get(r.item, r.item), _money(r.billed_cents), _money(r.collected_cents), _fraction(r.rate)]
               for r in by_item.itertuples()]),
        Sheet(t("sheet_aging"), [Column(t("bucket"), "text", 20), Column(t("bills"), "int", 10),
                                 Column(t("households"), "int", 10), Column(t("outstanding"), money, 16)],
              [[bucket_label(r.bucket, lang), r.bills, r.households, _money(r.outstanding_cents)]
               for r in aging.itertuples()]),
        Sheet(t("sheet_journal"), [Column(t("time"), "datetime", 18), Column(t("household"), "text", 16),
                                   Column(t("kind"), "text", 8), Column(t("method"), "text", 16),
                                   Column(t("reference"), "text", 24), Column(t("amount"), money, 14)],
              [[r.time, r.household, t(r.kind), METHOD_LABELS.get(r.method, {}).get(lang, r.method), r.reference,
                _money(r.amount_cents)] for r in journal.itertuples()]),
    ]
    title = _t("title", lang).format(community=name, period=period)
    for sheet in sheets:
        sheet.note = _t("note", lang).format(as_of=as_of.isoformat(), day=day.isoformat())
    return workbook(sheets, title)
