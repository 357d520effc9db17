"""催缴 from the arrears list: a person chases one household now, instead of waiting for the
daily sweep.

For each of the household's overdue open bills: a bill with no dunning process gets one (the
same start as the sweep's, :func:`app.domains.dunning.ladder.start_overdue`); a bill already in
dunning gets its reminder now, at the tier its days overdue have reached (in-app and SMS).
What the platform may do about arrears stays as the law allows: reminders, calls, the
manager's review and — only through the process, opt-in, approved and announced — door
access. Water, power, heat and gas are never touched (Civil Code art. 944).
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domains.dunning.ladder import dunning_settings, instance_for, remind, start_data
from app.domains.estate.models import Household
from app.domains.fees import Bill
from app.localtime import local_today
from app.platform.audit import record

OPEN = ("open", "partially_paid")


class ChaseError(Exception):
    """Why a household cannot be chased; ``zh``/``en`` for the page."""

    def __init__(self, zh: str, en: str):
        super().__init__(en)
        self.zh, self.en = zh, en

    def message(self, locale: str) -> str:
        return self.en if locale.startswith("en") else self.zh


def tier_for(days_overdue: int, settings: dict) -> str:
    """The reminder tier a bill this many days overdue has reached (at least the first)."""
    if days_overdue >= int(settings["final_reminder_days"]):
        return "final"
    if days_overdue >= int(settings["second_reminder_days"]):
        return "second"
    return "first"


def chase_household(session: Session, *, community_id: int, household_id: int, actor: str,
                    today: date | None = None) -> dict[str, list[str]]:
    """Start or advance dunning for every overdue bill of the household. Does not commit."""
    from app.platform.processes import start_process

    today = today or local_today()
    settings = dunning_settings(session, community_id)
    if settings is None:
        raise ChaseError("本小区未启用催缴模块，无法催缴。", "The dunning module is not enabled in this community.")
    household = session.get(Household, household_id)
    if household is None or household.community_id != community_id:
        raise ChaseError("没有这一户。", "No such household in this community.")
    bills = list(session.scalars(select(Bill).where(
        Bill.community_id == community_id, Bill.household_id == household_id, Bill.status.in_(OPEN),
        Bill.due_date < today).order_by(Bill.due_date, Bill.id)))
    if not bills:
        raise ChaseError("这一户没有逾期未缴的账单。", "This household has no overdue unpaid bill.")
    started: list[str] = []
    reminded: list[str] = []
    for bill in bills:
        instance = instance_for(session, bill.number)
        if instance is None:
            start_process(session, community_id=community_id, process_id="dunning", actor=actor,
                          business_key=bill.number, data=start_data(bill, household, settings))
            started.append(bill.number)
        else:
            remind(session, community_id=community_id, bill_number=bill.number,
                   tier=tier_for((today - bill.due_date).days, settings), channels=("in_app", "sms"), actor=actor)
            reminded.append(bill.number)
    record(session, actor=actor, action="dunning.chased", target_type="household", target_id=household_id,
           community_id=community_id, after={"started": started, "reminded": reminded})
    return {"started": started, "reminded": reminded}
