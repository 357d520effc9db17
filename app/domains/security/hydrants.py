"""Hydrant pressure: readings, alarms and the maintenance order they open.

A reading below the community's ``hydrant_min_pressure_mpa`` starts a *watching* alarm; if
the pressure is still low ``low_pressure_minutes`` later (checked on every reading and by
``sweep``), the alarm *opens* a maintenance order. A sensor that reports nothing for
``silent_minutes`` opens a *silent* alarm the same way. A good reading closes the alarm
("recovered"); a watching alarm that recovers never becomes an order (a brief dip).

The order goes to the repair module when it is enabled in the community (a common-area
order through ``app.domains.repair.create_order``, category ``public_area``);
otherwise this module's own ``security_hydrant_maintenance`` process gives a technician the
task.
"""
from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import clock
from app.domains.devices.models import Device
from app.domains.estate.models import Community
from app.domains.notifications.delivery import notify
from app.domains.security.models import HydrantAlarm, HydrantReading
from app.platform.audit import record
from app.platform.module_settings import module_settings, role_user_ids

log = logging.getLogger("estateflow.security.hydrants")

PROFILE = "hydrant_pressure_sensor"
PROCESS_ID = "security_hydrant_maintenance"
LIVE = ("watching", "open")
REASON_LABELS = {"low_pressure": "水压过低 Low pressure", "silent": "传感器离线 Sensor silent"}


def handle_pressure_event(session: Session, event) -> HydrantReading | None:
    """Router handler for ``pressure.read`` events."""
    from app.domains.devices.registry import apply_event, find_mqtt_device

    device = find_mqtt_device(session, event.community, event.device)
    if device is None:
        log.warning("pressure from unknown device %s/%s", event.community, event.device)
        return None
    apply_event(session, event)
    battery = event.payload.get("battery")
    return record_reading(session, device, Decimal(str(event.payload["mpa"])).quantize(Decimal("0.001")),
                          int(battery) if isinstance(battery, (int, float)) else None)


def _live_alarm(session: Session, device_id: int, kind: str) -> HydrantAlarm | None:
    return session.scalars(select(HydrantAlarm).where(
        HydrantAlarm.device_id == device_id, HydrantAlarm.kind == kind,
        HydrantAlarm.status.in_(LIVE)).order_by(HydrantAlarm.id.desc()).limit(1)).first()


def record_reading(session: Session, device: Device, mpa: Decimal, battery: int | None = None,
                   at: datetime | None = None) -> HydrantReading:
    at = at or clock.now()
    reading = HydrantReading(community_id=device.community_id, device_id=device.id, mpa=mpa,
                             battery=battery, at=at)
    session.add(reading)
    settings = module_settings(session, device.community_id, "security")
    silent = _live_alarm(session, device.id, "silent")
    if silent is not None:
        close_alarm(session, silent, "reported_again", at)
    low = _live_alarm(session, device.id, "low_pressure")
    if mpa < settings["hydrant_min_pressure_mpa"]:
        if low is None:
            low = HydrantAlarm(community_id=device.community_id, device_id=device.id, kind="low_pressure",
                               status="watching", started_at=at, min_mpa=mpa)
            session.add(low)
        low.min_mpa = min(low.min_mpa if low.min_mpa is not None else mpa, mpa)
        if low.status == "watching" and at - low.started_at >= timedelta(minutes=int(settings["low_pressure_minutes"])):
            open_alarm(session, low, at)
    elif low is not None:
        close_alarm(session, low, "recovered" if low.status == "open" else "recovered_early", at)
    session.flush()
    return reading


def open_alarm(session: Session, alarm: HydrantAlarm, now: datetime | None = None) -> HydrantAlarm:
    """Turn a watching alarm into an open one with a maintenance order (once)."""
    if alarm.status == "open":
        return alarm
    now = now or clock.now()
    session.flush()
    device = session.get(Device, alarm.device_id)
    community = session.get(Community, alarm.community_id)
    alarm.status, alarm.opened_at = "open", now
    alarm.number = f"HY-{community.code}-{alarm.id:05d}"
    alarm.work_order = _open_work_order(session, alarm, device)
    notify(session, template="security.hydrant_alarm", community_id=alarm.community_id,
           user_ids=role_user_ids(session, alarm.community_id, "manager"),
           params={"device": device.name, "location": device.location or "", "number": alarm.number,
                   "reason": REASON_LABELS[alarm.kind], "mpa": str(alarm.min_mpa) if alarm.min_mpa is not None else "—"})
    record(session, actor="hydrant-monitor", action="security.hydrant_alarm_opened", target_type="hydrant_alarm",
           target_id=alarm.number, community_id=alarm.community_id,
           after={"kind": alarm.kind, "device": device.code, "work_order": alarm.work_order})
    return alarm


def _open_work_order(session: Session, alarm: HydrantAlarm, device: Device) -> str | None:
    """A common-area order of the repair module when it is enabled here, else our own process."""
    from app.platform.processes import module_enabled

    reason = REASON_LABELS[alarm.kind]
    mpa = f"{alarm.min_mpa} MPa" if alarm.min_mpa is not None else ""
    description = f"【消防栓告警 {alarm.number}】{device.name}（{device.location or ''}）：{reason} {mpa}".strip()
    try:
        repair = importlib.import_module("app.domains.repair")  # its public create_order
    except ImportError:
        repair = None
    if repair is not None and module_enabled(session, alarm.community_id, "repair"):
        try:
            photo = chart_photo(session, alarm, device)
            with session.begin_nested():
                order = repair.create_order(
                    session, community_id=alarm.community_id, actor="hydrant-monitor", building_id=device.building_id,
                    data={"category": "public_area", "description": description[:1000], "photos": [photo],
                          "location_kind": "building_common" if device.building_id else "community_common",
                          "location_note": device.location or device.name})
            return order.number
        except Exception as exc:  # noqa: BLE001 - a refused repair order must not lose the alarm
            log.warning("repair order for %s refused (%s); using %s", alarm.number, exc, PROCESS_ID)
    from app.engine.errors import ProcessNotFound
    from app.platform.processes import ProcessNotAllowed, start_process

    try:
        start_process(session, community_id=alarm.community_id, process_id=PROCESS_ID, actor="hydrant-monitor",
                      business_key=alarm.number, data={
                          "alarm_id": alarm.id, "alarm_number": alarm.number, "device_name": device.name,
                          "location": device.location or "", "reason_label": REASON_LABELS[alarm.kind],
                          "min_mpa": str(alarm.min_mpa) if alarm.min_mpa is not None else "—"})
    except (ProcessNotAllowed, ProcessNotFound) as exc:
        log.warning("hydrant alarm %s without a work order: %s", alarm.number, exc)
        return None
    return alarm.number


def chart_photo(session: Session, alarm: HydrantAlarm, device: Device) -> dict:
    """The last day's pressure as a PNG upload of the community (a repair order needs a photo;
    the trend is the evidence a technician needs). Red line: the minimum."""
    from io import BytesIO

    from PIL import Image, ImageDraw

    from app.forms.uploads import store_upload
    from app.platform.uploads import grant_uploads

    settings = module_settings(session, alarm.community_id, "security")
    readings = history(session, device.id, since=(alarm.opened_at or clock.now()) - timedelta(days=1))
    chart = chart_points(readings, settings["hydrant_min_pressure_mpa"], width=480, height=200)
    image = Image.new("RGB", (480, 200), "white")
    draw = ImageDraw.Draw(image)
    if chart["threshold_y"] is not None:
        draw.line([(0, chart["threshold_y"]), (480, chart["threshold_y"])], fill=(217, 83, 79), width=2)
    points = [tuple(float(v) for v in p.split(",")) for p in chart["points"].split()]
    if len(points) > 1:
        draw.line(points, fill=(51, 122, 183), width=3)
    buf = BytesIO()
    image.save(buf, format="PNG")
    ref = store_upload(buf.getvalue(), f"{alarm.number}.png", accept=("image/png",))
    grant_uploads(session, {"chart": ref}, alarm.community_id, "hydrant-monitor", audience="security")
    return ref


def close_alarm(session: Session, alarm: HydrantAlarm, reason: str, now: datetime | None = None) -> HydrantAlarm:
    if alarm.status == "closed":
        return alarm
    was_open = alarm.status == "open"
    alarm.status, alarm.closed_at, alarm.close_reason = "closed", now or clock.now(), reason
    if was_open:
        record(session, actor="hydrant-monitor", action="security.hydrant_alarm_closed", target_type="hydrant_alarm",
               target_id=alarm.number, community_id=alarm.community_id, after={"reason": reason})
    return alarm


def record_repair(session: Session, alarm_id: int, cause: str, community_id: int | None = None) -> HydrantAlarm:
    """The maintenance task was done (the alarm still closes on a good reading)."""
    alarm = session.get(HydrantAlarm, alarm_id)
    if alarm is None or (community_id is not None and alarm.community_id != community_id):
        raise LookupError(f"no hydrant alarm {alarm_id}")
    record(session, actor="technician", action="security.hydrant_repaired", target_type="hydrant_alarm",
           target_id=alarm.number, community_id=alarm.community_id, after={"cause": cause})
    return alarm


def sweep(session: Session, now: datetime | None = None, community_ids: list[int] | None = None) -> int:
    """Open alarms that became due: low for long enough, or silent sensors. Returns how many."""
    now = now or clock.now()
    from app.platform.processes import module_enabled

    q = select(Device).where(Device.profile == PROFILE)
    if community_ids is not None:
        q = q.where(Device.community_id.in_(community_ids))
    opened = 0
    last_reading = dict(session.execute(select(HydrantReading.device_id, func.max(HydrantReading.at))
                                        .group_by(HydrantReading.device_id)).all())
    for device in session.scalars(q):
        if not module_enabled(session, device.community_id, "security"):
            continue
        settings = module_settings(session, device.community_id, "security")
        low = _live_alarm(session, device.id, "low_pressure")
        if low is not None and low.status == "watching" and \
                now - low.started_at >= timedelta(minutes=int(settings["low_pressure_minutes"])):
            open_alarm(session, low, now)
            opened += 1
        last = last_reading.get(device.id) or device.last_seen
        if last is not None and now - last >= timedelta(minutes=int(settings["silent_minutes"])) \
                and _live_alarm(session, device.id, "silent") is None:
            alarm = HydrantAlarm(community_id=device.community_id, device_id=device.id, kind="silent",
                                 status="watching", started_at=last)
            session.add(alarm)
            open_alarm(session, alarm, now)
            opened += 1
    session.flush()
    return opened


@dataclass
class HydrantStatus:
    device: Device
    last_mpa: Decimal | None
    last_at: datetime | None
    state: str  # ok, low, silent, unknown
    alarm: HydrantAlarm | None


def overview(session: Session, community_ids: list[int]) -> list[HydrantStatus]:
    out = []
    for device in session.scalars(select(Device).where(Device.community_id.in_(list(community_ids)),
                                                       Device.profile == PROFILE).order_by(Device.code)):
        last = session.scalars(select(HydrantReading).where(HydrantReading.device_id == device.id)
                               .order_by(HydrantReading.at.desc(), HydrantReading.id.desc()).limit(1)).first()
        alarm = session.scalars(select(HydrantAlarm).where(HydrantAlarm.device_id == device.id,
                                                           HydrantAlarm.status.in_(LIVE))
                                .order_by(HydrantAlarm.id.desc()).limit(1)).first()
        if alarm is not None:
            state = "silent" if alarm.kind == "silent" else "low"
        elif last is None:
            state = "unknown"
        else:
            state = "ok"
        out.append(HydrantStatus(device, last.mpa if last else None, last.at if last else None, state, alarm))
    return out


def history(session: Session, device_id: int, since: datetime | None = None, limit: int = 500) -> list[HydrantReading]:
    q = select(HydrantReading).where(HydrantReading.device_id == device_id)
    if since is not None:
        q = q.where(HydrantReading.at >= since)
    rows = list(session.scalars(q.order_by(HydrantReading.at.desc(), HydrantReading.id.desc()).limit(limit)))
    return rows[::-1]


def alarms(session: Session, device_id: int, limit: int = 50) -> list[HydrantAlarm]:
    return list(session.scalars(select(HydrantAlarm).where(HydrantAlarm.device_id == device_id,
                                                           HydrantAlarm.status != "watching")
                                .order_by(HydrantAlarm.id.desc()).limit(limit)))


def chart_points(readings: list[HydrantReading], threshold: Decimal, width: int = 600,
                 height: int = 160) -> dict:
    """Coordinates for an inline SVG line chart (no JavaScript, no CDN)."""
    if not readings:
        return {"points": "", "threshold_y": None, "width": width, "height": height, "max": None}
    top = max([r.mpa for r in readings] + [threshold]) * Decimal("1.2") or Decimal(1)
    t0, t1 = readings[0].at, readings[-1].at
    span = (t1 - t0).total_seconds() or 1.0
    pad = 4

    def y(v: Decimal) -> float:
        return round(height - pad - float(v / top) * (height - 2 * pad), 1)

    pts = []
    for i, r in enumerate(readings):
        x = pad + ((r.at - t0).total_seconds() / span if len(readings) > 1 else 0.5) * (width - 2 * pad)
        pts.append(f"{round(x, 1)},{y(r.mpa)}")
    return {"points": " ".join(pts), "threshold_y": y(threshold), "width": width, "height": height,
            "max": top.quantize(Decimal("0.01"))}
