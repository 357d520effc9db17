"""Repair orders: the resident's report, the status timeline, confirmation, reopening, the
repair quote the household answers, charging.

The order row is what people see; the BPMN process (business key = order number) moves it.
Operations in app/domains/repair/operations.py call :func:`record` at each step, so the timeline,
the SLA timestamps and the notifications follow the process. Functions never commit.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import clock
from app.domains.estate.models import (
    Building,
    Community,
    Household,
    Resident,
    Staff,
    Unit,
)
from app.domains.repair import settings as cfg
from app.domains.repair.models import RepairOrder
from app.domains.repair.timeline import (  # noqa: F401  (part of this module's API)
    add_event,
    notify_resident,
    notify_users,
    technician_name,
    timeline,
    users_with_role,
)
from app.localtime import local_today, to_local
from app.platform.audit import record as audit

LOCATION_KINDS = ("unit", "building_common", "community_common")
MAX_PHOTOS = 6
MAX_PHOTO_BYTES = 5 * 1024 * 1024

_MESSAGES = {
    "module_disabled": {"zh": "本小区尚未开通报事报修。", "en": "Repairs are not enabled for this community."},
    "bad_category": {"zh": "请选择报修类别。", "en": "Choose a repair category."},
    "empty_description": {"zh": "请描述问题。", "en": "Describe the problem."},
    "long_description": {"zh": "问题描述不能超过 1000 字。", "en": "The description may have at most 1000 characters."},
    "photo_count": {"zh": "请上传 1 到 6 张照片。", "en": "Add 1 to 6 photos."},
    "photo_type": {"zh": "照片必须是图片文件（JPG、PNG、WebP、GIF）。",
                   "en": "Photos must be images (JPG, PNG, WebP, GIF)."},
    "photo_size": {"zh": "每张照片不能超过 5 MB。", "en": "Each photo may be at most 5 MB."},
    "bad_location": {"zh": "请选择报修位置。", "en": "Choose where the problem is."},
    "not_your_unit": {"zh": "只能为自己家的房屋报修。", "en": "You can only report repairs for your own home."},
    "no_household": {"zh": "户内报修需要指定房屋。", "en": "An in-home repair needs a household."},
    "duplicate": {"zh": "这次报修已经提交过了（工单 {number}），无需重复提交。",
                  "en": "This report was already submitted (order {number}); nothing was added."},
    "not_open": {"zh": "工单 {number} 目前不需要您确认。", "en": "Order {number} is not waiting for your confirmation."},
    "window_closed": {"zh": "已超过 {days} 天的可重开期限，请重新报修。",
                      "en": "The {days}-day reopen window has passed; please report a new repair."},
    "not_found": {"zh": "没有找到该工单。", "en": "No such order."},
    "no_quote": {"zh": "工单 {number} 没有等待您确认的报价。", "en": "Order {number} has no quote waiting for your answer."},
    "decline_reason": {"zh": "请写明不同意的原因，方便维修师傅和项目经理处理。",
                       "en": "Say why you decline, so the technician and the manager can follow up."},
    "bad_quote": {"zh": "请填写正确的金额（元，最多两位小数）。", "en": "Enter valid amounts (yuan, at most two decimals)."},
    "quote_state": {"zh": "工单 {number} 的报价已被接受，不能再修改。", "en": "The quote of order {number} was accepted; it can no longer change."},
}


class RepairError(Exception):
    """A refused repair action; ``message(locale)`` for people, ``code`` for programs."""

    def __init__(self, code: str, **params: Any):
        self.code, self.params = code, params
        super().__init__(self.message("en"))

    def message(self, locale: str = "zh") -> str:
        texts = _MESSAGES[self.code]
        return (texts.get(locale[:2]) or texts["en"]).format(**self.params)


# --------------------------------------------------------------------------- reading


def get_order(session: Session, number: str, community_ids=None) -> RepairOrder | None:
    query = select(RepairOrder).where(RepairOrder.number == number)
    if community_ids is not None:
        query = query.where(RepairOrder.community_id.in_(list(community_ids)))
    return session.scalar(query)


def orders_of_households(session: Session, household_ids: list[int]) -> list[RepairOrder]:
    if not household_ids:
        return []
    return list(session.scalars(select(RepairOrder).where(RepairOrder.household_id.in_(household_ids))
                                .order_by(RepairOrder.id.desc())))


def location_text(session: Session, order: RepairOrder, locale: str = "zh") -> str:
    building = session.get(Building, order.building_id) if order.building_id else None
    unit = session.get(Unit, order.unit_id) if order.unit_id else None
    label = cfg.choice_label(cfg.REPORT_FORM, "location_kind", order.location_kind, locale)
    where = ""
    if order.location_kind == "unit" and unit is not None:
        where = f"{building.name if building else ''}{unit.number}"
    elif building is not None and order.location_kind == "building_common":
        where = building.name
    parts = [p for p in (label, where, order.location_note or "") if p]
    return " · ".join(parts)


def sla_state(order: RepairOrder, now: datetime | None = None) -> dict[str, str]:
    """``met``/``breached``/``pending``/``overdue`` for response and resolution."""
    now = now or clock.now()

    def state(done: datetime | None, due: datetime | None) -> str:
        if due is None:
            return "none"
        if done is not None:
            return "met" if done <= due else "breached"
        return "overdue" if now > due else "pending"

    return {"response": state(order.accepted_at, order.response_due_at),
            "resolution": state(order.completed_at, order.resolution_due_at)}


# --------------------------------------------------------------------------- reporting


def _photo_problem(photos: Any) -> str | None:
    if not isinstance(photos, list) or not 1 <= len(photos) <= MAX_PHOTOS:
        return "photo_count"
    for ref in photos:
        if not isinstance(ref, dict) or not ref.get("sha256"):
            return "photo_count"
        if not str(ref.get("content_type", "")).startswith("image/"):
            return "photo_type"
        if int(ref.get("size") or 0) > MAX_PHOTO_BYTES:
            return "photo_size"
    return None


def _next_number(session: Session, community: Community, at: datetime) -> str:
    # one number at a time per community: two reports at once read the same max otherwise (500 on
    # the unique number, found by bench/load.py --mixed). A no-op UPDATE locks the community's row on
    # PostgreSQL (a non-key column: no deadlock with rows that reference it) and takes SQLite's write
    # lock (a stale snapshot is then "busy", 503), until commit.
    session.execute(update(Community).where(Community.id == community.id).values(name=Community.name)
                    .execution_options(synchronize_session=False))
    prefix = f"{community.code}-R-{to_local(at):%Y%m%d}-"
    last = session.scalar(select(func.max(RepairOrder.number)).where(RepairOrder.number.like(prefix + "%")))
    seq = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{seq:04d}"


def create_order(
    session: Session, *, community_id: int, data: dict, actor: str, user_id: int | None = None,
    household_id: int | None = None, building_id: int | None = None, token: str | None = None,
) -> RepairOrder:
    """Validate a report, create the order and start its process (business key = number).

    ``user_id`` set means a resident reports: the household must be theirs (their first one
    when not given). Staff report for any household of the community, or none (common area,
    then ``building_id`` may say which building). ``token`` (one per report form) refuses a
    double submission. Raises :class:`RepairError`; nothing is written then.
    """
    from app.platform.processes import ProcessNotAllowed, module_enabled, start_process

    if not module_enabled(session, community_id, cfg.MODULE_ID):
        raise RepairError("module_disabled")
    if token:
        existing = session.scalar(select(RepairOrder).where(RepairOrder.submission_token == token))
        if existing is not None:
            raise RepairError("duplicate", number=existing.number)
    category = str(data.get("category") or "")
    if category not in {c.id for c in cfg.categories()}:
        raise RepairError("bad_category")
    description = str(data.get("description") or "").strip()
    if not description:
        raise RepairError("empty_description")
    if len(description) > 1000:
        raise RepairError("long_description")
    problem = _photo_problem(data.get("photos"))
    if problem:
        raise RepairError(problem)
    location_kind = str(data.get("location_kind") or "unit")
    if location_kind not in LOCATION_KINDS:
        raise RepairError("bad_location")

    household = None
    if user_id is not None:
        from app.domains.estate.residents import require_household

        household = require_household(session, user_id, household_id)
        if household is None or household.community_id != community_id:
            raise RepairError("not_your_unit")
    elif household_id is not None:
        household = session.get(Household, household_id)
        if household is None or household.community_id != community_id:
            raise RepairError("not_your_unit")
    if location_kind == "unit" and household is None:
        raise RepairError("no_household")

    unit = household.unit if household is not None else None
    if unit is not None:
        building_id = unit.building_id
    elif building_id is not None:
        building = session.get(Building, building_id)
        if building is None or building.community_id != community_id:
            building_id = None

    community = session.get(Community, community_id)
    now = clock.now()
    settings = cfg.community_settings(session, community_id)
    plan = cfg.sla_plan(settings, category, now)
    order = RepairOrder(
        number=_next_number(session, community, now), community_id=community_id,
        household_id=household.id if household else None, building_id=building_id,
        unit_id=unit.id if (unit is not None and location_kind == "unit") else None,
        category=category, description=description, photos=list(data["photos"]),
        location_kind=location_kind, location_note=(str(data.get("location_note") or "").strip() or None),
        preferred_time=str(data.get("preferred_time") or "") or None, status="reported",
        reported_by=actor, submission_token=token or uuid.uuid4().hex, reported_at=now,
        response_due_at=plan["at"]["response_due"], resolution_due_at=plan["at"]["resolution_due"],
        declined_staff_ids=[], before_photos=[], after_photos=[],
    )
    try:
        with session.begin_nested():
            session.add(order)
            session.flush()
    except IntegrityError:
        existing = session.scalar(select(RepairOrder).where(RepairOrder.submission_token == token)) if token else None
        if existing is not None:
            raise RepairError("duplicate", number=existing.number) from None
        raise
    add_event(session, order, "reported", actor=actor, note=description)
    audit(session, actor=actor, action="repair.report", target_type="repair_order", target_id=order.number,
          community_id=community_id, after={"category": category, "household_id": order.household_id,
                                            "location_kind": location_kind})
    notify_resident(session, order, "repair.reported")
    try:
        instance = start_process(session, community_id=community_id, process_id="repair", actor=actor,
                                 business_key=order.number, data=process_data(session, order))
    except ProcessNotAllowed:
        raise RepairError("module_disabled") from None
    order.instance_id = instance.id
    session.flush()
    return order


def process_data(session: Session, order: RepairOrder) -> dict[str, Any]:
    """What the process and its task forms show (context) about an order."""
    household = session.get(Household, order.household_id) if order.household_id else None
    chargeable = is_chargeable(session, order)
    return {
        "order_id": order.id, "order_number": order.number, "category": order.category,
        "category_label": cfg.category_label(order.category, "zh"), "description": order.description,
        "location": location_text(session, order), "location_kind": order.location_kind,
        "household_id": order.household_id,
        "preferred_time_label": cfg.choice_label(cfg.REPORT_FORM, "preferred_time", order.preferred_time),
        "reporter_phone": household.phone if household else "",
        "chargeable": chargeable,
        "chargeable_text": "户内维修，按设置向住户收费" if chargeable else "公共部位或不收费：不向住户收费",
    }


def is_chargeable(session: Session, order: RepairOrder) -> bool:
    settings = cfg.community_settings(session, order.community_id)
    return bool(settings.get("charge_private_repairs")) and order.location_kind == "unit" \
        and order.household_id is not None


# --------------------------------------------------------------------------- steps


def _cents(value: Any) -> int:
    if value in (None, ""):
        return 0
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None
    if amount < 0:
        raise ValueError(f"negative amount: {value!r}")
    return int((amount * 100).to_integral_value())


def _yuan(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


def record(session: Session, order: RepairOrder, event: str, data: dict, actor: str = "engine") -> dict:
    """One process step happened to ``order``: update it, add a timeline line, notify.

    ``data`` is the process data at that step (the form a person just submitted). Returns
    values for the process (e.g. ``rating_value`` for the low-rating gateway).
    """
    now = clock.now()
    handler = _STEPS.get(event)
    if handler is None:
        raise ValueError(f"unknown repair event {event!r}")
    return handler(session, order, data, now, actor) or {}


def _accepted(session, order, data, now, actor):
    from app.domains.repair.dispatch import close_offer

    order.accepted_at = order.accepted_at or now
    close_offer(session, order, "accepted")
    add_event(session, order, "accepted", actor=order.technician_username, status="accepted")
    notify_resident(session, order, "repair.accepted")


def _declined(session, order, data, now, actor):
    from app.domains.repair.dispatch import record_decline

    record_decline(session, order, str(data.get("decline_reason") or ""), order.technician_username or actor)


def _arrived(session, order, data, now, actor):
    order.arrived_at = order.arrived_at or now
    add_event(session, order, "arrived", actor=order.technician_username, status="on_site",
              note=str(data.get("arrival_note") or "") or None)
    notify_resident(session, order, "repair.on_site")


def _completed(session, order, data, now, actor):
    order.completed_at = now
    order.before_photos = list(data.get("before_photos") or [])
    order.after_photos = list(data.get("after_photos") or [])
    order.work_note = str(data.get("work_note") or "") or None
    order.materials = str(data.get("materials") or "") or None
    order.materials_cost_cents = _cents(data.get("materials_cost"))
    order.labour_cost_cents = _cents(data.get("labour_cost"))
    add_event(session, order, "completed", actor=order.technician_username, status="completed",
              note=order.work_note, data={"materials": order.materials,
                                          "materials_cost_cents": order.materials_cost_cents,
                                          "labour_cost_cents": order.labour_cost_cents})
    quoted = 0
    if data.get("charge_household") and is_chargeable(session, order):
        quoted = quote(session, order, actor=order.technician_username or actor)
    settings = cfg.community_settings(session, order.community_id)
    notify_resident(session, order, "repair.completed", days=int(settings.get("reopen_days") or 0),
                    amount=_yuan(quoted))
    if quoted:
        notify_resident(session, order, "repair.quote", materials=_yuan(order.materials_cost_cents),
                        labour=_yuan(order.labour_cost_cents), amount=_yuan(quoted))
    return {"charged_cents": 0, "quoted_cents": quoted}


def _confirmed(session, order, data, now, actor):
    rating = int(data.get("rating") or 0)
    if not 1 <= rating <= 5:
        raise ValueError(f"rating must be 1-5, got {data.get('rating')!r}")
    order.rating = rating
    order.rating_comment = str(data.get("comment") or "") or None
    order.confirmed_at = now
    add_event(session, order, "confirmed", actor=actor, status="confirmed", note=order.rating_comment,
              data={"rating": rating})
    return {"rating_value": rating, "technician_name": technician_name(session, order)}


def _auto_confirmed(session, order, data, now, actor):
    order.confirmed_at = now
    add_event(session, order, "auto_confirmed", actor="system", status="confirmed")
    return {"rating_value": 0}


def _reopened(session, order, data, now, actor):
    order.reopen_count += 1
    order.confirmed_at = None
    add_event(session, order, "reopened", actor=actor, status="reported",
              note=str(data.get("reopen_reason") or "") or None)
    # a reopened order starts a new round: fresh SLA deadlines, the decline list is kept
    settings = cfg.community_settings(session, order.community_id)
    plan = cfg.sla_plan(settings, order.category, now)
    order.response_due_at = plan["at"]["response_due"]
    order.resolution_due_at = plan["at"]["resolution_due"]
    return {"decision": "", "rating": None}


def _followed_up(session, order, data, now, actor):
    add_event(session, order, "followed_up", actor=actor, note=str(data.get("follow_up_note") or "") or None)


def _called_back(session, order, data, now, actor):
    add_event(session, order, "called_back", actor=actor, note=str(data.get("callback_note") or "") or None,
              data={"reached": bool(data.get("reached")), "satisfied": data.get("satisfied")})


def _closed(session, order, data, now, actor):
    order.closed_at = now
    add_event(session, order, "closed", actor="system", status="closed")
    notify_resident(session, order, "repair.closed")


_STEPS = {
    "accepted": _accepted, "declined": _declined, "arrived": _arrived, "completed": _completed,
    "confirmed": _confirmed, "auto_confirmed": _auto_confirmed, "reopened": _reopened,
    "followed_up": _followed_up, "called_back": _called_back, "closed": _closed,
}


def task_actor(session: Session, order: RepairOrder, element_id: str) -> str | None:
    """Who completed the latest task ``element_id`` of the order's process (for the timeline)."""
    from app.engine.models import TaskRow

    return session.scalar(select(TaskRow.completed_by).where(
        TaskRow.instance_id == order.instance_id, TaskRow.element_id == element_id,
        TaskRow.status == "completed").order_by(TaskRow.id.desc()).limit(1))


def resolve_order(session: Session, number: str, *, community_id: int, note: str, actor: str) -> RepairOrder | None:
    """The cause went away by itself (e.g. energy's finding: consumption normal again).

    An order nobody has finished yet is closed with the note (its process is cancelled, so no
    technician task or SLA timer is left); a finished or closed order only gets the note on its
    timeline (the resident's confirmation runs as usual). Returns the order, or None when there
    is no such order in the community. Never commits.
    """
    from app.domains.repair.dispatch import close_offer
    from app.domains.repair.models import ACTIVE_STATUSES

    order = session.scalar(select(RepairOrder).where(RepairOrder.number == number,
                                                     RepairOrder.community_id == community_id))
    if order is None:
        return None
    note = (note or "").strip()[:500] or None
    if order.status not in ACTIVE_STATUSES or order.status == "completed":
        add_event(session, order, "resolved_note", actor=actor, note=note)
        return order
    if order.instance_id is not None:
        from app.engine.runtime import cancel_instance

        cancel_instance(session, order.instance_id, actor, reason=note or "resolved")
    close_offer(session, order, "cancelled")
    order.closed_at = clock.now()
    add_event(session, order, "resolved", actor=actor, status="closed", note=note)
    audit(session, actor=actor, action="repair.resolved", target_type="repair_order", target_id=order.number,
          community_id=community_id, after={"status": "closed", "note": note})
    return order


# --------------------------------------------------------------------------- SLA escalation

ESCALATIONS = ("reminded", "manager", "company", "resolution")


def escalate(session: Session, order: RepairOrder, level: str) -> dict:
    """An SLA timer fired: remind the technician, or escalate to the manager or the company."""
    if level not in ESCALATIONS:
        raise ValueError(f"unknown escalation level {level!r}")
    if level == "reminded":
        staff = session.get(Staff, order.technician_id) if order.technician_id else None
        if staff is not None and staff.user_id:
            notify_users(session, order, "repair.remind", [staff.user_id])
    elif level in ("manager", "resolution"):
        notify_users(session, order, f"repair.escalated_{level}",
                     users_with_role(session, "Manager", order.community_id))
    else:
        notify_users(session, order, "repair.escalated_company", users_with_role(session, "Admin", None))
    if level != "resolution":
        order.escalation_level = level
    add_event(session, order, f"escalated_{level}", actor="timer")
    audit(session, actor="timer", action=f"repair.escalate.{level}", target_type="repair_order",
          target_id=order.number, community_id=order.community_id)
    return {"escalation_level": level}


# --------------------------------------------------------------------------- resident actions


def open_confirm_task(session: Session, order: RepairOrder):
    from app.engine.models import OPEN_TASK, TaskRow

    if order.instance_id is None:
        return None
    return session.scalar(select(TaskRow).where(
        TaskRow.instance_id == order.instance_id, TaskRow.element_id == "confirm",
        TaskRow.status.in_(OPEN_TASK)).order_by(TaskRow.id.desc()).limit(1))


def resident_respond(session: Session, order: RepairOrder, *, user_id: int, username: str, data: dict) -> None:
    """The resident confirms and rates, or reopens (within the window): completes the
    process's confirm task for them. Raises :class:`RepairError`."""
    from app.domains.estate.residents import households_of_user
    from app.engine import complete_task

    if order.household_id not in {h.id for h in households_of_user(session, user_id)}:
        raise RepairError("not_found")
    row = open_confirm_task(session, order)
    if row is None or order.status != "completed":
        raise RepairError("not_open", number=order.number)
    if data.get("decision") == "reopen":
        days = int(cfg.community_settings(session, order.community_id).get("reopen_days") or 0)
        if order.completed_at is not None and clock.now() > order.completed_at + timedelta(days=days):
            raise RepairError("window_closed", days=days)
    complete_task(session, row.id, data, actor=username)


# --------------------------------------------------------------------------- quote and charging
#
# A repair charged to a household is a quote first: the technician writes materials and
# labour when the work is done; nothing is billed until a resident of the household accepts.
# Declined, the order says why and the technician and the managers are told; a manager may
# revise the amounts (a new quote for the resident) or waive the charge.

QUOTE_STATUSES = ("pending", "accepted", "declined", "waived")


def quote(session: Session, order: RepairOrder, actor: str) -> int:
    """Put materials + labour to the household as a quote waiting for its answer; the cents quoted."""
    total = order.materials_cost_cents + order.labour_cost_cents
    if total <= 0 or order.household_id is None:
        order.quote_status = None
        return 0
    order.quote_status, order.quote_decided_at, order.quote_note = "pending", None, None
    add_event(session, order, "quoted", actor=actor, data={
        "materials": order.materials, "materials_cost_cents": order.materials_cost_cents,
        "labour_cost_cents": order.labour_cost_cents, "total_cents": total})
    audit(session, actor=actor, action="repair.quote", target_type="repair_order", target_id=order.number,
          community_id=order.community_id, after={"materials_cost_cents": order.materials_cost_cents,
                                                  "labour_cost_cents": order.labour_cost_cents})
    return total


def decide_quote(session: Session, order: RepairOrder, *, user_id: int, username: str, accept: bool,
                 reason: str = "") -> int:
    """A resident of the household accepts (the charge is billed) or declines (with a reason:
    the technician and the managers are told). Returns the cents charged. Raises :class:`RepairError`."""
    from app.domains.estate.residents import households_of_user

    if order.household_id not in {h.id for h in households_of_user(session, user_id)}:
        raise RepairError("not_found")
    return answer_quote(session, order, actor=username, accept=accept, reason=reason)


def answer_quote(session: Session, order: RepairOrder, *, actor: str, accept: bool, reason: str = "") -> int:
    """The household's answer to a pending quote (the caller checked who answers)."""
    username = actor
    if order.quote_status != "pending":
        raise RepairError("no_quote", number=order.number)
    reason = (reason or "").strip()
    if not accept and not reason:
        raise RepairError("decline_reason")
    order.quote_decided_at = clock.now()
    if accept:
        order.quote_status = "accepted"
        add_event(session, order, "quote_accepted", actor=username)
        return charge_household(session, order, actor=username)
    order.quote_status, order.quote_note = "declined", reason[:300]
    add_event(session, order, "quote_declined", actor=username, note=order.quote_note)
    audit(session, actor=username, action="repair.quote_declined", target_type="repair_order",
          target_id=order.number, community_id=order.community_id, after={"reason": order.quote_note})
    staff = session.get(Staff, order.technician_id) if order.technician_id else None
    recipients = users_with_role(session, "Manager", order.community_id)
    if staff is not None and staff.user_id:
        recipients.append(staff.user_id)
    notify_users(session, order, "repair.quote_declined", recipients, reason=order.quote_note)
    return 0


def revise_quote(session: Session, order: RepairOrder, *, materials_cost: Any, labour_cost: Any,
                 actor: str, waive: bool = False) -> int:
    """A manager answers a declined (or pending) quote: new amounts go to the resident as a
    new quote, or the charge is waived. Returns the cents quoted. Raises :class:`RepairError`."""
    if order.quote_status not in ("pending", "declined"):
        raise RepairError("quote_state", number=order.number)
    if waive:
        order.quote_status, order.quote_decided_at = "waived", clock.now()
        add_event(session, order, "quote_waived", actor=actor)
        audit(session, actor=actor, action="repair.quote_waived", target_type="repair_order",
              target_id=order.number, community_id=order.community_id)
        notify_resident(session, order, "repair.quote_waived")
        return 0
    try:
        materials, labour = _cents(materials_cost), _cents(labour_cost)
    except ValueError:
        raise RepairError("bad_quote") from None
    if materials + labour <= 0:
        raise RepairError("bad_quote")
    order.materials_cost_cents, order.labour_cost_cents = materials, labour
    total = quote(session, order, actor=actor)
    notify_resident(session, order, "repair.quote", materials=_yuan(materials), labour=_yuan(labour),
                    amount=_yuan(total))
    return total


# --------------------------------------------------------------------------- charging


def charge_household(session: Session, order: RepairOrder, actor: str) -> int:
    """Charge materials + labour to the household (once it accepted the quote: see
    :func:`decide_quote`); a payable repair bill when fees is on.

    Returns the cents charged (0 when nothing to charge).
    """
    from app.platform.processes import module_enabled

    total = order.materials_cost_cents + order.labour_cost_cents
    if total <= 0 or order.household_id is None:
        return 0
    order.charge_cents = total
    bill = None
    if module_enabled(session, order.community_id, "fees"):
        bill = _repair_bill(session, order, total)
    add_event(session, order, "charged", actor=actor, data={"charge_cents": total, "bill": bill.number if bill else None})
    audit(session, actor=actor, action="repair.charge", target_type="repair_order", target_id=order.number,
          community_id=order.community_id, after={"charge_cents": total, "bill_id": bill.id if bill else None})
    return total


def _repair_bill(session: Session, order: RepairOrder, total: int):
    """The charge on the household's monthly repair bill (fees owns bills; one per household
    and month: a second repair that month adds a line to the open one)."""
    from app.domains.fees import charge_household

    bill = charge_household(
        session, community_id=order.community_id, household_id=order.household_id, kind="repair",
        number=f"{order.number}-B", item="repair",
        description=f"维修 {order.number} {cfg.category_label(order.category)}", amount_cents=total,
        explanation={"order": order.number, "materials": order.materials,
                     "materials_cost_cents": order.materials_cost_cents,
                     "labour_cost_cents": order.labour_cost_cents,
                     "basis": "repair_quote", "accepted_at": order.quote_decided_at.isoformat()
                     if order.quote_decided_at else None})
    if bill is not None:
        order.bill_id = bill.id
        session.flush()
    return bill


def new_token() -> str:
    return uuid.uuid4().hex


def resident_user_ids(session: Session, household_id: int) -> list[int]:
    return [uid for uid in session.scalars(select(Resident.user_id).where(Resident.household_id == household_id)) if uid]


def today() -> date:
    return local_today()
