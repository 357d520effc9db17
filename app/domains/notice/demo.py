"""Demo: the notice module enabled in 怡翠花园 with one notice waiting for front desk."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.demo.modules import enable_for_demo
from app.engine.models import ProcessVersion
from app.platform.processes import start_process

ORDER = 10


def seed(session: Session) -> None:
    yc, enabled_now = enable_for_demo(session, "notice")
    if not enabled_now:
        return
    process_id = session.scalar(select(ProcessVersion.process_id).where(ProcessVersion.module_id == "notice"))
    start_process(session, community_id=yc.id, process_id=process_id, actor="demo", business_key="NOTICE-DEMO-1")
