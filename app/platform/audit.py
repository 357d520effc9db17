"""Recording audit events. Called inside the caller's transaction, never commits."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.db import utcnow
from app.platform.models import AuditEvent


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target_type: str,
    target_id: Any = None,
    community_id: int | None = None,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """Add one audit event to the session; it commits with the change it describes."""
    event = AuditEvent(
        community_id=community_id,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        before=before,
        after=after,
        at=utcnow(),
    )
    session.add(event)
    return event
