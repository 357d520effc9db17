"""The community's parking spaces as the office manages them: add one (fixed or shared, with or
without a charger), take it out of use or back. A space in use by a permit stays assigned when
taken out of use (the permit holder keeps parking); it is just not offered to new permits."""
from __future__ import annotations

from typing import ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domains.parking.errors import ParkingError
from app.domains.parking.models import ParkingSpace
from app.platform.audit import record

KINDS = ("fixed", "shared")


class SpaceError(ParkingError):
    MESSAGES: ClassVar[dict[str, tuple[str, str]]] = {
        "code_required": ("请填写车位编号（最多 30 个字符）。", "Enter the space's number (at most 30 characters)."),
        "bad_kind": ("请选择固定车位或共享车位。", "Choose fixed or shared."),
        "duplicate": ("本小区已有车位 {space}。", "This community already has a space {space}."),
    }


def add_space(session: Session, *, community_id: int, code: str, kind: str, has_charger: bool,
              actor: str) -> ParkingSpace:
    code = (code or "").strip()
    if not code or len(code) > 30:
        raise SpaceError("code_required")
    if kind not in KINDS:
        raise SpaceError("bad_kind")
    if session.scalar(select(ParkingSpace.id).where(ParkingSpace.community_id == community_id,
                                                    ParkingSpace.code == code)) is not None:
        raise SpaceError("duplicate", space=code)
    space = ParkingSpace(community_id=community_id, code=code, kind=kind, has_charger=bool(has_charger), active=True)
    session.add(space)
    session.flush()
    record(session, actor=actor, action="parking.space_added", target_type="parking_space", target_id=code,
           community_id=community_id, after={"kind": kind, "has_charger": bool(has_charger)})
    return space


def set_space_active(session: Session, space: ParkingSpace, active: bool, actor: str) -> ParkingSpace:
    space.active = bool(active)
    record(session, actor=actor, action="parking.space_enabled" if active else "parking.space_disabled",
           target_type="parking_space", target_id=space.code, community_id=space.community_id)
    return space
