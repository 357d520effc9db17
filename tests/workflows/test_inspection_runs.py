"""The inspection schedule flow starts each due patrol run once, per community, and commits; its
first pass of a month issues the community's monthly self-inspection plan (once)."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.domains.inspection.models import InspectionPlan, InspectionRoute, InspectionRun
from app.engine.models import TaskRow

pytestmark = pytest.mark.parametrize("db_engine", ["sqlite"], indirect=True)


def test_flow_starts_due_runs_once(session, db_engine, tmp_path, monkeypatch):
    from app.settings import get_settings
    from tests.support.security_estate import build_estate
    from workflows.inspection_runs import start_due

    monkeypatch.setenv("ESTATEFLOW_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    clock.freeze(datetime(2026, 6, 1, 0, 0))  # 08:00 Beijing time: the 08:00 route is due, the 21:00 one not
    try:
        estate = build_estate(session, modules=["inspection"])
        from app.domains.inspection.models import InspectionPoint

        session.add(InspectionPoint(community_id=estate.community.id, code="G-1", name="北门", kind="gate",
                                    checklist="shared_facilities"))
        for name, at in (("早班", "08:00"), ("夜班", "21:00")):
            session.add(InspectionRoute(community_id=estate.community.id, name=name, point_codes="G-1",
                                        start_time=at, role="guard"))
        session.commit()
        url = db_engine.url.render_as_string(hide_password=False)
        first = start_due(url)
        assert len(first[estate.community.id]) == 1
        assert start_due(url)[estate.community.id] == []  # a second worker starts nothing twice
        with Session(db_engine) as s:
            run = s.scalar(select(InspectionRun))
            assert s.get(InspectionRoute, run.route_id).name == "早班"
            assert s.scalar(select(TaskRow.role).where(TaskRow.instance_id == run.instance_id)) == "guard"
            # the month's self-inspection plan was issued once, from both routes' schedules
            plans = list(s.scalars(select(InspectionPlan)))
            assert [(p.community_id, p.period) for p in plans] == [(estate.community.id, "2026-06")]
            assert [(x["route"], len(x["dates"]), [p["code"] for p in x["points"]]) for x in plans[0].lines] == \
                [("早班", 30, ["G-1"]), ("夜班", 30, ["G-1"])]
    finally:
        clock.reset()
        get_settings.cache_clear()
