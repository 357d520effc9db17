"""What the staff home shows of visitors: walk-in requests waiting for the host (front desk, guards)."""
from __future__ import annotations

from sqlalchemy import func, select

from app.domains.visitors.models import VisitorPass

ROLES = {"front_desk", "guard", "manager"}


def home_panels(session, role_keys: set[str], community_ids, locale: str) -> list[dict]:
    if not role_keys & ROLES:
        return []
    n = session.scalar(select(func.count(VisitorPass.id)).where(
        VisitorPass.community_id.in_(list(community_ids)), VisitorPass.status == "pending_approval")) or 0
    return [{"id": "visitors", "label": {"zh": "等待确认的访客", "en": "Visitors waiting"}[locale], "count": n,
             "href": "/visitors/", "danger": n > 0, "icon": "fa-user-plus"}]
