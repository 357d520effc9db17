"""Late fees (滞纳金) from the fees settings: daily rate, grace days, cap.

Rule (stated once, shown on every late-fee line's explanation):

* a bill still unpaid after ``due_date + late_fee_grace_days`` accrues, for each further day,
  ``outstanding principal × late_fee_daily_rate``; the first day charged is the day after the
  grace period ends. Principal is the bill's charge and adjustment lines; payments reduce
  principal first.
* the total late fee of a bill never exceeds ``late_fee_cap_percent`` % of its principal
  (courts often cut excessive late fees);
* the accrued amount is kept exact (Decimal) in the line's explanation and the line's
  amount is that total rounded ROUND_HALF_UP to 0.01 yuan.

Each bill has at most one line of kind ``late_fee``; an accrual run updates it through a
date, so running again on the same day changes nothing (idempotent per bill per day) and a
missed day is caught up at the principal of the day the run happens. The bill's
``amount_cents`` grows by the same amount, so its lines always add up to it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import clock
from app.domains.fees.billing import fees_settings
from app.domains.fees.fee_items import ROUNDING, round_cents
from app.domains.fees.models import Bill, BillLine
from app.platform.audit import record

ITEM = "late_fee"
FORMULA = ("outstanding principal × daily rate × days after the grace period, "
           "at most cap % of the principal")
OPEN = ("open", "partially_paid")


@dataclass
class AccrualResult:
    bills: int = 0
    added_cents: int = 0


def late_fee_line(session: Session, bill: Bill) -> BillLine | None:
    return session.scalar(select(BillLine).where(BillLine.bill_id == bill.id, BillLine.kind == ITEM))


def accrue_late_fees(session: Session, community_id: int, as_of: date | None = None,
                     actor: str = "system") -> AccrualResult:
    """Bring every overdue bill's late fee up to ``as_of`` (default: today). Caller commits."""
    as_of = as_of or clock.now().date()
    settings = fees_settings(session, community_id)
    rate = Decimal(settings["late_fee_daily_rate"])
    grace = int(settings["late_fee_grace_days"])
    cap_percent = Decimal(settings["late_fee_cap_percent"])
    result = AccrualResult()
    if rate <= 0:
        return result
    last_due = as_of - timedelta(days=grace + 1)
    bills = session.scalars(select(Bill).where(
        Bill.community_id == community_id, Bill.status.in_(OPEN), Bill.due_date <= last_due)
        .order_by(Bill.id).with_for_update()).all()
    if not bills:
        return result
    principals = dict(session.execute(
        select(BillLine.bill_id, func.sum(BillLine.amount_cents))
        .where(BillLine.bill_id.in_([b.id for b in bills]), BillLine.kind != ITEM)
        .group_by(BillLine.bill_id)).all())
    for bill in bills:
        delta = _accrue_bill(session, bill, int(principals.get(bill.id, 0)), as_of, rate, grace, cap_percent)
        if delta:
            result.bills += 1
            result.added_cents += delta
    if result.bills:
        record(session, actor=actor, action="late_fee.accrue", target_type="community",
               target_id=community_id, community_id=community_id,
               after={"as_of": as_of.isoformat(), "bills": result.bills, "added_cents": result.added_cents})
    session.flush()
    return result


def _accrue_bill(session: Session, bill: Bill, principal_cents: int, as_of: date, rate: Decimal,
                 grace: int, cap_percent: Decimal) -> int:
    first_day = bill.due_date + timedelta(days=grace + 1)
    line = late_fee_line(session, bill)
    explanation = dict(line.explanation) if line else {}
    through = date.fromisoformat(explanation["through"]) if explanation.get("through") else None
    start = max(first_day, through + timedelta(days=1)) if through else first_day
    days = (as_of - start).days + 1
    if days <= 0:
        return 0  # already accrued through as_of: idempotent
    paid_to_principal = min(bill.paid_cents, principal_cents)
    base = Decimal(principal_cents - paid_to_principal) / 100
    accrued = Decimal(explanation.get("accrued", "0"))
    cap = Decimal(principal_cents) / 100 * cap_percent / 100
    increment = base * rate * days
    new_accrued = min(accrued + increment, cap)
    history = list(explanation.get("history", []))
    history.append({"from": start.isoformat(), "to": as_of.isoformat(), "days": days,
                    "outstanding_principal": f"{base:.2f}", "amount": str(new_accrued - accrued)})
    new_cents = round_cents(new_accrued)
    explanation = {
        "inputs": {"principal": f"{Decimal(principal_cents) / 100:.2f}",
                   "outstanding_principal": f"{base:.2f}", "daily_rate": str(rate),
                   "grace_days": grace, "cap_percent": str(cap_percent),
                   "due_date": bill.due_date.isoformat(), "first_late_day": first_day.isoformat()},
        "formula": FORMULA, "accrued": str(new_accrued), "capped": new_accrued >= cap,
        "through": as_of.isoformat(), "history": history[-60:], "rounding": ROUNDING,
        "amount": f"{Decimal(new_cents) / 100:.2f}",
    }
    total_days = (as_of - first_day).days + 1
    if line is None:
        line = BillLine(item=ITEM, kind=ITEM, description=f"滞纳金 {bill.period}",
                        quantity=Decimal(total_days), unit_price=rate, amount_cents=0, explanation={})
        bill.lines.append(line)
    delta = new_cents - line.amount_cents
    line.amount_cents = new_cents
    line.quantity = Decimal(total_days)
    line.unit_price = rate
    line.explanation = explanation
    bill.amount_cents += delta
    session.flush()
    if delta:
        _sync_ledger(session, bill)
    return delta


def _sync_ledger(session: Session, bill: Bill) -> None:
    """Keep the payments ledger's receivable equal to what the bill owes (when installed)."""
    try:
        from app.domains.fees.ledger import sync_bill
    except ImportError:
        return
    sync_bill(session, bill)
