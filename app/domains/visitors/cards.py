"""What the staff home and the top bar show of visitors: walk-in requests waiting for the host
(front desk, guards), and those whose time to answer runs out soon (the ``call_host`` step's due
time, ``approval_minutes``): a visitor at the gate should not be turned away by a timer."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app import clock
from app.domains.visitors.models import VisitorPass
from app.engine.models import TaskRow

ROLES = {"front_desk", "guard", "manager"}
EXPIRING_WITHIN = timedelta(minutes=15)
"""A waiting request counts as about to expire this long before its step's due time."""


def expiring_requests(session, community_ids, now=None) -> int:
    """Walk-in requests still waiting for the host whose answer is due within 15 minutes."""
    now = now or clock.now()
    return session.scalar(select(func.count(TaskRow.id)).where(
        TaskRow.community_id.in_(list(community_ids)), TaskRow.element_id == "call_host",
        TaskRow.status.in_(("ready", "claimed")), TaskRow.due_at.is_not(None),
        TaskRow.due_at <= now + EXPIRING_WITHIN)) or 0


def home_panels(session, role_keys: set[str], community_ids, locale: str) -> list[dict]:
    if not role_keys & ROLES:
        return []
    n = session.scalar(select(func.count(VisitorPass.id)).where(
        VisitorPass.community_id.in_(list(community_ids)), VisitorPass.status == "pending_approval")) or 0
    panels = [{"id": "visitors", "label": {"zh": "等待确认的访客", "en": "Visitors waiting"}[locale], "count": n,
               "href": "/visitors/", "danger": n > 0, "icon": "fa-user-plus"}]
    soon = expiring_requests(session, community_ids)
    if soon:
        panels.append({"id": "visitors_expiring", "count": soon, "href": "/inbox/", "danger": True,
                       "icon": "fa-clock-o",
                       "label": {"zh": "15 分钟内到期的访客申请", "en": "Visitor requests expiring in 15 min"}[locale]})
    return panels


def top_badges(session, role_keys: set[str], community_ids, locale: str) -> list[dict]:
    if not role_keys & {"front_desk", "manager"}:
        return []
    return [{"id": "visitors-expiring", "count": expiring_requests(session, community_ids), "href": "/inbox/",
             "icon": "fa-clock-o",
             "label": {"zh": "15 分钟内到期的访客申请", "en": "Visitor requests expiring in 15 min"}[locale]}]
