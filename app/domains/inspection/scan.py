"""A patrol point's label scanned from the staff scanner (``/scan/``, ``app/web/scan.py``):
on to the point's check-in in the guard's open run that covers it."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domains.estate.models import Community
from app.domains.inspection import points
from app.domains.inspection.models import InspectionPoint, InspectionRun
from app.domains.inspection.runs import OPEN

_T = {"title": ("巡检点", "Patrol point"),
      "no_run": ("没有进行中的巡检覆盖这个点：先开始一次巡检。", "No open patrol run covers this point: start a run first."),
      "other": ("这个巡检点不属于您的小区。", "This patrol point is not in your communities."),
      "runs": ("巡检", "Patrols")}


def _t(key: str, locale: str) -> str:
    zh, en = _T[key]
    return en if locale.startswith("en") else zh


def resolve(session: Session, code: str, community_ids, username: str, locale: str) -> dict[str, Any] | None:
    community_code, point_code = points.parse_code(code)
    if not point_code or not current_app.appbuilder.sm.has_access("can_check_in", "InspectionView"):
        return None
    ids = list(community_ids)
    query = select(InspectionPoint).where(InspectionPoint.code == point_code, InspectionPoint.community_id.in_(ids))
    if community_code is not None:
        community = session.scalar(select(Community).where(Community.code == community_code))
        if community is None or community.id not in ids:
            return {"title": _t("title", locale), "ok": False, "message": _t("other", locale), "lines": []}
        query = query.where(InspectionPoint.community_id == community.id)
    found = list(session.scalars(query))
    if not found:
        return None  # not a point's code (the visitors' resolver, or "unknown code")
    for point in found:
        runs = session.scalars(select(InspectionRun).where(
            InspectionRun.community_id == point.community_id, InspectionRun.status == OPEN)
            .order_by(InspectionRun.id.desc()))
        covering = [r for r in runs if point.id in (r.point_ids or [])]
        covering.sort(key=lambda r: r.started_by != username)  # the guard's own run first
        if covering:
            return {"url": f"/inspection/runs/{covering[0].id}/scan?code={quote(code)}"}
    return {"title": _t("title", locale), "ok": False, "message": _t("no_run", locale),
            "lines": [(_t("title", locale), f"{found[0].code} {found[0].name}")],
            "href": "/inspection/", "link_label": _t("runs", locale)}
