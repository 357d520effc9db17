"""Which household a resident login acts for (family members pay on behalf, too)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domains.estate.models import Household, Resident


def households_of_user(session: Session, user_id: int) -> list[Household]:
    """Households this login is a resident of (usually one)."""
    return list(session.scalars(
        select(Household).join(Resident, Resident.household_id == Household.id)
        .where(Resident.user_id == user_id, Household.active.is_(True)).order_by(Household.id)
    ))


def require_household(session: Session, user_id: int, household_id: int | None = None) -> Household | None:
    """The given household if it is this login's, else the first one; None if none is."""
    households = households_of_user(session, user_id)
    if household_id is None:
        return households[0] if households else None
    return next((h for h in households if h.id == household_id), None)
