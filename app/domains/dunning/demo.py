"""Demo: dunning enabled in 怡翠花园 (YC); the first overdue bill left open by the fees demo
(lowest household, not the resident login's home) is in dunning."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.demo.modules import enable_for_demo
from app.domains.estate.models import Household, Resident
from app.domains.fees import Bill

ORDER = 45  # after the fees demo, which issues and pays the bills


def seed(session: Session) -> None:
    from app.domains.dunning.ladder import (
        PROCESS_ID,
        dunning_settings,
        instance_for,
        local_today,
        start_data,
    )
    from app.platform.processes import start_process

    yc, _ = enable_for_demo(session, "dunning")
    if yc is None:
        return
    open_statuses = ("open", "partially_paid")
    period = session.scalar(select(func.min(Bill.period)).where(Bill.community_id == yc.id,
                                                                Bill.status.in_(open_statuses)))
    if period is None:
        return
    resident_home = session.scalar(select(Resident.household_id).join(Household).where(
        Household.code == "YC-1-101"))
    dunned = session.scalar(select(Bill).where(
        Bill.community_id == yc.id, Bill.period == period, Bill.status == "open",
        Bill.household_id != resident_home).order_by(Bill.household_id, Bill.id).limit(1))
    if dunned is None or dunned.due_date >= local_today() or instance_for(session, dunned.number) is not None:
        return
    start_process(session, community_id=yc.id, process_id=PROCESS_ID, actor="demo", business_key=dunned.number,
                  data=start_data(dunned, session.get(Household, dunned.household_id),
                                  dunning_settings(session, yc.id)))
    session.flush()
