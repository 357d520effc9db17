"""Which household a resident login acts for (family members pay on behalf, too).

A login may be a resident of several households (an elderly parent's and their own): the
household it acts for is its choice (:class:`ResidentPreference`), the first one until it
chooses. Every resident page asks :func:`require_household`, so the switch applies to bills,
repairs and visitors alike.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domains.estate.models import Household, Resident, ResidentPreference, UserCommunity


def households_of_user(session: Session, user_id: int) -> list[Household]:
    """Households this login is a resident of (usually one)."""
    return list(session.scalars(
        select(Household).join(Resident, Resident.household_id == Household.id)
        .where(Resident.user_id == user_id, Household.active.is_(True)).order_by(Household.id)
    ))


def chosen_household_id(session: Session, user_id: int) -> int | None:
    pref = session.get(ResidentPreference, user_id)
    return pref.household_id if pref else None


def require_household(session: Session, user_id: int, household_id: int | None = None) -> Household | None:
    """The given household if it is this login's, else the one it chose, else the first;
    None if none is."""
    households = households_of_user(session, user_id)
    if household_id is None:
        chosen = chosen_household_id(session, user_id)
        return next((h for h in households if h.id == chosen), households[0] if households else None)
    return next((h for h in households if h.id == household_id), None)


def choose_household(session: Session, user_id: int, household_id: int) -> Household | None:
    """Act for ``household_id`` from now on; None (nothing changed) if it is not this login's."""
    household = require_household(session, user_id, household_id)
    if household is not None:
        pref = session.get(ResidentPreference, user_id)
        if pref is None:
            pref = ResidentPreference(user_id=user_id)
            session.add(pref)
        pref.household_id = household.id
        session.flush()
    return household


def link_login(session: Session, *, household: Household, user_id: int, name: str,
               relation: str = "family", phone: str | None = None) -> Resident:
    """Let a login act for ``household`` too (a son or daughter paying and reporting for an
    elderly parent): a resident row of that household, and membership of its community.
    Linking the same login twice changes nothing."""
    existing = session.scalar(select(Resident).where(Resident.household_id == household.id,
                                                     Resident.user_id == user_id))
    if existing is not None:
        return existing
    resident = Resident(community_id=household.community_id, household_id=household.id, user_id=user_id,
                        name=name[:100], relation=relation[:20], phone=phone)
    session.add(resident)
    if session.get(UserCommunity, (user_id, household.community_id)) is None:
        session.add(UserCommunity(user_id=user_id, community_id=household.community_id))
    session.flush()
    return resident
