"""Demo: visitors enabled in 怡翠花园 (YC) and a visitor pass for resident_yc's household."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.demo.modules import enable_for_demo
from app.domains.estate.models import Household

ORDER = 60  # after security, which visitors depends on


def seed(session: Session) -> None:
    from app.domains.visitors import passes as visitor_passes

    yc, _ = enable_for_demo(session, "visitors")
    if yc is None:
        return
    household = session.scalar(select(Household).where(Household.code == "YC-1-101"))
    if household is not None and household.residents \
            and not visitor_passes.passes_of_household(session, household.id):
        visitor_passes.invite(session, household=household, visitor_name="张阿姨（演示）",
                              visitor_phone="13900000000", hours=24, entries=2, actor="demo", plate="京B67890")
    session.flush()
