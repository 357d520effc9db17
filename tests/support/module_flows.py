"""Run a shipped data-only module (menu + BPMN + forms) end to end through the engine.

``make_estate(session, modules)`` builds one community with two households (101: an owner and a
tenant with logins; 102: an owner without a login) and enables ``modules`` from the shipped
catalogue (enabling deploys their processes, as on the module menu). ``Flow`` starts a process
and completes its tasks the way the inbox does: the task must be in the inbox of the person
acting (their role, or claimed for them), the data is validated by the task's own form, and
the instance runs on to its next wait. Time moves with ``app.clock``.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from app.domains.estate.models import (
    Building,
    Community,
    Household,
    PropertyCompany,
    Resident,
    Unit,
)
from app.engine import complete_task, list_inbox
from app.engine.models import OPEN_TASK, ProcessInstance, TaskRow
from app.forms import jsonable
from app.forms.definitions import FormRegistry
from app.forms.schema import build_schema

ROOT = Path(__file__).resolve().parents[2]
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

#: demo-like logins of the test community and their role
PEOPLE = {"mgr": "manager", "desk": "front_desk", "acct": "accountant", "tech": "technician",
          "guard": "guard", "owner101": "resident", "tenant101": "resident"}


def make_estate(session, modules: list[str], code: str = "MF") -> dict:
    from app.modules.activation import enable_module
    from app.modules.catalog import load_catalog
    from app.platform.processes import install_hooks

    install_hooks()
    company = PropertyCompany(name=f"物业-{code}")
    community = Community(company=company, code=code, name=f"测试小区{code}")
    session.add_all([company, community])
    session.flush()
    building = Building(community_id=community.id, code="1", name="1号楼")
    session.add(building)
    session.flush()
    homes = []
    for number in ("101", "102"):
        unit = Unit(community_id=community.id, building_id=building.id, number=number, floor=1,
                    area_m2=Decimal("80.00"))
        session.add(unit)
        session.flush()
        home = Household(community_id=community.id, unit_id=unit.id, code=f"{code}-1-{number}",
                         head_name=f"户主{number}", phone="13800000000")
        session.add(home)
        session.flush()
        session.add(Resident(community_id=community.id, household_id=home.id, name=f"业主{number}",
                             relation="owner"))
        homes.append(home)
    session.add(Resident(community_id=community.id, household_id=homes[0].id, name="租户101",
                         relation="tenant"))
    catalog = load_catalog(ROOT)
    for module_id in modules:
        enable_module(session, catalog=catalog, community_id=community.id, module_id=module_id, actor="test")
    session.commit()
    return {"community": community, "homes": homes}


class Flow:
    """One process instance, driven task by task as the people in ``PEOPLE``."""

    forms = FormRegistry(ROOT / "forms")

    def __init__(self, session, community: Community, process_id: str, key: str, data: dict):
        from app.platform.processes import start_process

        self.session, self.community = session, community
        self.instance = start_process(session, community_id=community.id, process_id=process_id,
                                      actor=data.get("applicant", "test"), business_key=key, data=data)
        session.commit()

    @property
    def status(self) -> str:
        self.session.refresh(self.instance)
        return self.instance.status

    def open(self) -> list[TaskRow]:
        return list(self.session.scalars(select(TaskRow).where(
            TaskRow.instance_id == self.instance.id, TaskRow.status.in_(OPEN_TASK)).order_by(TaskRow.id)))

    def waiting(self) -> list[str]:
        return [t.element_id for t in self.open()]

    def inbox(self, username: str) -> list[str]:
        rows = list_inbox(self.session, [self.community.id], {PEOPLE[username]}, username, limit=500)
        return [t.element_id for t in rows if t.instance_id == self.instance.id]

    def do(self, element: str, username: str, data: dict) -> None:
        """``username`` finds ``element`` in their inbox, fills its form with ``data``, submits."""
        assert element in self.inbox(username), (
            f"{element} is not in {username}'s inbox; waiting: {self.waiting()}")
        row = next(t for t in self.open() if t.element_id == element)
        form = self.forms.get(row.form_id)
        schema = build_schema(form, session=self.session, community_id=self.community.id, locale="en")
        errors = schema.validate(data)
        assert not errors, f"{row.form_id} refuses {data}: {errors}"
        complete_task(self.session, row.id, jsonable(schema.load(data)), username)
        self.session.commit()

    def data(self) -> dict:
        from app.engine import instance_data

        return instance_data(self.session, self.instance.id)

    def incidents(self) -> list[str]:
        """``element: error`` of every open incident of this instance (empty: none)."""
        from app.engine.models import Incident

        return [f"{i.element_id}: {i.error}" for i in self.session.scalars(select(Incident).where(
            Incident.instance_id == self.instance.id, Incident.status == "open"))]


def told(session, household_id: int) -> list[tuple[str, str]]:
    """(template, body) of every notification the household got, oldest first."""
    from app.domains.notifications.models import Notification

    return [(n.template, n.body) for n in session.scalars(select(Notification).where(
        Notification.household_id == household_id).order_by(Notification.id))]


def drawing() -> dict:
    """A stored PDF (the upload field's reference), as the browser would have uploaded it."""
    from app.forms.uploads import store_upload

    return store_upload(PDF, "平面图.pdf")


def instance_of(session, flow: Flow) -> ProcessInstance:
    return session.get(ProcessInstance, flow.instance.id)
