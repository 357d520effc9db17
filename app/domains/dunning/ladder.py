"""Dunning: one ``dunning`` process per overdue bill (business key = bill number).

``start_overdue`` (the daily Prefect sweep, ``workflows/dunning_sweep.py``) starts an
instance for every overdue, unpaid bill of a community with the dunning module enabled —
at most one per bill, ever, so running the sweep twice starts nothing twice. The process
(``bpmn/dunning/dunning.bpmn``) sends tiered reminders on the days from the module settings,
asks front desk to call, then the manager to review; the payment of the bill
(``payment.received``) ends it at any point.

Door suspension is the only pressure the platform offers, off by default, and only for a
household without an exemption flag (elderly living alone, medical, disability), after a
manager's approval and an announced date; payment restores it at once. Cutting water,
power, heat or gas is never offered (Civil Code art. 944).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.domains import security as doors
from app.domains.dunning.models import DoorSuspension
from app.domains.estate.models import Community, Household
from app.domains.fees import Bill, yuan
from app.domains.notifications.delivery import RESIDENT_CHANNELS, notify
from app.engine.models import ProcessInstance
from app.localtime import from_local, local_today
from app.modules.models import ModuleActivation
from app.platform.audit import record

PROCESS_ID = "dunning"
MODULE_ID = "dunning"
SEND_AT = time(9, 0)


@lru_cache(maxsize=4)
def _module(assets_dir: str):
    from app.modules.catalog import load_catalog

    return load_catalog(Path(assets_dir)).modules[MODULE_ID]


def dunning_settings(session: Session, community_id: int) -> dict[str, Any] | None:
    """Typed settings of the dunning module for a community; None when it is not enabled."""
    from app.modules.settings_schema import settings_from_json
    from app.settings import get_settings

    row = session.scalar(select(ModuleActivation).where(
        ModuleActivation.community_id == community_id, ModuleActivation.module_id == MODULE_ID))
    if row is None or not row.enabled:
        return None
    return settings_from_json(_module(str(get_settings().assets_dir)), row.settings)


def at_local(day: date, at: time = SEND_AT) -> datetime:
    """Naive UTC of a local wall-clock time."""
    return from_local(datetime.combine(day, at))  # reminders go out at local wall-clock time


def iso_utc(dt: datetime) -> str:
    return dt.replace(microsecond=0).isoformat() + "+00:00"


def instance_for(session: Session, bill_number: str) -> ProcessInstance | None:
    return session.scalar(select(ProcessInstance).where(
        ProcessInstance.process_id == PROCESS_ID, ProcessInstance.business_key == bill_number)
        .order_by(ProcessInstance.id.desc()).limit(1))


def start_data(bill: Bill, household: Household, settings: dict) -> dict[str, Any]:
    days = [int(settings["first_reminder_days"]), int(settings["second_reminder_days"]),
            int(settings["final_reminder_days"])]
    days = [max(d, prev) for prev, d in zip([0, *days[:-1]], days)]  # never earlier than the tier before
    return {
        "bill_id": bill.id, "bill_number": bill.number, "household_id": household.id,
        "household_code": household.code, "household_name": household.head_name,
        "period": bill.period, "due_date": bill.due_date.isoformat(),
        "amount_due": yuan(bill.outstanding_cents),
        "reminder1_at": iso_utc(at_local(bill.due_date + timedelta(days=days[0]))),
        "reminder2_at": iso_utc(at_local(bill.due_date + timedelta(days=days[1]))),
        "final_at": iso_utc(at_local(bill.due_date + timedelta(days=days[2]))),
        "exempt": bool(household.elderly_alone or household.medical_exemption or household.disability_exemption),
        "suspended": False, "days_overdue": 0, "suspension_block_reason": "",
        "approval_note": "", "suspend_on": "",
    }


def start_overdue(session: Session, *, community_id: int | None = None, today: date | None = None,
                  actor: str = "dunning_sweep") -> list[ProcessInstance]:
    """Start a dunning instance for each overdue unpaid bill that has none (idempotent)."""
    from app.platform.processes import start_process

    today = today or local_today()
    q = select(ModuleActivation.community_id).where(ModuleActivation.module_id == MODULE_ID,
                                                    ModuleActivation.enabled.is_(True))
    if community_id is not None:
        q = q.where(ModuleActivation.community_id == community_id)
    started: list[ProcessInstance] = []
    for cid in sorted(session.scalars(q)):
        settings = dunning_settings(session, cid)
        bills = session.scalars(select(Bill).where(
            Bill.community_id == cid, Bill.status.in_(("open", "partially_paid")), Bill.due_date < today)
            .order_by(Bill.due_date, Bill.id))
        for bill in bills:
            if instance_for(session, bill.number) is not None:
                continue
            household = session.get(Household, bill.household_id)
            started.append(start_process(session, community_id=cid, process_id=PROCESS_ID, actor=actor,
                                         business_key=bill.number, data=start_data(bill, household, settings)))
    return started


# --- steps the process calls (through app/domains/dunning/operations.py) -------------------
TIER_TEMPLATES = {"first": "dunning.reminder.first", "second": "dunning.reminder.second",
                  "final": "dunning.reminder.final"}


def remind(session: Session, *, community_id: int, bill_number: str, tier: str, channels: tuple[str, ...],
           actor: str = "dunning") -> dict:
    """Send one reminder tier to the household (skipped if the bill is paid meanwhile)."""
    bill = session.scalar(select(Bill).where(Bill.number == bill_number, Bill.community_id == community_id))
    if bill is None:
        raise LookupError(f"no bill {bill_number} in community {community_id}")
    if bill.status not in ("open", "partially_paid"):
        return {f"reminder_{tier}": "skipped"}
    community = session.get(Community, community_id)
    days = (local_today() - bill.due_date).days
    rows = notify(session, template=TIER_TEMPLATES[tier], community_id=community_id, household_id=bill.household_id,
                  channels=channels,
                  params={"bill": bill.number, "period": bill.period, "amount": yuan(bill.outstanding_cents),
                          "due_date": bill.due_date.isoformat(), "days": days, "community": community.name,
                          "notice_url": f"/dunning/notice/{bill.number}"})
    sent = {f"{r.channel}:{r.status}" for r in rows}
    record(session, actor=actor, action=f"dunning.reminder.{tier}", target_type="bill", target_id=bill.number,
           community_id=community_id,
           after={"household_id": bill.household_id, "amount_cents": bill.outstanding_cents, "channels": sorted(sent)})
    return {f"reminder_{tier}": ",".join(sorted(sent)), "amount_due": yuan(bill.outstanding_cents),
            "days_overdue": days}


def check_suspension(session: Session, *, community_id: int, household_id: int) -> dict:
    """May this household's door access be suspended right now? (setting, exemptions, doors)"""
    settings = dunning_settings(session, community_id) or {}
    household = session.get(Household, household_id)
    reason = ""
    if not settings.get("door_suspension_enabled"):
        reason = "door suspension is not enabled for this community / 本小区未开启门禁暂停"
    elif household.elderly_alone or household.medical_exemption or household.disability_exemption:
        reason = "household is exempt (elderly alone, medical or disability) / 住户享有豁免（独居老人、医疗或残障）"
    elif not doors.suspension_doors(session, community_id, household_id):
        reason = "no door controller with door.suspend / 无支持暂停的门禁设备"
    elif not doors.household_credentials(session, household_id):
        reason = "household has no door card / 住户无门禁卡"
    allowed = not reason
    earliest = local_today() + timedelta(days=int(settings.get("suspension_notice_days") or 7))
    record(session, actor="dunning", action="dunning.suspension_check", target_type="household",
           target_id=household_id, community_id=community_id, after={"allowed": allowed, "reason": reason})
    return {"suspension_allowed": allowed, "suspension_block_reason": reason,
            "earliest_suspension_date": earliest.isoformat()}


def schedule_suspension(session: Session, *, community_id: int, household_id: int, bill_number: str,
                        suspend_on: str | date | None, approved_by: str, reason: str = "") -> dict:
    """Record the approved suspension and announce its date to the household.

    The date is never earlier than the notice period from the settings."""
    check = check_suspension(session, community_id=community_id, household_id=household_id)
    if not check["suspension_allowed"]:
        raise PermissionError(f"suspension not allowed: {check['suspension_block_reason']}")
    earliest = date.fromisoformat(check["earliest_suspension_date"])
    day = suspend_on if isinstance(suspend_on, date) else (date.fromisoformat(str(suspend_on)[:10]) if suspend_on else earliest)
    day = max(day, earliest)
    when = at_local(day)
    row = DoorSuspension(community_id=community_id, household_id=household_id, bill_number=bill_number,
                         status="scheduled", suspend_at=when, approved_by=approved_by, reason=reason[:300] or None,
                         credentials=doors.household_credentials(session, household_id), commands=[],
                         created_at=clock.now())
    session.add(row)
    session.flush()
    bill = session.scalar(select(Bill).where(Bill.number == bill_number))
    notify(session, template="dunning.suspension_notice", community_id=community_id, household_id=household_id,
           channels=RESIDENT_CHANNELS,
           params={"bill": bill_number, "amount": yuan(bill.outstanding_cents) if bill else "",
                   "date": day.isoformat()})
    record(session, actor=approved_by, action="dunning.suspension_scheduled", target_type="household",
           target_id=household_id, community_id=community_id,
           after={"bill": bill_number, "suspend_on": day.isoformat(), "suspension_id": row.id, "reason": reason})
    return {"suspension_id": row.id, "suspend_on": day.isoformat(), "suspend_at": iso_utc(when)}


def suspend(session: Session, *, community_id: int, bill_number: str, actor: str = "dunning") -> dict:
    """The announced date came: suspend the household's credentials at the doors."""
    row = session.scalar(select(DoorSuspension).where(
        DoorSuspension.community_id == community_id, DoorSuspension.bill_number == bill_number,
        DoorSuspension.status.in_(("scheduled", "active"))).order_by(DoorSuspension.id.desc()))
    if row is None:
        return {"suspended": False}
    bill = session.scalar(select(Bill).where(Bill.number == bill_number))
    if bill is not None and bill.status not in ("open", "partially_paid"):
        row.status = "cancelled"
        record(session, actor=actor, action="dunning.suspension_cancelled", target_type="household",
               target_id=row.household_id, community_id=community_id, after={"bill": bill_number, "why": "paid"})
        return {"suspended": False}
    results = doors.send_door_command(session, community_id, "door.suspend", list(row.credentials or []),
                               reason=f"arrears {bill_number}", household_id=row.household_id)
    row.status, row.suspended_at = "active", clock.now()
    row.commands = [*(row.commands or []), *[r.as_dict() for r in results]]
    record(session, actor=actor, action="door.suspend", target_type="household", target_id=row.household_id,
           community_id=community_id, after={"bill": bill_number, "commands": [r.as_dict() for r in results]})
    return {"suspended": True, "suspension_id": row.id}


def restore(session: Session, *, community_id: int, bill_number: str, actor: str = "dunning") -> dict:
    """Payment arrived (or the case closed): restore at once; cancel an announced one."""
    rows = list(session.scalars(select(DoorSuspension).where(
        DoorSuspension.community_id == community_id, DoorSuspension.bill_number == bill_number,
        DoorSuspension.status.in_(("scheduled", "active")))))
    restored = False
    for row in rows:
        if row.status == "scheduled":
            row.status = "cancelled"
            record(session, actor=actor, action="dunning.suspension_cancelled", target_type="household",
                   target_id=row.household_id, community_id=community_id, after={"bill": bill_number})
            continue
        results = doors.send_door_command(session, community_id, "door.restore", list(row.credentials or []),
                                   household_id=row.household_id)
        row.status, row.restored_at = "restored", clock.now()
        row.commands = [*(row.commands or []), *[r.as_dict() for r in results]]
        restored = True
        record(session, actor=actor, action="door.restore", target_type="household", target_id=row.household_id,
               community_id=community_id, after={"bill": bill_number, "commands": [r.as_dict() for r in results]})
        notify(session, template="dunning.access_restored", community_id=community_id,
               household_id=row.household_id, channels=RESIDENT_CHANNELS, params={"bill": bill_number})
    return {"suspended": False, "restored": restored}
