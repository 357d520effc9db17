"""What the staff home shows of security: open alert incidents (guards, managers)."""
from __future__ import annotations

from sqlalchemy import func, select

from app.domains.security.models import SecurityIncident

ROLES = {"guard", "manager"}


def home_panels(session, role_keys: set[str], community_ids, locale: str) -> list[dict]:
    if not role_keys & ROLES:
        return []
    n = session.scalar(select(func.count(SecurityIncident.id)).where(
        SecurityIncident.community_id.in_(list(community_ids)), SecurityIncident.status != "closed")) or 0
    return [{"id": "alerts", "label": {"zh": "未关闭的告警", "en": "Open alerts"}[locale], "count": n,
             "href": "/security/", "danger": n > 0, "icon": "fa-bell-o"}]
