"""Charges of a period that another module computed (e.g. energy's 公摊 shares).

Each becomes a ``FeeCharge`` of the named fee item (basis ``charge``), so the month's
billing run bills it like any line, with the caller's explanation as the line's note, and
links it to the bill (billed once). Amounts are exact cents: quantity 1 × the amount.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import insert
from sqlalchemy.orm import Session

from app.domains.fees.models import FeeCharge


def add_period_charges(session: Session, *, community_id: int, item: str, period: str,
                       lines: list[tuple[int, int, str]], actor: str) -> int:
    """``lines``: (household id, amount in cents, explanation). Lines of 0 cents are skipped.
    Returns the number of charges written (no commit)."""
    rows = [{"community_id": community_id, "household_id": household_id, "item": item,
             "description": text[:300], "quantity": Decimal("1"), "unit_price": Decimal(cents) / 100,
             "period": period, "created_by": actor}
            for household_id, cents, text in lines if cents > 0]
    if rows:
        session.execute(insert(FeeCharge), rows)
        session.flush()
    return len(rows)
