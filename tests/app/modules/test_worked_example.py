"""The worked example's timer boundary (docs/authoring.md, 电梯年检 package in
tests/app/modules/fixtures/lift_inspection/), on SQLite and PostgreSQL: an inspection not done
within 48 hours leaves the technicians' inboxes and goes to the manager, whose instruction sends
it back to inspection. (The browser journey, tests/browser/test_worked_example_journey.py,
walks the rest: upload, enable, fail/fix loop, version 2 and the upgrade.)"""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from app import clock
from app.domains.estate.models import Community, PropertyCompany
from app.engine import complete_task, fire_due_timers, list_inbox
from app.engine.models import OPEN_TASK, ProcessInstance, TaskRow
from app.modules.activation import enable_module
from app.modules.catalog import load_catalog
from app.modules.packages import read_folder, upload_package, with_packages
from app.platform.processes import start_process
from app.settings import PROJECT_ROOT

LIFT = Path(__file__).parent / "fixtures" / "lift_inspection"


def test_an_overdue_inspection_goes_to_the_manager_and_back(session):
    clock.freeze(datetime(2026, 12, 1, 1, 0))
    try:
        community = Community(company=PropertyCompany(name="示例物业"), code="YC", name="怡翠花园")
        session.add(community)
        session.flush()
        assert upload_package(session, read_folder(LIFT), actor="consultant").errors == []
        enable_module(session, catalog=with_packages(session, load_catalog(PROJECT_ROOT)),
                      community_id=community.id, module_id="lift_inspection", actor="manager_yc")
        instance = start_process(session, community_id=community.id, process_id="lift_inspection",
                                 actor="manager_yc", business_key="LIFT-2026-07")
        session.commit()

        def waiting(role: str) -> list[TaskRow]:
            return [t for t in list_inbox(session, [community.id], {role}, "nobody")
                    if t.instance_id == instance.id and t.status in OPEN_TASK]

        [schedule] = waiting("manager")
        complete_task(session, schedule.id, {"lift_no": "2号梯", "planned_date": "2026-12-02"}, "manager_yc")
        session.commit()
        [inspect] = waiting("technician")
        assert inspect.due_at == clock.now() + timedelta(hours=48)
        clock.advance(timedelta(hours=47))
        assert fire_due_timers(session) == 0
        clock.advance(timedelta(hours=1, seconds=1))
        assert fire_due_timers(session) == 1
        session.commit()
        assert waiting("technician") == []
        [escalate] = waiting("manager")
        assert escalate.element_id == "escalate"
        session.refresh(inspect)
        assert inspect.status == "cancelled"
        complete_task(session, escalate.id, {"instruction": "明早 9 点前完成"}, "manager_yc")
        session.commit()
        [again] = waiting("technician")
        assert again.element_id == "inspect"
        complete_task(session, again.id, {"result": "pass"}, "tech_yc1")
        [certify] = waiting("front_desk")
        complete_task(session, certify.id, {"certificate_no": "DT-2026-0007"}, "frontdesk_yc")
        session.commit()
        assert session.get(ProcessInstance, instance.id).status == "completed"
        assert not session.scalars(select(TaskRow).where(TaskRow.instance_id == instance.id,
                                                         TaskRow.status.in_(OPEN_TASK))).all()
    finally:
        clock.reset()
