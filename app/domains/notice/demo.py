"""Demo: the notice module enabled in 怡翠花园: one notice published (drafted by front desk,
approved by the manager, through the process) and one waiting for front desk."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.demo.modules import enable_for_demo
from app.engine import complete_task
from app.engine.models import OPEN_TASK, ProcessVersion, TaskRow
from app.platform.processes import start_process

ORDER = 10

PUBLISHED = {"title": "停水通知", "body": "12月3日 9:00–15:00 更换3号楼供水管道，期间3号楼停水，请提前储水。"}


def _complete_open(session: Session, instance_id: int, data: dict, actor: str) -> None:
    row = session.scalar(select(TaskRow).where(TaskRow.instance_id == instance_id, TaskRow.status.in_(OPEN_TASK))
                         .order_by(TaskRow.id.desc()).limit(1))
    if row is not None:
        complete_task(session, row.id, data, actor)


def seed(session: Session) -> None:
    yc, enabled_now = enable_for_demo(session, "notice")
    if not enabled_now:
        return
    process_id = session.scalar(select(ProcessVersion.process_id).where(ProcessVersion.module_id == "notice"))
    published = start_process(session, community_id=yc.id, process_id=process_id, actor="demo",
                              business_key="NOTICE-DEMO-0")
    _complete_open(session, published.id, dict(PUBLISHED), "frontdesk_yc")
    _complete_open(session, published.id, {"decision": "approve"}, "manager_yc")
    start_process(session, community_id=yc.id, process_id=process_id, actor="demo", business_key="NOTICE-DEMO-1")
