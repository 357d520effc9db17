"""Visitor figures for the manager's "today" page: passes valid at some time today (local day),
approved or waiting for approval."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domains.visitors.models import VisitorPass
from app.localtime import from_local, to_local
from app.platform.kpi import Attention, Figure


def visitors_today(session: Session, community_id: int, now: datetime) -> int:
    local = to_local(now)
    start = from_local(datetime(local.year, local.month, local.day))
    end = start + timedelta(days=1)
    return session.scalar(select(func.count(VisitorPass.id)).where(
        VisitorPass.community_id == community_id, VisitorPass.status.in_(("active", "pending_approval")),
        VisitorPass.valid_from < end, VisitorPass.valid_until > start)) or 0


def _today_visitors(session: Session, community_id: int, now: datetime) -> Figure:
    n = visitors_today(session, community_id, now)
    return Figure("visitors.today", _l("Visitors expected today"), n, count=n, basis="passes",
                  link=("VisitorDeskView.index", {}))


TODAY = [Attention("visitors.today", _l("Visitors expected today"), _today_visitors, module="visitors", order=50)]
