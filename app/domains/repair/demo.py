"""Demo: repairs enabled in 怡翠花园 with two months of history and orders in every state.

History (closed orders, a few reopened or low-rated) feeds the KPI page; current orders sit
in each state: waiting for dispatch by hand, dispatched (one already past its response
limit, so it is escalated), accepted, on site, done and waiting for the resident
(resident_yc), confirmed with a manager follow-up or a front-desk call-back open, closed.
Every step goes through the real process (services + engine), at demo times set on app.clock.
"""
from __future__ import annotations

import struct
import zlib
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.db import utcnow
from app.domains.estate.models import Community, Household, Resident
from app.engine import complete_task, fire_due_timers
from app.engine.models import OPEN_TASK, TaskRow
from app.modules.activation import enable_module
from app.modules.catalog import load_catalog
from app.modules.models import ModuleActivation
from app.settings import get_settings

CATEGORIES = ["plumbing", "electrical", "plumbing", "door_access", "public_area", "electrical", "roof_leak",
              "plumbing", "other", "lift"]
TEXTS = {
    "plumbing": "厨房水龙头一直滴水", "electrical": "卫生间灯不亮，开关没反应", "door_access": "单元门禁刷卡打不开",
    "public_area": "楼道扶手松动", "roof_leak": "顶楼卧室天花板渗水", "other": "信报箱门坏了", "lift": "电梯按钮失灵",
}

ORDER = 20


def _png() -> bytes:
    """A small solid-colour PNG (the demo's stand-in for a phone photo)."""
    width = height = 16
    raw = b"".join(b"\x00" + b"\x5b\xc0\xde" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _open(session: Session, order, element: str) -> TaskRow | None:
    return session.scalar(select(TaskRow).where(TaskRow.instance_id == order.instance_id,
                                                TaskRow.element_id == element, TaskRow.status.in_(OPEN_TASK))
                          .order_by(TaskRow.id.desc()).limit(1))


def seed(session: Session) -> None:
    from app.domains.repair import orders as repair_orders
    from app.domains.repair.dispatch import assign_pending_tasks
    from app.forms.uploads import store_upload
    from app.platform.uploads import grant_uploads

    catalog = load_catalog(get_settings().assets_dir)
    yc = session.scalar(select(Community).where(Community.code == "YC"))
    if yc is None or "repair" not in catalog.modules:
        return
    if session.scalar(select(ModuleActivation).where(ModuleActivation.community_id == yc.id,
                                                     ModuleActivation.module_id == "repair")) is not None:
        return
    activation = enable_module(session, catalog=catalog, community_id=yc.id, module_id="repair", actor="demo")
    photo = store_upload(_png(), "photo.png", accept=("image/png",))
    grant_uploads(session, {"photos": [photo]}, yc.id, "demo")
    households = list(session.scalars(select(Household).where(Household.community_id == yc.id)
                                      .order_by(Household.id)))
    resident_home = session.scalar(select(Household).join(Resident, Resident.household_id == Household.id)
                                   .where(Household.community_id == yc.id, Resident.user_id.is_not(None)))

    def username(order) -> str:
        return order.technician_username

    def step(order, element: str, data: dict, actor: str, minutes: int) -> None:
        clock.advance(timedelta(minutes=minutes))
        row = _open(session, order, element)
        if row is None:
            return
        complete_task(session, row.id, data, actor)
        assign_pending_tasks(session)
        session.flush()
        session.refresh(order)

    def report(household, category: str, at, *, resident: bool = False, location_kind: str = "unit"):
        clock.freeze(at)
        data = {"category": category, "description": TEXTS[category], "photos": [photo],
                "location_kind": location_kind, "preferred_time": "anytime"}
        order = repair_orders.create_order(session, community_id=yc.id, data=data,
                                           actor="resident_yc" if resident else "frontdesk_yc",
                                           household_id=household.id)
        assign_pending_tasks(session)
        session.flush()
        return order

    work = {"before_photos": [photo], "after_photos": [photo], "work_note": "已更换损坏部件并试用正常",
            "materials": "配件 1个", "materials_cost": "30.00", "labour_cost": "20.00", "charge_household": True}

    def to_completed(order, response_min: int, resolution_min: int, accept_quote: bool = True) -> None:
        step(order, "accept", {"decision": "accept"}, username(order), response_min)
        step(order, "check_in", {"arrived": True}, username(order), max(5, resolution_min // 3))
        step(order, "work", dict(work), username(order), max(5, resolution_min - response_min - resolution_min // 3))
        if order.quote_status == "pending" and accept_quote:  # the household said yes on its phone
            repair_orders.answer_quote(session, order, actor="resident", accept=True)

    def confirm(order, rating: int, minutes: int = 120) -> None:
        clock.advance(timedelta(minutes=minutes))
        row = _open(session, order, "confirm")
        complete_task(session, row.id, {"decision": "confirm", "rating": str(rating),
                                        "comment": "师傅很准时" if rating >= 4 else "等了很久"}, "resident")
        session.flush()
        session.refresh(order)

    def finish_follow_ups(order) -> None:
        for element, data, actor in (("follow_up", {"follow_up_note": "已上门致歉并复查"}, "manager_yc"),
                                     ("callback", {"reached": True, "satisfied": True, "callback_note": "住户满意"},
                                      "frontdesk_yc")):
            step(order, element, data, actor, 60)

    real_now = utcnow()
    try:
        # two months of history, all closed
        for i in range(24):
            at = real_now - timedelta(days=60 - i * 2.4, hours=(i * 5) % 9)
            category = CATEGORIES[i % len(CATEGORIES)]
            if category == "lift":
                category = "electrical"
            order = report(households[(i * 7) % len(households)], category, at)
            response = [8, 15, 22, 35, 12, 48, 19, 27, 90, 10, 14, 31][i % 12]
            resolution = [90, 150, 240, 600, 180, 1500, 320, 200, 2000, 120, 400, 260][i % 12]
            to_completed(order, response, resolution)
            if i in (5, 17):  # reopened once, then fixed
                clock.advance(timedelta(hours=20))
                row = _open(session, order, "confirm")
                complete_task(session, row.id, {"decision": "reopen", "reopen_reason": "没过两天又坏了"}, "resident")
                assign_pending_tasks(session)
                session.flush()
                session.refresh(order)
                to_completed(order, 25, 300)
            confirm(order, [5, 4, 5, 5, 2, 4, 5, 3, 5, 4, 1, 5][i % 12])
            finish_follow_ups(order)

        now = real_now
        # closed, from the demo resident
        order = report(resident_home, "plumbing", now - timedelta(days=9), resident=True)
        to_completed(order, 12, 180)
        confirm(order, 5)
        finish_follow_ups(order)
        # confirmed with a low rating: the manager's follow-up is open
        order = report(households[3], "electrical", now - timedelta(days=2))
        to_completed(order, 40, 400)
        confirm(order, 2)
        # confirmed and picked for a call-back: the front desk's task is open
        activation.settings = {**activation.settings, "revisit_sample_percent": 100}
        session.flush()
        order = report(households[5], "door_access", now - timedelta(days=1, hours=3))
        to_completed(order, 9, 200)
        confirm(order, 4)
        activation.settings = {**activation.settings, "revisit_sample_percent": 20}
        session.flush()
        # done, waiting for the demo resident to confirm and rate
        order = report(resident_home, "electrical", now - timedelta(hours=6), resident=True)
        to_completed(order, 10, 150, accept_quote=False)  # and to answer the repair quote
        # technician on site
        order = report(households[8], "plumbing", now - timedelta(hours=2))
        step(order, "accept", {"decision": "accept"}, username(order), 6)
        step(order, "check_in", {"arrived": True}, username(order), 25)
        # accepted, on the way
        order = report(households[11], "electrical", now - timedelta(minutes=50))
        step(order, "accept", {"decision": "accept"}, username(order), 7)
        # the only lift technician declined: waiting for the manager to dispatch by hand
        order = report(households[2], "lift", now - timedelta(minutes=35), location_kind="building_common")
        step(order, "accept", {"decision": "decline", "decline_reason": "正在处理另一台电梯困人"},
             username(order), 4)
        # dispatched 45 minutes ago and never accepted: reminded and escalated to the manager
        report(households[14], "plumbing", now - timedelta(minutes=45))
        # just reported by the demo resident: dispatched, waiting for the technician
        report(resident_home, "plumbing", now - timedelta(minutes=3), resident=True)
    finally:
        clock.reset()
    fire_due_timers(session)
    session.flush()
