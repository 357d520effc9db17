"""Public revenue (公共收益): a ledger of income and expenses of the common property per
community, the owners' share, the monthly disclosure (公示) and its Excel export.

A published month is frozen: no entry of it can be added or changed; a mistake is put right
by a correcting entry in an open month that names the entry it corrects (its amount may be
negative). Other modules post income through :func:`post_public_revenue` (idempotent on
their own reference, e.g. parking's order number).
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.domains.energy.errors import EnergyError
from app.domains.energy.models import PublicRevenueDisclosure, PublicRevenueEntry
from app.domains.energy.periods import bounds
from app.localtime import to_local
from app.platform.audit import record

CATEGORIES = {
    "income": {"parking": {"zh": "停车收入", "en": "Parking"},
               "advertising": {"zh": "广告收入", "en": "Advertising"},
               "charger": {"zh": "充电桩分成", "en": "EV charger margin"},
               "venue": {"zh": "场地租赁", "en": "Venue rental"},
               "other_income": {"zh": "其他收入", "en": "Other income"}},
    "expense": {"maintenance": {"zh": "公共设施维护", "en": "Maintenance of shared facilities"},
                "management": {"zh": "经营管理成本", "en": "Running costs"},
                "tax": {"zh": "税费", "en": "Taxes"},
                "other_expense": {"zh": "其他支出", "en": "Other expense"}},
}
DIRECTION_LABELS = {"income": {"zh": "收入", "en": "Income"}, "expense": {"zh": "支出", "en": "Expense"}}


def category_label(category: str, locale: str = "zh") -> str:
    for cats in CATEGORIES.values():
        if category in cats:
            return cats[category].get(locale, cats[category]["en"])
    return category


def parse_yuan(text: str) -> int:
    """'12.50' → 1250; refuses non-numbers, more than 2 decimals, 0 or less."""
    try:
        value = Decimal(str(text).strip())
    except (InvalidOperation, ValueError):
        raise EnergyError("bad_amount") from None
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        raise EnergyError("bad_amount")
    return int(value * 100)


def disclosure(session: Session, community_id: int, period: str) -> PublicRevenueDisclosure | None:
    return session.scalar(select(PublicRevenueDisclosure).where(
        PublicRevenueDisclosure.community_id == community_id, PublicRevenueDisclosure.period == period))


def _check_open(session: Session, community_id: int, period: str) -> None:
    bounds(period)
    if disclosure(session, community_id, period) is not None:
        raise EnergyError("published", period=period)


def add_entry(session: Session, community_id: int, *, period: str, direction: str, category: str,
              amount_cents: int, description: str, evidence: list | None, actor: str,
              source: str = "manual", source_ref: str | None = None,
              corrects_id: int | None = None) -> PublicRevenueEntry:
    """Record an entry (no commit); every check before anything is written."""
    if direction not in CATEGORIES:
        raise EnergyError("bad_direction")
    if category not in CATEGORIES[direction]:
        raise EnergyError("bad_category")
    description = (description or "").strip()
    if not description:
        raise EnergyError("empty_description")
    if source == "manual" and corrects_id is None and not evidence:
        raise EnergyError("evidence_required")
    if corrects_id is None and amount_cents <= 0:
        raise EnergyError("bad_amount")
    _check_open(session, community_id, period)
    entry = PublicRevenueEntry(community_id=community_id, period=period, direction=direction, category=category,
                               amount_cents=amount_cents, description=description[:300], evidence=list(evidence or []),
                               corrects_id=corrects_id, source=source, source_ref=source_ref, created_by=actor,
                               created_at=clock.now())
    session.add(entry)
    session.flush()
    if evidence:
        from app.platform.uploads import grant_uploads

        grant_uploads(session, {"evidence": evidence}, community_id, actor)
    record(session, actor=actor, action="energy.revenue_entry", target_type="public_revenue_entry",
           target_id=entry.id, community_id=community_id,
           after={"period": period, "direction": direction, "category": category, "amount_cents": amount_cents,
                  "corrects": corrects_id})
    return entry


def correct_entry(session: Session, community_id: int, entry_id: int, *, amount_cents: int, reason: str,
                  actor: str, period: str | None = None) -> PublicRevenueEntry:
    """A correcting entry in an open month: ``amount_cents`` is the difference (may be
    negative), e.g. -5000 when 50 yuan too much was recorded."""
    original = session.get(PublicRevenueEntry, entry_id)
    if original is None or original.community_id != community_id:
        raise EnergyError("no_entry")
    if amount_cents == 0:
        raise EnergyError("bad_amount")
    period = period or f"{to_local(clock.now()):%Y-%m}"
    return add_entry(session, community_id, period=period, direction=original.direction,
                     category=original.category, amount_cents=amount_cents,
                     description=f"更正 #{original.id}（{original.period}）：{reason}", evidence=None,
                     actor=actor, corrects_id=original.id)


def post_public_revenue(session: Session, *, community_id: int, category: str, amount_cents: int,
                        description: str, source: str, source_ref: str, period: str | None = None,
                        direction: str = "income") -> PublicRevenueEntry:
    """For other modules (e.g. parking): post income once per ``source_ref``; a repeated post
    returns the entry already there. A published month's posting goes to the current month."""
    found = session.scalar(select(PublicRevenueEntry).where(PublicRevenueEntry.community_id == community_id,
                                                            PublicRevenueEntry.source_ref == source_ref))
    if found is not None:
        return found
    period = period or f"{to_local(clock.now()):%Y-%m}"
    if disclosure(session, community_id, period) is not None:
        period = f"{to_local(clock.now()):%Y-%m}"
    return add_entry(session, community_id, period=period, direction=direction, category=category,
                     amount_cents=amount_cents, description=description, evidence=None, actor=source,
                     source=source, source_ref=source_ref)


def entries(session: Session, community_id: int, period: str) -> list[PublicRevenueEntry]:
    return list(session.scalars(select(PublicRevenueEntry).where(
        PublicRevenueEntry.community_id == community_id, PublicRevenueEntry.period == period)
        .order_by(PublicRevenueEntry.id)))


def totals(session: Session, community_id: int, period: str, owners_pct: Decimal) -> dict:
    rows = entries(session, community_id, period)
    income = sum(e.amount_cents for e in rows if e.direction == "income")
    expense = sum(e.amount_cents for e in rows if e.direction == "expense")
    net = income - expense
    owners = int((Decimal(max(net, 0)) * owners_pct / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return {"income_cents": income, "expense_cents": expense, "net_cents": net, "owners_pct": owners_pct,
            "owners_cents": owners, "company_cents": max(net, 0) - owners, "entries": rows}


def publish(session: Session, community_id: int, period: str, actor: str) -> PublicRevenueDisclosure:
    from app.platform.module_settings import module_settings

    bounds(period)
    done = disclosure(session, community_id, period)
    if done is not None:
        raise EnergyError("already_published", period=period, at=f"{to_local(done.published_at):%Y-%m-%d %H:%M}")
    pct = Decimal(str(module_settings(session, community_id, "energy")["owners_share_percent"]))
    t = totals(session, community_id, period, pct)
    row = PublicRevenueDisclosure(community_id=community_id, period=period, income_cents=t["income_cents"],
                                  expense_cents=t["expense_cents"], owners_pct=pct, owners_cents=t["owners_cents"],
                                  company_cents=t["company_cents"], published_by=actor, published_at=clock.now())
    session.add(row)
    session.flush()
    record(session, actor=actor, action="energy.revenue_published", target_type="public_revenue_disclosure",
           target_id=period, community_id=community_id,
           after={k: t[k] for k in ("income_cents", "expense_cents", "owners_cents")})
    return row


def published(session: Session, community_ids: list[int]) -> list[PublicRevenueDisclosure]:
    return list(session.scalars(select(PublicRevenueDisclosure).where(
        PublicRevenueDisclosure.community_id.in_(community_ids))
        .order_by(PublicRevenueDisclosure.period.desc())))


def export_xlsx(session: Session, community_id: int, period: str) -> bytes:
    """The month's ledger and totals as an Excel workbook."""
    from io import BytesIO

    from openpyxl import Workbook

    from app.platform.module_settings import module_settings

    pct = Decimal(str(module_settings(session, community_id, "energy")["owners_share_percent"]))
    t = totals(session, community_id, period, pct)
    wb = Workbook()
    ws = wb.active
    ws.title = period
    ws.append(["编号", "收支", "类别", "金额（元）", "说明", "更正", "录入", "时间"])
    for e in t["entries"]:
        ws.append([e.id, DIRECTION_LABELS[e.direction]["zh"], category_label(e.category), e.amount_cents / 100,
                   e.description, e.corrects_id or "", e.created_by, f"{to_local(e.created_at):%Y-%m-%d %H:%M}"])
    ws.append([])
    for label, key in (("收入合计", "income_cents"), ("支出合计", "expense_cents"), ("净收益", "net_cents"),
                       ("业主分成", "owners_cents"), ("物业酬金", "company_cents")):
        ws.append([label, "", "", t[key] / 100])
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()
