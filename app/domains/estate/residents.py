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


class FamilyLinkError(ValueError):
    """A refused link or unlink; ``message(locale)`` says why in zh or en."""

    MESSAGES = {
        "not_found": ("没有找到这个账号：请填写对方注册的用户名或手机号。",
                      "No login found: enter the username or mobile number they signed up with."),
        "not_resident": ("只能关联住户账号。", "Only a resident's login can be linked."),
        "self": ("这是您自己的账号。", "That is your own login."),
        "already": ("这个账号已经关联到本户。", "That login already acts for this household."),
        "not_family": ("只能解除家属账号的关联（户主不能解除）。", "Only a family member's link can be removed, not the owner's."),
    }

    def __init__(self, code: str):
        self.code = code
        super().__init__(self.MESSAGES[code][1])

    def message(self, locale: str = "zh") -> str:
        zh, en = self.MESSAGES[self.code]
        return en if locale.startswith("en") else zh


def find_login(session: Session, text: str):
    """The login a person typed: a username, or the mobile number on a resident record that has
    a login. ``None`` if nobody matches (or the number is on several logins)."""
    from flask_appbuilder.security.sqla.models import User

    text = (text or "").strip()
    if not text:
        return None
    user = session.scalar(select(User).where(User.username == text))
    if user is not None:
        return user
    ids = set(session.scalars(select(Resident.user_id).where(Resident.phone == text, Resident.user_id.is_not(None))))
    return session.get(User, ids.pop()) if len(ids) == 1 else None


def family_logins(session: Session, household: Household) -> list[Resident]:
    """The residents of ``household`` who have a login, owners first."""
    return sorted((r for r in household.residents if r.user_id), key=lambda r: (r.relation != "owner", r.id))


def unlink_login(session: Session, *, household: Household, resident_id: int) -> Resident:
    """Stop a family member's login acting for ``household``; its own households stay. The
    community membership goes only when no other household there is theirs."""
    resident = session.get(Resident, resident_id)
    if resident is None or resident.household_id != household.id or not resident.user_id \
            or resident.relation == "owner":
        raise FamilyLinkError("not_family")
    user_id = resident.user_id
    session.delete(resident)
    session.flush()
    still = session.scalar(select(Resident.id).where(Resident.user_id == user_id,
                                                     Resident.community_id == household.community_id).limit(1))
    membership = session.get(UserCommunity, (user_id, household.community_id))
    if still is None and membership is not None:
        session.delete(membership)
    pref = session.get(ResidentPreference, user_id)
    if pref is not None and pref.household_id == household.id:
        pref.household_id = None
    session.flush()
    return resident
