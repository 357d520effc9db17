"""One-off charges other modules put on a household's bill (a repair, a deposit deduction).

The charge goes on the household's open bill of that kind for the current local month, or a
new one; a bill of that month already (partly) paid takes no more lines (the caller keeps the
charge on its own record instead).
"""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.domains.fees.models import Bill, BillLine
from app.localtime import to_local

DUE_DAYS = 15


def charge_household(session: Session, *, community_id: int, household_id: int, kind: str, number: str,
                     item: str, description: str, amount_cents: int,
                     explanation: dict[str, Any] | None = None) -> Bill | None:
    """Add one charge line; ``number`` names the bill if a new one is needed. ``None``: that
    month's bill of this kind is no longer open."""
    now = clock.now()
    period = f"{to_local(now):%Y-%m}"
    bill = session.scalar(select(Bill).where(Bill.household_id == household_id, Bill.period == period,
                                             Bill.kind == kind))
    if bill is not None and bill.status != "open":
        return None
    if bill is None:
        bill = Bill(number=number, community_id=community_id, household_id=household_id,
                    period=period, kind=kind, status="open", amount_cents=0, paid_cents=0, issued_at=now,
                    due_date=to_local(now).date() + timedelta(days=DUE_DAYS))
        session.add(bill)
        session.flush()
    bill.amount_cents += amount_cents
    session.add(BillLine(bill_id=bill.id, item=item, kind="charge", description=description[:300],
                         quantity=Decimal("1"), unit_price=Decimal(amount_cents) / 100,
                         amount_cents=amount_cents, explanation=explanation or {}))
    session.flush()
    return bill
