"""Charges of a period that another module computed (e.g. energy's 公摊 shares).

Each becomes a ``FeeCharge`` of the named fee item (basis ``charge``), so the month's
billing run bills it like any line, with the caller's explanation as the line's note, and
links it to the bill (billed once). Amounts are exact cents: quantity 1 × the amount.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from app.db import utcnow
from app.domains.fees.models import FeeCharge
from app.platform.bulk import bulk_insert_dicts


def add_period_charges(session: Session, *, community_id: int, item: str, period: str,
                       lines: list[tuple[int, int, str]], actor: str) -> int:
    """``lines``: (household id, amount in cents, explanation). Lines of 0 cents are skipped.
    Returns the number of charges written (no commit)."""
    now = utcnow()  # COPY applies no column defaults
    rows = [{"community_id": community_id, "household_id": household_id, "item": item,
             "description": text[:300], "quantity": Decimal("1"), "unit_price": Decimal(cents) / 100,
             "period": period, "created_by": actor, "created_at": now}
            for household_id, cents, text in lines if cents > 0]
    if rows:
        bulk_insert_dicts(session, FeeCharge.__table__, rows)  # COPY on PostgreSQL (10,000 shares at once)
        session.flush()
    return len(rows)
