"""Inspection test estate: the security test estate with the inspection module, a manager,
and the points and route of fixtures/route.yaml."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from app import clock

AT = datetime(2026, 5, 4, 1, 0)  # 09:00 Beijing time
ROUTE = Path(__file__).resolve().parent / "fixtures" / "route.yaml"


@pytest.fixture
def patrol(session, tmp_path, monkeypatch, build_estate):
    from flask_appbuilder.security.sqla.models import Role, User

    from app.domains.estate.models import UserCommunity
    from app.domains.inspection.models import InspectionPoint, InspectionRoute
    from app.settings import get_settings

    monkeypatch.setenv("ESTATEFLOW_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    clock.freeze(AT)
    estate = build_estate(session, modules=["inspection"])
    spec = yaml.safe_load(ROUTE.read_text(encoding="utf-8"))
    cid = estate.community.id
    estate.points = {}
    for p in spec["points"]:
        point = InspectionPoint(community_id=cid, **p)
        session.add(point)
        estate.points[p["code"]] = point
    r = spec["route"]
    estate.route = InspectionRoute(community_id=cid, name=r["name"], point_codes=r["points"], frequency=r["frequency"],
                                   start_time=r["start_time"], role=r["role"])
    session.add(estate.route)
    role = session.scalar(select(Role).where(Role.name == "Manager")) or Role(name="Manager")
    manager = User(first_name="李", last_name="经理", username=f"mgr-{estate.community.code}",
                   email=f"{estate.community.code}@example.org", active=True, roles=[role])
    session.add(manager)
    session.flush()
    session.add(UserCommunity(user_id=manager.id, community_id=cid))
    session.flush()
    estate.manager = manager
    yield estate
    clock.reset()
    get_settings.cache_clear()
