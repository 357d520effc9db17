"""What a staff inbox card shows about a patrol task: the run's deadline, its route and progress,
and a link to the run page (where the points are scanned — the task itself only closes a run
early); a rectification task links its finding, with the first "before" photo.

Found by name (``app/web/cards.py`` collects every domain's ``task_cards``); a few queries for
all the cards of a page.
"""
from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domains.inspection.models import InspectionCheckIn, InspectionFinding, InspectionRoute, InspectionRun

_LINK = {"run": {"zh": "打开巡查页面（扫码打卡）", "en": "Open the run page (scan the points)"},
         "finding": {"zh": "查看问题与照片", "en": "See the finding and its photos"}}


def task_cards(session: Session, tasks: list, locale: str) -> dict[int, dict[str, Any]]:
    """``{task id: {due_at, summary, photo, link}}`` for patrol-run and rectification tasks."""
    lang = "en" if locale.startswith("en") else "zh"
    keys = {t.business_key for t in tasks if t.business_key}
    if not keys:
        return {}
    run_rows = {r.number: r for r in session.scalars(select(InspectionRun).where(InspectionRun.number.in_(keys)))}
    finding_rows = {f.number: f for f in session.scalars(
        select(InspectionFinding).where(InspectionFinding.number.in_(keys - set(run_rows))))}
    routes = dict(session.execute(select(InspectionRoute.id, InspectionRoute.name).where(
        InspectionRoute.id.in_({r.route_id for r in run_rows.values()}))).all()) if run_rows else {}
    done = dict(session.execute(select(InspectionCheckIn.run_id, func.count()).where(
        InspectionCheckIn.run_id.in_([r.id for r in run_rows.values()])).group_by(InspectionCheckIn.run_id)).all()) \
        if run_rows else {}
    cards: dict[int, dict[str, Any]] = {}
    for task in tasks:
        run, finding = run_rows.get(task.business_key), finding_rows.get(task.business_key)
        if run is not None and run.community_id == task.community_id:
            cards[task.id] = {
                "due_at": run.due_at if run.status == "open" else None,
                "summary": f"{routes.get(run.route_id, '')} · {done.get(run.id, 0)} / {len(run.point_ids or [])}",
                "link": {"href": url_for("InspectionView.run", run_id=run.id), "label": _LINK["run"][lang]}}
        elif finding is not None and finding.community_id == task.community_id:
            photo = (finding.before_photos or [None])[0]
            cards[task.id] = {
                "due_at": finding.deadline_at if finding.rectified_at is None else None,
                "summary": (finding.description or "")[:80],
                "photo": photo.get("sha256") if isinstance(photo, dict) else None,
                "link": {"href": url_for("InspectionView.finding", finding_id=finding.id),
                         "label": _LINK["finding"][lang]}}
    return cards
