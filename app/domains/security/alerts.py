"""Camera alerts → incidents → one alert process per incident.

Delivery is at-least-once (MQTT QoS 1), so every alert is stored under an event id (the
camera's own ``event_id`` if it sends one, else a hash of the message) that is unique per
community: a redelivered alert is recognised and does nothing. Alerts of one camera and one
kind arriving within the module's grouping window (``alert_group_window_minutes``) join the
open incident instead of creating tasks; a new incident starts the ``security_alert``
process with the incident number as business key. An illegal-parking alert carrying a plate
registered to a household sends that household a notice.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.domains.devices.models import Device
from app.domains.estate.models import Community
from app.domains.notifications.delivery import notify
from app.domains.security.models import SecurityAlert, SecurityIncident, VehiclePlate
from app.localtime import local_format
from app.platform.audit import record
from app.platform.module_settings import module_settings, role_user_ids

log = logging.getLogger("estateflow.security.alerts")

PROCESS_ID = "security_alert"
KIND_LABELS: dict[str, dict[str, str]] = {
    "thrown_object": {"zh": "高空抛物", "en": "Thrown object"},
    "loitering": {"zh": "可疑徘徊", "en": "Loitering"},
    "illegal_parking": {"zh": "违章停车", "en": "Illegal parking"},
    "fire_lane_blocked": {"zh": "占用消防通道", "en": "Fire lane blocked"},
}
PARKING_KINDS = ("illegal_parking", "fire_lane_blocked")
OUTCOMES = ("handled", "false_alarm", "police", "manager")
SNAPSHOT_MAX_BYTES = 2 * 1024 * 1024


class AlertRejected(ValueError):
    """An alert that cannot be stored (unknown community, bad kind...)."""


def kind_label(kind: str, locale: str | None = None) -> str:
    labels = KIND_LABELS.get(kind, {"zh": kind, "en": kind})
    if locale:
        return labels["en" if locale.startswith("en") else "zh"]
    return f"{labels['zh']} {labels['en']}"


def local_time(at: datetime) -> str:
    """Beijing wall-clock time of a naive UTC timestamp, as staff read it."""
    return local_format(at, "%m-%d %H:%M")


def event_id_of(community: str, device: str, payload: dict[str, Any]) -> str:
    """The camera's event id, or a stable hash of the message (a redelivery is identical)."""
    given = payload.get("event_id") or payload.get("id")
    if isinstance(given, (str, int)) and str(given).strip():
        return str(given).strip()[:64]
    body = json.dumps({"c": community, "d": device, "p": payload}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def parse_device_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if at.tzinfo is not None:
        at = at.astimezone(timezone.utc).replace(tzinfo=None)
    return at


def store_snapshot(session: Session, community_id: int, value: Any, name: str) -> dict | None:
    """A ``data:image/...;base64,`` snapshot stored as an upload of this community; a URL is
    kept as a link; anything else is dropped (logged), the alert itself still counts."""
    if not isinstance(value, str) or not value:
        return None
    if value.startswith(("http://", "https://")):
        return {"url": value[:500]}
    if not value.startswith("data:image/") or ";base64," not in value:
        log.warning("alert %s: snapshot is neither a data URL nor an http(s) URL; dropped", name)
        return None
    from app.forms.uploads import UploadRejected, store_upload
    from app.platform.uploads import grant_uploads

    try:
        raw = base64.b64decode(value.split(",", 1)[1], validate=True)
        ref = store_upload(raw, f"{name}.png", accept=("image/png", "image/jpeg", "image/webp", "image/gif"),
                           max_bytes=SNAPSHOT_MAX_BYTES)
    except (binascii.Error, ValueError, UploadRejected) as exc:
        log.warning("alert %s: snapshot refused: %s", name, exc)
        return None
    grant_uploads(session, {"snapshot": ref}, community_id, "camera", audience="security")
    return ref


def handle_alert_event(session: Session, event) -> SecurityAlert | None:
    """Router handler for ``camera.alert`` events (see module docstring)."""
    community = session.scalar(select(Community).where(Community.code == event.community))
    if community is None:
        raise AlertRejected(f"unknown community {event.community!r}")
    from app.domains.devices.registry import apply_event, find_mqtt_device

    device = find_mqtt_device(session, event.community, event.device)
    if device is not None:
        apply_event(session, event)
    p = event.payload
    return record_alert(
        session, community_id=community.id, device=device, device_code=device.code if device else event.device,
        event_id=event_id_of(event.community, event.device, p), kind=p["kind"],
        confidence=Decimal(str(p.get("confidence", 0))).quantize(Decimal("0.001")),
        zone=p.get("zone") if isinstance(p.get("zone"), str) else None,
        snapshot=p.get("snapshot"), plate=p.get("plate") if isinstance(p.get("plate"), str) else None,
        device_at=parse_device_time(p.get("at")),
    )


def record_alert(session: Session, *, community_id: int, device: Device | None, device_code: str,
                 event_id: str, kind: str, confidence: Decimal, zone: str | None = None,
                 snapshot: Any = None, plate: str | None = None,
                 device_at: datetime | None = None) -> SecurityAlert | None:
    """Store one alert; returns None for a duplicate delivery. Opens an incident (and its
    process) or joins the open one of the same camera and kind within the window."""
    if kind not in KIND_LABELS:
        raise AlertRejected(f"unknown alert kind {kind!r}")
    duplicate = session.scalar(select(SecurityAlert.id).where(
        SecurityAlert.community_id == community_id, SecurityAlert.event_id == event_id))
    if duplicate is not None:
        log.info("duplicate alert %s from %s ignored", event_id, device_code)
        return None
    now = clock.now()
    settings = module_settings(session, community_id, "security")
    window = timedelta(minutes=int(settings["alert_group_window_minutes"]))
    plate = (plate or "").strip().upper()[:20] or None
    incident = session.scalars(
        select(SecurityIncident).where(
            SecurityIncident.community_id == community_id, SecurityIncident.device_code == device_code,
            SecurityIncident.kind == kind, SecurityIncident.status != "closed",
            SecurityIncident.last_at >= now - window)
        .order_by(SecurityIncident.id.desc()).limit(1)).first()
    if incident is None:
        incident = _open_incident(session, community_id, device, device_code, kind, confidence, zone,
                                  snapshot, plate, now)
    else:
        incident.alert_count += 1
        incident.last_at = now
        incident.max_confidence = max(incident.max_confidence or Decimal(0), confidence)
        if plate and not incident.plate:
            incident.plate = plate
    alert = SecurityAlert(community_id=community_id, incident_id=incident.id,
                          device_id=device.id if device else None, event_id=event_id, kind=kind,
                          confidence=confidence, zone=zone, plate=plate, at=device_at or now, received_at=now)
    session.add(alert)
    session.flush()
    return alert


def _open_incident(session: Session, community_id: int, device: Device | None, device_code: str, kind: str,
                   confidence: Decimal, zone: str | None, snapshot: Any, plate: str | None,
                   now: datetime) -> SecurityIncident:
    community = session.get(Community, community_id)
    location = (device.location or device.name) if device is not None else device_code
    if zone:
        location = f"{location}（{zone}）"
    incident = SecurityIncident(
        number=f"tmp-{hashlib.sha1(f'{community_id}{device_code}{now.isoformat()}{kind}'.encode()).hexdigest()[:20]}",
        community_id=community_id, device_id=device.id if device else None, device_code=device_code,
        kind=kind, location=location[:200], zone=zone, status="open", first_at=now, last_at=now,
        alert_count=1, max_confidence=confidence, plate=plate)
    session.add(incident)
    session.flush()
    incident.number = f"AL-{community.code}-{incident.id:06d}"
    incident.snapshot = store_snapshot(session, community_id, snapshot, incident.number)
    if plate and kind in PARKING_KINDS:
        incident.household_id = session.scalar(select(VehiclePlate.household_id).where(
            VehiclePlate.community_id == community_id, VehiclePlate.plate == plate))
        if incident.household_id is not None:
            notify(session, template="security.parking_notice", community_id=community_id,
                   household_id=incident.household_id,
                   params={"plate": plate, "location": incident.location, "time": local_time(now),
                           "kind": kind_label(kind, "zh"), "kind_en": kind_label(kind, "en")})
    session.flush()
    record(session, actor=f"camera:{device_code}", action="security.incident_opened",
           target_type="security_incident", target_id=incident.number, community_id=community_id,
           after={"kind": kind, "location": incident.location, "plate": plate})
    _start_process(session, incident)
    return incident


def _start_process(session: Session, incident: SecurityIncident) -> None:
    from app.engine.errors import ProcessNotFound
    from app.platform.processes import ProcessNotAllowed, start_process

    settings = module_settings(session, incident.community_id, "security")
    data = {
        "incident_id": incident.id, "incident_number": incident.number, "kind": incident.kind,
        "kind_label": kind_label(incident.kind), "kind_label_en": kind_label(incident.kind, "en"),
        "location": incident.location,
        "alert_time": local_time(incident.first_at), "device_code": incident.device_code,
        "plate": incident.plate or "", "ack_timer": f"PT{int(settings['ack_minutes'])}M",
    }
    if incident.snapshot and "sha256" in incident.snapshot:
        data["snapshot"] = [incident.snapshot]
    try:
        instance = start_process(session, community_id=incident.community_id, process_id=PROCESS_ID,
                                 actor=f"camera:{incident.device_code}", business_key=incident.number, data=data)
    except (ProcessNotAllowed, ProcessNotFound) as exc:
        log.warning("incident %s recorded without a process: %s", incident.number, exc)
        return
    incident.instance_id = instance.id


# steps of the alert process ---------------------------------------------------------------------
def _incident(session: Session, incident_id: int, community_id: int | None = None) -> SecurityIncident:
    incident = session.get(SecurityIncident, incident_id)
    if incident is None or (community_id is not None and incident.community_id != community_id):
        raise LookupError(f"no security incident {incident_id}")
    return incident


def acknowledge(session: Session, incident_id: int, actor: str, community_id: int | None = None) -> SecurityIncident:
    incident = _incident(session, incident_id, community_id)
    if incident.acknowledged_at is None:
        incident.acknowledged_at = clock.now()
        incident.acknowledged_by = actor
        if incident.status == "open":
            incident.status = "acknowledged"
        record(session, actor=actor, action="security.incident_acknowledged", target_type="security_incident",
               target_id=incident.number, community_id=incident.community_id)
    return incident


def escalate(session: Session, incident_id: int, community_id: int | None = None) -> SecurityIncident:
    """Nobody acknowledged in time: tell the community's managers (once)."""
    incident = _incident(session, incident_id, community_id)
    if incident.escalated_at is None and incident.acknowledged_at is None:
        incident.escalated_at = clock.now()
        managers = role_user_ids(session, incident.community_id, "manager")
        notify(session, template="security.alert_escalated", community_id=incident.community_id,
               user_ids=managers, params={"number": incident.number, "kind": kind_label(incident.kind, "zh"),
                                          "kind_en": kind_label(incident.kind, "en"),
                                          "location": incident.location, "time": local_time(incident.first_at)})
        record(session, actor="timer", action="security.incident_escalated", target_type="security_incident",
               target_id=incident.number, community_id=incident.community_id,
               after={"managers_notified": len(managers)})
    return incident


def close(session: Session, incident_id: int, *, outcome: str, note: str | None, photos: list | None,
          actor: str, community_id: int | None = None) -> SecurityIncident:
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r} (known: {', '.join(OUTCOMES)})")
    incident = _incident(session, incident_id, community_id)
    if incident.status == "closed":
        return incident
    now = clock.now()
    incident.status = "closed"
    incident.closed_at = now
    incident.closed_by = actor
    incident.outcome = outcome
    incident.outcome_note = (note or "")[:1000] or None
    incident.photos = photos or None
    if incident.acknowledged_at is None:
        incident.acknowledged_at, incident.acknowledged_by = now, actor
    record(session, actor=actor, action="security.incident_closed", target_type="security_incident",
           target_id=incident.number, community_id=incident.community_id, after={"outcome": outcome})
    return incident


# reading -----------------------------------------------------------------------------------------
def list_incidents(session: Session, community_ids: list[int], *, status: str | None = None,
                   kind: str | None = None, limit: int = 200, since: datetime | None = None,
                   until: datetime | None = None) -> list[SecurityIncident]:
    """Open ones first, newest first; ``since``/``until``: first alert in that window (UTC)."""
    q = select(SecurityIncident).where(SecurityIncident.community_id.in_(list(community_ids)))
    if since is not None:
        q = q.where(SecurityIncident.first_at >= since)
    if until is not None:
        q = q.where(SecurityIncident.first_at < until)
    if status == "open":
        q = q.where(SecurityIncident.status != "closed")
    elif status:
        q = q.where(SecurityIncident.status == status)
    if kind:
        q = q.where(SecurityIncident.kind == kind)
    q = q.order_by((SecurityIncident.status == "closed"), SecurityIncident.last_at.desc(),
                   SecurityIncident.id.desc())
    return list(session.scalars(q.limit(limit)))


def incident_alerts(session: Session, incident_id: int) -> list[SecurityAlert]:
    return list(session.scalars(select(SecurityAlert).where(SecurityAlert.incident_id == incident_id)
                                .order_by(SecurityAlert.id)))


def register_plate(session: Session, community_id: int, household_id: int, plate: str) -> VehiclePlate:
    plate = plate.strip().upper()
    if not plate or len(plate) > 20:
        raise ValueError("a plate has 1 to 20 characters")
    row = session.scalar(select(VehiclePlate).where(VehiclePlate.community_id == community_id,
                                                    VehiclePlate.plate == plate))
    if row is None:
        row = VehiclePlate(community_id=community_id, plate=plate, household_id=household_id)
        session.add(row)
    row.household_id = household_id
    session.flush()
    return row
