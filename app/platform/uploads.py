"""Access to stored uploads: a file is readable in the communities whose records use it."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.platform.models import UploadGrant


def _refs(value: Any) -> Iterable[dict]:
    if isinstance(value, dict) and "sha256" in value:
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _refs(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _refs(item)


def grant_uploads(session: Session, data: dict, community_id: int, actor: str) -> int:
    """Record every upload reference in ``data`` as visible to ``community_id``."""
    count = 0
    for ref in _refs(data):
        if session.get(UploadGrant, (ref["sha256"], community_id)) is None:
            session.add(UploadGrant(sha256=ref["sha256"], community_id=community_id,
                                    content_type=ref.get("content_type", "application/octet-stream"),
                                    granted_by=actor))
            count += 1
    return count


def readable_grant(session: Session, sha256: str, community_ids: list[int]) -> UploadGrant | None:
    """The grant that lets a user with these communities read the file, if any."""
    return session.scalar(
        select(UploadGrant).where(UploadGrant.sha256 == sha256, UploadGrant.community_id.in_(community_ids))
    )
