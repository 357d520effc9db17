"""A small repair estate built for tests: one community, two buildings, a resident,
two technicians with positions and skills, a manager and front desk; repair enabled."""
from __future__ import annotations

from decimal import Decimal

from flask_appbuilder.security.sqla.models import Role, User
from sqlalchemy import select

from app.forms.definitions import FormRegistry
from app.domains.estate.models import (
    Building,
    Community,
    Household,
    PropertyCompany,
    Resident,
    Staff,
    StaffCommunity,
    Unit,
    UserCommunity,
)
from app.modules.activation import enable_module
from app.modules.catalog import load_catalog
from app.domains.repair import orders as repair_orders
from app.platform.processes import deploy_module_processes
from app.settings import get_settings

PHOTO = {"sha256": "a" * 64, "name": "leak.jpg", "size": 2048, "content_type": "image/jpeg"}


def make_user(session, username, role_name, community):
    role = session.scalar(select(Role).where(Role.name == role_name)) or Role(name=role_name)
    user = User(first_name=username, last_name="-", username=username, email=f"{username}@t.local", active=True)
    user.roles.append(role)
    session.add(user)
    session.flush()
    if community is not None:
        session.add(UserCommunity(user_id=user.id, community_id=community.id))
    return user


def make_estate(session, settings=None):
    """One community (T1), two buildings, a resident in 1-101, two technicians, manager, front desk."""
    company = PropertyCompany(name="co-T1")
    community = Community(company=company, code="T1", name="测试小区", latitude=Decimal("39.912300"),
                          longitude=Decimal("116.365500"))
    session.add_all([company, community])
    session.flush()
    b1 = Building(community_id=community.id, code="1", name="1号楼", latitude=Decimal("39.912500"),
                  longitude=Decimal("116.365000"))
    b2 = Building(community_id=community.id, code="2", name="2号楼", latitude=Decimal("39.911900"),
                  longitude=Decimal("116.366100"))
    session.add_all([b1, b2])
    session.flush()
    unit = Unit(community_id=community.id, building_id=b1.id, number="101", floor=1, area_m2=Decimal("60.00"))
    session.add(unit)
    session.flush()
    home = Household(community_id=community.id, unit_id=unit.id, code="T1-1-101", head_name="张三", phone="13800000000")
    session.add(home)
    session.flush()
    resident_user = make_user(session, "res1", "Resident", community)
    session.add(Resident(community_id=community.id, household_id=home.id, user_id=resident_user.id, name="张三"))
    staff = {}
    for username, skills, lat, lon in (("tech1", ["plumbing", "electrical"], "39.912400", "116.365100"),
                                       ("tech2", ["electrical", "lift"], "39.911900", "116.366100")):
        user = make_user(session, username, "Technician", community)
        s = Staff(user_id=user.id, name=username, job="technician", skills=skills, on_duty=True,
                  latitude=Decimal(lat), longitude=Decimal(lon))
        session.add(s)
        session.flush()
        session.add(StaffCommunity(staff_id=s.id, community_id=community.id))
        staff[username] = s
    make_user(session, "mgr1", "Manager", community)
    make_user(session, "desk1", "FrontDesk", community)
    make_user(session, "admin1", "Admin", None)
    root = get_settings().assets_dir
    catalog = load_catalog(root)
    deploy_module_processes(session, catalog.modules["repair"], root, set(FormRegistry(root / "forms").ids()), "test")
    enable_module(session, catalog=catalog, community_id=community.id, module_id="repair",
                  settings=settings or {}, actor="test")
    session.commit()
    return {"community": community, "home": home, "resident": resident_user, "staff": staff, "b1": b1, "b2": b2}


def report(session, estate, category="plumbing", **extra):
    data = {"category": category, "description": "厨房水龙头一直滴水", "photos": [PHOTO],
            "location_kind": "unit", "preferred_time": "anytime", **extra}
    order = repair_orders.create_order(session, community_id=estate["community"].id, data=data, actor="res1",
                                       user_id=estate["resident"].id)
    session.commit()
    return order
