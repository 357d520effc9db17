"""Findings and their rectification (整改): one ``inspection_rectification`` process each.

A failed checklist item (or a line of a regulator's spot check) is a finding with a deadline
by severity (the module's ``deadline_hours_<severity>`` settings), for the responsible role
(the checklist item's ``role``), with the check-in's photos as the *before* evidence. The
process gives the role a rectify task (after photos, a note); its timer escalates an overdue
one to the managers; the manager accepts or sends it back.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.domains.estate.models import Community
from app.domains.inspection.errors import InspectionError
from app.domains.inspection.models import InspectionFinding, InspectionPoint, InspectionSpotCheck
from app.localtime import local_format
from app.platform.audit import record
from app.platform.module_settings import module_settings

PROCESS_ID = "inspection_rectification"
SEVERITY_LABELS = {"high": {"zh": "严重", "en": "Serious"}, "medium": {"zh": "一般", "en": "Ordinary"},
                   "low": {"zh": "轻微", "en": "Minor"}}
STATUS_LABELS = {"open": {"zh": "整改中", "en": "Being rectified"},
                 "rectified": {"zh": "待验收", "en": "Waiting for acceptance"},
                 "accepted": {"zh": "已验收", "en": "Accepted"}}
SOURCE_LABELS = {"patrol": {"zh": "巡查", "en": "Patrol"}, "spot_check": {"zh": "监管抽查", "en": "Spot check"}}


def label(table: dict, key: str, locale: str) -> str:
    entry = table.get(key) or {}
    return entry.get(locale[:2]) or entry.get("zh") or key


def _iso(at: datetime) -> str:
    return at.replace(tzinfo=timezone.utc).isoformat()


def deadline_for(session: Session, community_id: int, severity: str, start: datetime) -> datetime:
    settings = module_settings(session, community_id, "inspection")
    return start + timedelta(hours=int(settings.get(f"deadline_hours_{severity}") or 72))


def open_finding(session: Session, *, community_id: int, source: str, item: str, description: str, clause: str,
                 severity: str, role: str, actor: str, point: InspectionPoint | None = None,
                 checkin_id: int | None = None, spot_check_id: int | None = None,
                 photos: list | None = None) -> InspectionFinding:
    from app.platform.processes import start_process

    now = clock.now().replace(microsecond=0)
    finding = InspectionFinding(
        number="", community_id=community_id, source=source, checkin_id=checkin_id, spot_check_id=spot_check_id,
        point_id=point.id if point else None, device_id=point.device_id if point else None, item=item[:60],
        description=description[:1000], clause=clause[:300], severity=severity, role=role, status="open",
        opened_at=now, deadline_at=deadline_for(session, community_id, severity, now), before_photos=photos or [])
    session.add(finding)
    session.flush()
    community = session.get(Community, community_id)
    finding.number = f"ZG-{community.code}-{finding.id:06d}"
    instance = start_process(session, community_id=community_id, process_id=PROCESS_ID, actor=actor,
                             business_key=finding.number, data={
                                 "finding_id": finding.id, "finding_number": finding.number,
                                 "point_name": point.name if point else community.name,
                                 "description": finding.description, "clause": finding.clause or "—",
                                 "severity_label": label(SEVERITY_LABELS, severity, "zh"),
                                 "deadline": _iso(finding.deadline_at),
                                 "deadline_label": local_format(finding.deadline_at), "role": role})
    finding.instance_id = instance.id
    record(session, actor=actor, action="inspection.finding_opened", target_type="inspection_finding",
           target_id=finding.number, community_id=community_id,
           after={"source": source, "item": item, "severity": severity, "deadline": _iso(finding.deadline_at)})
    return finding


def open_from_checkin(session: Session, checkin, point: InspectionPoint, item, value, photos: list,
                      actor: str) -> InspectionFinding:
    """A failed checklist item of a check-in."""
    text = item.label.get("zh") or item.name
    if item.type == "number":
        text = f"{text}：{value}{item.unit}（应在 {item.min if item.min is not None else ''}–" \
               f"{item.max if item.max is not None else ''}{item.unit}）"
    else:
        text = f"{text}：否"
    return open_finding(session, community_id=checkin.community_id, source="patrol", item=item.name,
                        description=f"{point.code} {point.name}：{text}", clause=item.clause, severity=item.severity,
                        role=item.role, actor=actor, point=point, checkin_id=checkin.id, photos=photos)


def record_spot_check(session: Session, community_id: int, data: dict, actor: str) -> InspectionSpotCheck:
    """A regulator's spot check; each line of ``problems`` goes to the rectification list."""
    from app.platform.processes import module_enabled

    if not module_enabled(session, community_id, "inspection"):
        raise InspectionError("module_off")
    summary = (data.get("summary") or "").strip()
    if not summary:
        raise InspectionError("empty_note")
    point = None
    code = (data.get("point_code") or "").strip()
    if code:
        from app.domains.inspection.points import find_point

        point = find_point(session, community_id, code)
    spot = InspectionSpotCheck(number="", community_id=community_id, by=actor, at=clock.now().replace(microsecond=0),
                               note=summary[:1000])
    session.add(spot)
    session.flush()
    spot.number = f"CC-{session.get(Community, community_id).code}-{spot.id:05d}"
    severity = data.get("severity") if data.get("severity") in SEVERITY_LABELS else "medium"
    role = data.get("role") if data.get("role") in ("technician", "guard") else "technician"
    for line in (data.get("problems") or "").splitlines():
        line = line.strip()
        if line:
            open_finding(session, community_id=community_id, source="spot_check", item="spot_check",
                         description=f"【监管抽查 {spot.number}】{line}", clause="", severity=severity, role=role,
                         actor=actor, point=point, spot_check_id=spot.id, photos=data.get("photos") or [])
    record(session, actor=actor, action="inspection.spot_check", target_type="inspection_spot_check",
           target_id=spot.number, community_id=community_id, after={"summary": summary[:200]})
    return spot


def _finding(session: Session, finding_id: int, community_id: int | None) -> InspectionFinding:
    finding = session.get(InspectionFinding, finding_id)
    if finding is None or (community_id is not None and finding.community_id != community_id):
        raise LookupError(f"no inspection finding {finding_id}")
    return finding


def escalate(session: Session, finding_id: int, community_id: int | None = None) -> InspectionFinding:
    """The deadline passed before the rectification: tell the managers (once)."""
    from app.domains.notifications.delivery import notify
    from app.platform.module_settings import role_user_ids

    finding = _finding(session, finding_id, community_id)
    if finding.escalated_at is not None or finding.status != "open":
        return finding
    finding.escalated_at = clock.now()
    point = session.get(InspectionPoint, finding.point_id) if finding.point_id else None
    notify(session, template="inspection.finding_escalated", community_id=finding.community_id,
           user_ids=role_user_ids(session, finding.community_id, "manager"),
           params={"number": finding.number, "point": point.name if point else "—",
                   "description": finding.description[:80], "deadline": local_format(finding.deadline_at)})
    record(session, actor="process", action="inspection.finding_escalated", target_type="inspection_finding",
           target_id=finding.number, community_id=finding.community_id)
    return finding


def rectified(session: Session, finding_id: int, note: str, photos: list, actor: str,
              community_id: int | None = None) -> InspectionFinding:
    finding = _finding(session, finding_id, community_id)
    finding.status = "rectified"
    finding.rectify_note = (note or "")[:1000]
    finding.after_photos = list(photos or [])
    finding.rectified_at = clock.now()
    finding.rectified_by = actor
    record(session, actor=actor, action="inspection.rectified", target_type="inspection_finding",
           target_id=finding.number, community_id=finding.community_id)
    return finding


def accepted(session: Session, finding_id: int, actor: str, community_id: int | None = None) -> InspectionFinding:
    finding = _finding(session, finding_id, community_id)
    finding.status = "accepted"
    finding.accepted_at = clock.now()
    finding.accepted_by = actor
    record(session, actor=actor, action="inspection.accepted", target_type="inspection_finding",
           target_id=finding.number, community_id=finding.community_id,
           after={"on_time": finding.rectified_at is not None and finding.rectified_at <= finding.deadline_at})
    return finding


def reopened(session: Session, finding_id: int, actor: str, note: str = "",
             community_id: int | None = None) -> InspectionFinding:
    finding = _finding(session, finding_id, community_id)
    finding.status = "open"
    finding.rectified_at = None
    record(session, actor=actor, action="inspection.reopened", target_type="inspection_finding",
           target_id=finding.number, community_id=finding.community_id, after={"note": note or None})
    return finding


def findings_of(session: Session, community_ids: list[int], status: str | None = None,
                limit: int = 200) -> list[InspectionFinding]:
    q = select(InspectionFinding).where(InspectionFinding.community_id.in_(community_ids))
    if status:
        q = q.where(InspectionFinding.status == status)
    return list(session.scalars(q.order_by(InspectionFinding.opened_at.desc(), InspectionFinding.id.desc()).limit(limit)))


def is_overdue(finding: InspectionFinding, now: datetime | None = None) -> bool:
    now = now or clock.now()
    end = finding.rectified_at or now
    return end > finding.deadline_at
