"""Arrears aging per household (欠费账龄): who owes what, for how long, with the late fees —
the list a front desk works through with the phone, and the 催缴 action's starting point.

Per household with overdue open bills (due before ``as_of``): the owner (户主) and phone, the
unit, the amount still owed in four age buckets by days past the due date (0–30, 31–90,
91–180, over 180), the late fees charged on those bills, and whether a dunning process is
already running for them (read from the engine's instances, business key = bill number).
Bills not yet due are not arrears. Amounts are integer cents.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domains.estate.models import Building, Household, Unit
from app.domains.fees.models import Bill, BillLine

BUCKETS = (("0-30", 0, 30), ("31-90", 31, 90), ("91-180", 91, 180), ("180+", 181, None))
OPEN = ("open", "partially_paid")
DUNNING_PROCESS = "dunning"
ALIVE = ("running", "waiting", "incident")  # an instance still chasing (not completed or cancelled)


@dataclass
class HouseholdArrears:
    household_id: int
    code: str
    owner: str
    phone: str | None
    building: str
    unit: str
    buckets: dict[str, int] = field(default_factory=lambda: {b[0]: 0 for b in BUCKETS})
    late_fee_cents: int = 0
    bills: list[str] = field(default_factory=list)
    oldest_due: date | None = None
    #: days past due of the oldest overdue bill
    days_overdue: int = 0
    #: bills of this household with a dunning process running
    dunning_running: int = 0

    @property
    def owed_cents(self) -> int:
        return sum(self.buckets.values())


def bucket_of(days: int) -> str:
    for name, low, high in BUCKETS:
        if days >= low and (high is None or days <= high):
            return name
    return BUCKETS[0][0]


def household_aging(session: Session, community_id: int, as_of: date, min_cents: int = 0) -> list[HouseholdArrears]:
    """Households owing more than ``min_cents`` on bills past due at ``as_of``, most owed first."""
    rows = session.execute(
        select(Bill.id, Bill.number, Bill.household_id, Bill.due_date, Bill.amount_cents - Bill.paid_cents,
               Household.code, Household.head_name, Household.phone, Building.name, Unit.number)
        .join(Household, Household.id == Bill.household_id).join(Unit, Unit.id == Household.unit_id)
        .join(Building, Building.id == Unit.building_id)
        .where(Bill.community_id == community_id, Bill.status.in_(OPEN), Bill.due_date < as_of)
        .order_by(Bill.due_date, Bill.id)).all()
    out: dict[int, HouseholdArrears] = {}
    bill_household: dict[int, int] = {}
    number_household: dict[str, int] = {}
    for bill_id, number, hid, due, owed, code, owner, phone, building, unit in rows:
        entry = out.get(hid) or out.setdefault(hid, HouseholdArrears(hid, code, owner, phone, building, unit))
        days = (as_of - due).days
        entry.buckets[bucket_of(days)] += int(owed or 0)
        entry.bills.append(number)
        if entry.oldest_due is None or due < entry.oldest_due:
            entry.oldest_due, entry.days_overdue = due, days
        bill_household[bill_id] = hid
        number_household[number] = hid
    if bill_household:
        for bill_id, cents in session.execute(
                select(BillLine.bill_id, func.sum(BillLine.amount_cents)).where(
                    BillLine.bill_id.in_(list(bill_household)), BillLine.kind == "late_fee")
                .group_by(BillLine.bill_id)):
            out[bill_household[bill_id]].late_fee_cents += int(cents or 0)
        for number, status in dunning_instances(session, community_id, list(number_household)).items():
            out[number_household[number]].dunning_running += status in ALIVE
    found = [h for h in out.values() if h.owed_cents > min_cents]
    return sorted(found, key=lambda h: (-h.owed_cents, h.code))


def dunning_instances(session: Session, community_id: int, bill_numbers: list[str]) -> dict[str, str]:
    """bill number → status of its (latest) dunning process, for the bills that have one."""
    from app.engine.models import ProcessInstance

    if not bill_numbers:
        return {}
    return {key: status for key, status in session.execute(
        select(ProcessInstance.business_key, ProcessInstance.status).where(
            ProcessInstance.community_id == community_id, ProcessInstance.process_id == DUNNING_PROCESS,
            ProcessInstance.business_key.in_(bill_numbers)).order_by(ProcessInstance.id))}


def totals(rows: list[HouseholdArrears]) -> dict[str, int]:
    out = {name: sum(r.buckets[name] for r in rows) for name, _, _ in BUCKETS}
    out["owed"] = sum(out.values())
    out["late_fees"] = sum(r.late_fee_cents for r in rows)
    out["households"] = len(rows)
    return out


_TEXT = {
    "zh": {"title": "{community} · 欠费账龄（按户） · 截至 {as_of}", "sheet": "欠费账龄", "household": "户号",
           "owner": "户主", "phone": "电话", "building": "楼栋", "unit": "房号", "0-30": "0–30 天",
           "31-90": "31–90 天", "91-180": "91–180 天", "180+": "180 天以上", "owed": "欠费合计（元）",
           "late_fees": "其中滞纳金（元）", "days": "最长逾期（天）", "bills": "欠费账单", "dunning": "催缴进度",
           "running": "催缴中（{n} 张账单）", "none": "未催缴", "total": "合计（{n} 户）",
           "note": "金额单位：元；账龄按账单到期日起算的逾期天数；未到期账单不计入。"},
    "en": {"title": "{community} · Arrears aging by household · as of {as_of}", "sheet": "Arrears aging",
           "household": "Household", "owner": "Owner", "phone": "Phone", "building": "Building", "unit": "Unit",
           "0-30": "0–30 days", "31-90": "31–90 days", "91-180": "91–180 days", "180+": "Over 180 days",
           "owed": "Owed in total (yuan)", "late_fees": "Of which late fees (yuan)", "days": "Longest overdue (days)",
           "bills": "Overdue bills", "dunning": "Dunning", "running": "In dunning ({n} bills)", "none": "Not chased",
           "total": "Total ({n} households)",
           "note": "Amounts in yuan; age = days past the bill's due date; bills not yet due are not counted."},
}


def text(locale: str) -> dict[str, str]:
    return _TEXT["en" if locale.startswith("en") else "zh"]


def dunning_label(row: HouseholdArrears, locale: str) -> str:
    t = text(locale)
    return t["running"].format(n=row.dunning_running) if row.dunning_running else t["none"]


def to_excel(rows: list[HouseholdArrears], community_name: str, as_of: date, locale: str = "zh") -> bytes:
    """The aging list as a workbook people can read: title row naming community and date,
    headers in ``locale``, money ¥#,##0.00, widths, frozen header, a total row."""
    from decimal import Decimal

    from app.platform.excel import Column, Sheet, workbook

    t = text(locale)

    def yuan(cents: int) -> Decimal:
        return Decimal(int(cents)) / 100

    columns = [Column(t["household"], "text", 14), Column(t["owner"], "text", 12), Column(t["phone"], "text", 14),
               Column(t["building"], "text", 10), Column(t["unit"], "text", 8)]
    columns += [Column(t[name], "money", 13) for name, _, _ in BUCKETS]
    columns += [Column(t["owed"], "money", 15), Column(t["late_fees"], "money", 15), Column(t["days"], "int", 12),
                Column(t["bills"], "text", 30), Column(t["dunning"], "text", 18)]
    body = [[r.code, r.owner, r.phone or "", r.building, r.unit, *[yuan(r.buckets[n]) for n, _, _ in BUCKETS],
             yuan(r.owed_cents), yuan(r.late_fee_cents), r.days_overdue, "、".join(r.bills) if locale.startswith("zh")
             else ", ".join(r.bills), dunning_label(r, locale)] for r in rows]
    tot = totals(rows)
    body.append([t["total"].format(n=tot["households"]), "", "", "", "", *[yuan(tot[n]) for n, _, _ in BUCKETS],
                 yuan(tot["owed"]), yuan(tot["late_fees"]), None, "", ""])
    sheet = Sheet(t["sheet"], columns, body, note=t["note"])
    return workbook([sheet], t["title"].format(community=community_name, as_of=as_of.isoformat()))
