"""The timer sweep flow fires due engine timers and commits them."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from app import clock
from app.engine.deploy import deploy_process
from app.engine.models import ProcessInstance
from app.engine.runtime import start_instance
from app.domains.estate.models import Community, PropertyCompany

FIXTURE = Path(__file__).resolve().parents[1] / "app" / "engine" / "fixtures" / "wait_timer.bpmn"


def test_sweep_fires_due_timers(session, db_engine):
    from workflows.timer_sweep import sweep

    clock.freeze(datetime(2026, 3, 2, 9, 0))
    try:
        company = PropertyCompany(name="p")
        community = Community(company=company, code="C1", name="c")
        session.add_all([company, community])
        deploy_process(session, "wait_timer.bpmn", FIXTURE.read_bytes(), "test", "x", set())
        inst = start_instance(session, "wait_timer", community.id, "R-1")
        session.commit()
        url = db_engine.url.render_as_string(hide_password=False)
        assert sweep(url) == 0
        clock.advance(timedelta(days=1))
        assert sweep(url) == 1
        with Session(db_engine) as check:
            assert check.get(ProcessInstance, inst.id).status == "completed"
    finally:
        clock.reset()
