"""What visitors offers the device side: door controllers read visitor-pass QR codes.

Security's door-event handler finds ``CREDENTIAL_RESOLVERS`` here by discovery and links a
``pass:<number>`` credential to the pass and its household.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domains.visitors.models import VisitorPass


def resolve_pass(session: Session, community_id: int, number: str) -> tuple[int, int | None] | None:
    vp = session.scalar(select(VisitorPass).where(VisitorPass.community_id == community_id,
                                                  VisitorPass.number == number))
    return (vp.id, vp.household_id) if vp is not None else None


CREDENTIAL_RESOLVERS = {"pass:": resolve_pass}
