"""Findings: one open finding per problem (deduplicated by key), one inspection work order
per finding, closed by itself when the readings are normal again.

The work order is a repair order (category ``public_area``, or ``plumbing`` for a leak in a
home) through repair's public ``create_order`` when repair is enabled in the community,
with the chart of the readings as its photo; otherwise a task for the manager through the
``energy_finding`` process. A finding that closes itself (consumption normal again) closes its
repair order through repair's ``resolve_order`` when nobody has finished it yet (a finished one
gets the note on its timeline); the finding page says it was closed and why.
"""
from __future__ import annotations

import importlib
import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import clock
from app.domains.energy import charts
from app.domains.energy.detection import Detected, analyse
from app.domains.energy.models import EnergyFinding, EnergyMeter
from app.domains.energy.readings import series
from app.domains.estate.models import Community
from app.platform.audit import record

log = logging.getLogger(__name__)

PROCESS_ID = "energy_finding"
ACTOR = "energy-monitor"
KIND_LABELS = {
    "leak": {"zh": "夜间持续流量（疑似漏水）", "en": "Night flow (suspected leak)"},
    "spike": {"zh": "用量突增", "en": "Consumption spike"},
    "silent": {"zh": "表计无读数（离线）", "en": "Meter silent"},
    "stuck": {"zh": "表计停走", "en": "Meter stuck"},
    "loss": {"zh": "总分表差异过大（管网漏损）", "en": "Loss between master and sub-meters"},
    "sub_above_master": {"zh": "分表合计高于总表", "en": "Sub-meters above the master meter"},
    "lighting": {"zh": "白天路灯未关", "en": "Public lighting on in daylight"},
}
#: kinds a detection run decides about (an open one not found again is closed)
DETECTED_KINDS = tuple(KIND_LABELS)


def kind_label(kind: str, locale: str = "zh") -> str:
    return KIND_LABELS.get(kind, {}).get(locale) or KIND_LABELS.get(kind, {}).get("en") or kind


def describe(finding: EnergyFinding, meter: EnergyMeter | None, locale: str = "zh") -> str:
    d = finding.detail or {}
    what = kind_label(finding.kind, locale)
    where = meter.name if meter else ""
    facts = {
        "leak": f"{d.get('min_night_flow')} m³/h > {d.get('threshold')}",
        "spike": f"{d.get('day_use')} > {d.get('limit')} ({d.get('median')})",
        "silent": f"{d.get('last_reading')}",
        "stuck": f"{d.get('value')} · {d.get('hours')} h",
        "loss": f"{d.get('loss_percent')}% > {d.get('limit_percent')}% ({d.get('master')} / {d.get('sub_meters')})",
        "sub_above_master": f"{d.get('sub_meters')} > {d.get('master')}",
        "lighting": f"{d.get('daylight_kwh_per_hour')} kWh/h > {d.get('threshold')}",
    }.get(finding.kind, "")
    return f"{what}：{where} {facts}".strip() if locale == "zh" else f"{what}: {where} {facts}".strip()


def open_findings(session: Session, community_ids: list[int], status: str | None = "open") -> list[EnergyFinding]:
    q = select(EnergyFinding).where(EnergyFinding.community_id.in_(community_ids))
    if status:
        q = q.where(EnergyFinding.status == status)
    return list(session.scalars(q.order_by(EnergyFinding.opened_at.desc(), EnergyFinding.id.desc()).limit(500)))


def chart_points(session: Session, finding: EnergyFinding, days: int = 2) -> list:
    if finding.meter_id is None:
        return []
    end = (finding.closed_at or finding.last_seen_at) + timedelta(hours=1)
    return charts.rates(series(session, finding.meter_id, end - timedelta(days=days), end))


def _number(session: Session, community_id: int, now: datetime) -> str:
    code = session.scalar(select(Community.code).where(Community.id == community_id))
    count = session.scalar(select(func.count(EnergyFinding.id)).where(EnergyFinding.community_id == community_id))
    return f"{code}-E-{now:%Y%m%d}-{(count or 0) + 1:04d}"


def open_or_refresh(session: Session, community_id: int, item: Detected, now: datetime) -> tuple[EnergyFinding, bool]:
    """The open finding with this key (refreshed), or a new one with its work order."""
    existing = session.scalar(select(EnergyFinding).where(EnergyFinding.community_id == community_id,
                                                          EnergyFinding.key == item.key,
                                                          EnergyFinding.status == "open"))
    if existing is not None:
        existing.last_seen_at, existing.detail = now, item.detail
        return existing, False
    finding = EnergyFinding(number=_number(session, community_id, now), community_id=community_id,
                            meter_id=item.meter_id, building_id=item.building_id, kind=item.kind, key=item.key,
                            status="open", detail=item.detail, opened_at=now, last_seen_at=now)
    session.add(finding)
    session.flush()
    finding.work_order = _work_order(session, finding)
    record(session, actor=ACTOR, action="energy.finding_opened", target_type="energy_finding",
           target_id=finding.number, community_id=community_id,
           after={"kind": finding.kind, "work_order": finding.work_order})
    return finding, True


def close(session: Session, finding: EnergyFinding, reason: str, now: datetime | None = None) -> EnergyFinding:
    if finding.status == "closed":
        return finding
    finding.status, finding.closed_at, finding.close_reason = "closed", now or clock.now(), reason[:200]
    record(session, actor=ACTOR, action="energy.finding_closed", target_type="energy_finding",
           target_id=finding.number, community_id=finding.community_id, after={"reason": reason})
    if finding.work_order:
        _resolve_work_order(session, finding, reason)
    return finding


def work_order_status(session: Session, finding: EnergyFinding) -> str | None:
    """The repair order's status (repair's ``get_order``), for the finding page."""
    if not finding.work_order:
        return None
    try:
        repair = importlib.import_module("app.domains.repair")
    except ImportError:
        return None
    order = repair.get_order(session, finding.work_order, [finding.community_id])
    return order.status if order is not None else None


def _resolve_work_order(session: Session, finding: EnergyFinding, reason: str) -> None:
    """Close the finding's repair order (repair's ``resolve_order``); a refusal keeps the finding closed."""
    try:
        repair = importlib.import_module("app.domains.repair")
    except ImportError:
        return
    note = f"【能耗异常 {finding.number}】{reason}"
    try:
        with session.begin_nested():
            repair.resolve_order(session, finding.work_order, community_id=finding.community_id,
                                 note=note, actor=ACTOR)
    except Exception as exc:  # noqa: BLE001 - the order stays as it is; the technician closes it
        log.warning("repair order %s of %s not resolved (%s)", finding.work_order, finding.number, exc)


def apply(session: Session, community_id: int, detected: list[Detected], now: datetime) -> dict[str, int]:
    """Open or refresh a finding per detected problem; close the open ones not detected again."""
    keys = {d.key for d in detected}
    opened = 0
    for item in detected:
        _, new = open_or_refresh(session, community_id, item, now)
        opened += new
    closed = 0
    for finding in session.scalars(select(EnergyFinding).where(EnergyFinding.community_id == community_id,
                                                               EnergyFinding.status == "open",
                                                               EnergyFinding.kind.in_(DETECTED_KINDS))):
        if finding.key not in keys:
            close(session, finding, "consumption normal again / 用量已恢复正常", now)
            closed += 1
    session.flush()
    return {"found": len(detected), "opened": opened, "closed": closed}


def run_detection(session: Session, community_id: int, now: datetime | None = None) -> dict[str, int]:
    now = now or clock.now()
    return apply(session, community_id, analyse(session, community_id, now), now)


def _work_order(session: Session, finding: EnergyFinding) -> str | None:
    from app.platform.processes import module_enabled

    meter = session.get(EnergyMeter, finding.meter_id) if finding.meter_id else None
    text = f"【能耗异常 {finding.number}】{describe(finding, meter)}"
    try:
        repair = importlib.import_module("app.domains.repair")  # its public create_order
    except ImportError:
        repair = None
    if repair is not None and module_enabled(session, finding.community_id, "repair"):
        try:
            photo = _chart_photo(session, finding)
            in_home = finding.kind == "leak" and meter is not None and meter.role == "household"
            with session.begin_nested():
                order = repair.create_order(
                    session, community_id=finding.community_id, actor=ACTOR,
                    building_id=finding.building_id,
                    data={"category": "plumbing" if in_home else "public_area", "description": text[:1000],
                          "photos": [photo],
                          "location_kind": "building_common" if finding.building_id else "community_common",
                          "location_note": (meter.name if meter else "")[:200]})
            return order.number
        except Exception as exc:  # noqa: BLE001 - a refused order must not lose the finding
            log.warning("repair order for %s refused (%s); using %s", finding.number, exc, PROCESS_ID)
    from app.engine.errors import ProcessNotFound
    from app.platform.processes import ProcessNotAllowed, start_process

    try:
        instance = start_process(session, community_id=finding.community_id, process_id=PROCESS_ID, actor=ACTOR,
                                 business_key=finding.number, data={
                                     "finding_id": finding.id, "finding_number": finding.number,
                                     "kind_label": kind_label(finding.kind), "summary": text[:500],
                                     "meter_name": meter.name if meter else ""})
    except (ProcessNotAllowed, ProcessNotFound) as exc:
        log.warning("energy finding %s without a work order: %s", finding.number, exc)
        return None
    finding.instance_id = instance.id
    return None


def _chart_photo(session: Session, finding: EnergyFinding) -> dict:
    from app.forms.uploads import store_upload
    from app.platform.uploads import grant_uploads

    png = charts.png_chart(chart_points(session, finding))
    ref = store_upload(png, f"{finding.number}.png", accept=("image/png",))
    grant_uploads(session, {"chart": ref}, finding.community_id, ACTOR)
    return ref


def record_review(session: Session, finding_id: int, outcome: str, note: str, actor: str,
                  community_id: int | None = None) -> EnergyFinding:
    """The manager's task was done: note the outcome; 'resolved' closes the finding."""
    finding = session.get(EnergyFinding, finding_id)
    if finding is None or (community_id is not None and finding.community_id != community_id):
        raise LookupError(f"no energy finding {finding_id}")
    record(session, actor=actor, action="energy.finding_reviewed", target_type="energy_finding",
           target_id=finding.number, community_id=finding.community_id, after={"outcome": outcome, "note": note})
    if outcome == "resolved":
        close(session, finding, f"resolved by {actor}: {note}"[:200])
    return finding
