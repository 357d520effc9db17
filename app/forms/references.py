"""Household, staff and device references: looked up inside one community only.

A form is always filled in for one community; an id that belongs to another community is
answered exactly like an id that does not exist, so ids of other communities leak nothing.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.forms.definitions import FieldDef, FormDef
from app.domains.devices.models import Device
from app.domains.estate.models import Household, Staff, StaffCommunity

MODELS = {"household": Household, "staff": Staff, "device": Device}


def staff_eligible(staff: Staff, field: FieldDef) -> bool:
    """Staff filter of a field: every listed skill, and ``role`` compared with ``Staff.job``."""
    skills = set(staff.skills or [])
    if any(s not in skills for s in field.skills):
        return False
    return field.role is None or staff.job == field.role


def find_reference(session: Session, field: FieldDef, record_id: int, community_id: int):
    """The record behind a reference field's value, or None when not in ``community_id``."""
    if field.type == "staff":
        staff = session.execute(
            select(Staff)
            .join(StaffCommunity, StaffCommunity.staff_id == Staff.id)
            .where(Staff.id == record_id, StaffCommunity.community_id == community_id)
        ).scalar_one_or_none()
        return staff
    model = MODELS[field.type]
    return session.execute(
        select(model).where(model.id == record_id, model.community_id == community_id)
    ).scalar_one_or_none()


def _label(record) -> str:
    if isinstance(record, Household):
        return f"{record.code} {record.head_name}"
    if isinstance(record, Device):
        return f"{record.code} {record.name}"
    return record.name


def reference_options(
    form: FormDef, *, session: Session, community_id: int
) -> dict[str, list[tuple[str, str]]]:
    """Select options for every reference field of ``form`` (value, label), for render_form."""
    out: dict[str, list[tuple[str, str]]] = {}
    for f in form.fields:
        if not f.is_reference:
            continue
        if f.type == "staff":
            rows = session.execute(
                select(Staff)
                .join(StaffCommunity, StaffCommunity.staff_id == Staff.id)
                .where(StaffCommunity.community_id == community_id)
                .order_by(Staff.name)
            ).scalars()
            rows = [r for r in rows if staff_eligible(r, f)]
        else:
            model = MODELS[f.type]
            order = model.code
            rows = session.execute(
                select(model).where(model.community_id == community_id).order_by(order)
            ).scalars().all()
            if f.type == "household":
                rows = [r for r in rows if r.active]
        out[f.name] = [(str(r.id), _label(r)) for r in rows]
    return out
