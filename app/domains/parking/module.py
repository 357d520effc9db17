"""Whether a module is on in a community, asked late: ``app.platform.processes`` registers
every operation when it is imported, and parking's operations import these services."""
from __future__ import annotations

from sqlalchemy.orm import Session


def module_enabled(session: Session, community_id: int, module_id: str) -> bool:
    from app.platform.processes import module_enabled as enabled

    return enabled(session, community_id, module_id)
