"""Device state: registration, readings, events, the error log and the command outbox.

Connectors do the protocol work and know nothing of the database; this service turns what
they report into rows. Every function takes the caller's ``Session`` and never commits,
except ``SessionOutbox``, which the MQTT connector calls from its own threads and which
therefore uses the session factory it is given, one short transaction per call.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from app import clock
from app.domains.devices.models import Device, DeviceDeadLetter, DeviceRejected
from app.domains.estate.models import Community
from connectors.capabilities import CAPABILITIES
from connectors.modbus.address import parse_address
from connectors.modbus.reader import MeterRequest, Reading, read_meters_sync
from connectors.models import DeviceCommand, DeviceError, MeterReading
from connectors.mqtt.outbox import OutboxItem
from connectors.profiles import Profile, shipped_profiles
from connectors.router import InboundEvent

ERROR_TEXT_MAX = 500


def _profiles(session: Session | None = None) -> dict[str, Profile]:
    """The shipped profiles and those uploaded module packages carry (shipped names win)."""
    from app.modules.packages import package_profiles

    return {**package_profiles(session), **shipped_profiles()}


def profile_of(device: Device) -> Profile:
    from sqlalchemy.orm import object_session

    try:
        return _profiles(object_session(device))[device.profile]
    except KeyError as exc:
        raise LookupError(f"device {device.code}: unknown profile {device.profile!r}") from exc


# registration and lookup ----------------------------------------------------------------------
def check_device_fields(profile: str, address: str, session: Session | None = None) -> Profile:
    """What the device form and the import check before storing: the profile exists (shipped,
    or carried by an uploaded module package) and the address parses for the profile's
    protocol. Raises ``ValueError`` saying what is wrong."""
    import difflib

    known = _profiles(session)
    prof = known.get((profile or "").strip())
    if prof is None:
        close = difflib.get_close_matches(profile or "", list(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown device profile {profile!r}{hint} (known: {', '.join(sorted(known))})")
    address = address or ""
    if prof.protocol == "modbus":
        parse_address(address)
    elif (not address.strip() or len(address) > 100 or any(ch in address for ch in "/+#")
          or any(ch.isspace() for ch in address)):
        raise ValueError(f"bad MQTT device id {address!r}: one topic level, no spaces, no '/', '+' or '#'")
    return prof


def register_device(session: Session, community_id: int, code: str, name: str, profile: str,
                    address: str, **fields: Any) -> Device:
    """Add a device (or update the one with this code); checks profile and address format."""
    check_device_fields(profile, address)
    device = session.scalars(select(Device).where(Device.community_id == community_id,
                                                  Device.code == code)).one_or_none()
    if device is None:
        device = Device(community_id=community_id, code=code, status="unknown")
        session.add(device)
    device.name, device.profile, device.address = name, profile, address
    for key, value in fields.items():
        setattr(device, key, value)
    session.flush()
    return device


def capability_devices(session: Session, community_id: int, capability: str) -> list[Device]:
    """Devices of a community whose profile offers ``capability`` (e.g. ``door.grant``)."""
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}")
    names = [p.name for p in _profiles().values() if capability in p.capabilities]
    return list(session.scalars(select(Device).where(Device.community_id == community_id,
                                                     Device.profile.in_(names)).order_by(Device.code)))


def find_mqtt_device(session: Session, community_code: str, device_id: str) -> Device | None:
    """The device behind topic segments ``<community>/<device>`` (address, else code); looked
    up once per transaction (a batch of events from one gate asks once)."""
    from app.domains.devices.tx_cache import per_transaction

    def lookup() -> Device | None:
        base = select(Device).join(Community, Device.community_id == Community.id).where(
            Community.code == community_code)
        return (session.scalars(base.where(Device.address == device_id)).first()
                or session.scalars(base.where(Device.code == device_id)).first())

    return per_transaction(session, ("mqtt_device", community_code, device_id), lookup, keep_none=False)


def mqtt_profile_lookup(session: Session) -> Callable[[str, str], Profile | None]:
    """A snapshot ``(community_code, device_id) -> Profile`` for the MQTT connector."""
    rows = session.execute(select(Community.code, Device.address, Device.code, Device.profile)
                           .join(Community, Device.community_id == Community.id)).all()
    profiles = _profiles(session)
    table: dict[tuple[str, str], Profile] = {}
    for community_code, address, code, profile in rows:
        prof = profiles.get(profile)
        if prof is not None and prof.protocol == "mqtt":
            table[(community_code, code)] = prof
            table[(community_code, address)] = prof
    return lambda community, device: table.get((community, device))


# errors, readings, events -----------------------------------------------------------------------
def log_device_error(session: Session, device: Device, kind: str, message: str,
                     value: Decimal | None = None, at: datetime | None = None) -> DeviceError:
    """Record a problem and show it on the device."""
    at = at or clock.now()
    entry = DeviceError(device_id=device.id, kind=kind, message=message[:ERROR_TEXT_MAX],
                        value=value, at=at)
    session.add(entry)
    device.last_error = f"{kind}: {message}"[:ERROR_TEXT_MAX]
    return entry


def device_errors(session: Session, device: Device, limit: int = 50) -> list[DeviceError]:
    return list(session.scalars(select(DeviceError).where(DeviceError.device_id == device.id)
                                .order_by(DeviceError.at.desc(), DeviceError.id.desc()).limit(limit)))


def last_good_reading(session: Session, device: Device) -> MeterReading | None:
    return session.scalars(select(MeterReading).where(MeterReading.device_id == device.id)
                           .order_by(MeterReading.at.desc(), MeterReading.id.desc()).limit(1)).first()


def record_reading(session: Session, device: Device, reading: Reading) -> MeterReading | None:
    """Store a good reading (billable) or log why there is none; update the device."""
    if reading.quality in ("timeout", "error"):
        device.status = "offline" if reading.quality == "timeout" else "error"
        log_device_error(session, device, reading.quality, reading.error or reading.quality, at=reading.at)
        return None
    device.last_seen = reading.at
    # it answers, but a reading out of range or going backwards means the meter is faulty
    device.status = "online" if reading.quality == "good" else "fault"
    device.last_value = {"value": str(reading.value), "unit": reading.unit,
                         "quality": reading.quality, "register": reading.register,
                         "at": reading.at.isoformat()}
    if reading.quality != "good":
        log_device_error(session, device, reading.quality, reading.error or reading.quality,
                         value=reading.value, at=reading.at)
        return None
    device.last_error = None
    row = MeterReading(device_id=device.id, register=reading.register, value=reading.value,
                       unit=reading.unit, quality="good", at=reading.at)
    session.add(row)
    return row


def read_meters(session: Session, community_id: int, *, timeout: float = 1.0, retries: int = 2,
                concurrency: int = 32, device_ids: list[int] | None = None) -> list[Reading]:
    """Read every Modbus meter of a community (or just ``device_ids``) now and store the
    results (no commit)."""
    meters = [d for d in capability_devices(session, community_id, "meter.read")
              if profile_of(d).protocol == "modbus" and (device_ids is None or d.id in device_ids)]
    if not meters:
        return []
    previous = dict(session.execute(
        select(MeterReading.device_id, MeterReading.value)
        .where(MeterReading.device_id.in_([d.id for d in meters]),
               MeterReading.id.in_(select(func.max(MeterReading.id))
                                   .group_by(MeterReading.device_id)))).all())
    requests = [MeterRequest(d.code, d.address, profile_of(d), previous.get(d.id)) for d in meters]
    readings = read_meters_sync(requests, timeout=timeout, retries=retries,
                                concurrency=concurrency, clock=clock.now)
    by_code = {d.code: d for d in meters}
    for reading in readings:
        record_reading(session, by_code[reading.device_code], reading)
    session.flush()
    return readings


def billable_readings(session: Session, device: Device, since: datetime | None = None,
                      until: datetime | None = None) -> list[MeterReading]:
    q = select(MeterReading).where(MeterReading.device_id == device.id, MeterReading.quality == "good")
    if since:
        q = q.where(MeterReading.at >= since)
    if until:
        q = q.where(MeterReading.at < until)
    return list(session.scalars(q.order_by(MeterReading.at, MeterReading.id)))


def apply_event(session: Session, event: InboundEvent) -> Device | None:
    """Note an inbound event on its device (last seen, last value). Where the profile names
    the event's ``timestamp`` field, the device's own time is used (never later than now)."""
    device = find_mqtt_device(session, event.community, event.device)
    if device is None:
        return None
    device.status = "online"
    now = clock.now()
    at = event.extra.get("at") if event.extra else None
    device.last_seen = min(at, now) if at is not None else now
    device.last_value = {"type": event.type, **{k: v for k, v in event.payload.items() if k != "snapshot"}}
    return device


# refused messages and dead letters ------------------------------------------------------------------
def record_rejection(session: Session, refusal) -> DeviceRejected:
    """Store a message the connector refused (``connectors.mqtt.client.Refusal``), linked to
    its community and device when they are known; counted on the device as its last error."""
    community = (session.scalars(select(Community).where(Community.code == refusal.community)).first()
                 if refusal.community else None)
    device = find_mqtt_device(session, refusal.community, refusal.device) if community and refusal.device else None
    row = DeviceRejected(community=(refusal.community or "")[:60], device=(refusal.device or "")[:100],
                         community_id=community.id if community else None,
                         device_id=device.id if device else None, topic=refusal.topic[:300],
                         reason=refusal.reason[:500], excerpt=(refusal.excerpt or "")[:300],
                         size=refusal.size, at=refusal.at or clock.now())
    session.add(row)
    if device is not None:
        device.last_error = f"rejected: {refusal.reason}"[:ERROR_TEXT_MAX]
    session.flush()
    return row


def device_rejections(session: Session, device: Device, limit: int = 20) -> list[DeviceRejected]:
    return list(session.scalars(select(DeviceRejected).where(DeviceRejected.device_id == device.id)
                                .order_by(DeviceRejected.at.desc(), DeviceRejected.id.desc()).limit(limit)))


def device_dead_letters(session: Session, device: Device, limit: int = 20) -> list[DeviceDeadLetter]:
    return list(session.scalars(select(DeviceDeadLetter).where(DeviceDeadLetter.device_id == device.id)
                                .order_by(DeviceDeadLetter.at.desc(), DeviceDeadLetter.id.desc()).limit(limit)))


def set_online(session: Session, community_code: str, device_id: str, online: bool) -> Device | None:
    device = find_mqtt_device(session, community_code, device_id)
    if device is not None:
        device.status = "online" if online else "offline"
        if online:
            device.last_seen = clock.now()
    return device


# command outbox ----------------------------------------------------------------------------------
def enqueue_command(session: Session, device: Device, command: str, params: dict,
                    request_id: str) -> DeviceCommand:
    row = DeviceCommand(request_id=request_id, community_id=device.community_id, device_id=device.id,
                        command=command, params=params, status="pending", attempts=0,
                        created_at=clock.now())
    session.add(row)
    session.flush()
    return row


#: a claim older than this (the sending process died) may be taken again
CLAIM_EXPIRY_S = 120


def pending_commands(session: Session, device: Device) -> list[DeviceCommand]:
    return list(session.scalars(select(DeviceCommand).where(
        DeviceCommand.device_id == device.id, DeviceCommand.status.in_(("pending", "sending")))
        .order_by(DeviceCommand.id)))


def claim_command(session: Session, request_id: str, owner: str) -> bool:
    """Take a queued command for sending: one ``UPDATE ... WHERE status='pending' RETURNING``
    (SQLite >= 3.35 and PostgreSQL), so two connections never both get it. A claim older than
    ``CLAIM_EXPIRY_S`` counts as abandoned."""
    from datetime import timedelta

    now = clock.now()
    claimed = session.execute(
        update(DeviceCommand)
        .where(DeviceCommand.request_id == request_id,
               or_(DeviceCommand.status == "pending",
                   (DeviceCommand.status == "sending")
                   & (DeviceCommand.claimed_at < now - timedelta(seconds=CLAIM_EXPIRY_S))))
        .values(status="sending", claimed_at=now, claimed_by=owner[:64])
        .returning(DeviceCommand.id)
        .execution_options(synchronize_session=False)).first()
    return claimed is not None


def mark_command_done(session: Session, request_id: str, ok: bool, result: dict | None,
                      error: str | None) -> DeviceCommand | None:
    row = session.scalars(select(DeviceCommand).where(DeviceCommand.request_id == request_id)).one_or_none()
    if row is None or row.status not in ("pending", "sending"):
        return row  # already closed: a repeated ack changes nothing
    row.status = "delivered" if ok else "failed"
    row.result, row.error, row.done_at = result, (error or None) and error[:ERROR_TEXT_MAX], clock.now()
    row.attempts += 1
    return row


def mark_command_attempted(session: Session, request_id: str, error: str) -> None:
    row = session.scalars(select(DeviceCommand).where(DeviceCommand.request_id == request_id)).one_or_none()
    if row is not None:
        row.attempts += 1
        row.error = error[:ERROR_TEXT_MAX]
        if row.status == "sending":  # no ack: give it back for the next flush
            row.status, row.claimed_at, row.claimed_by = "pending", None, None


class SessionOutbox:
    """The MQTT connector's durable outbox: the ``device_command`` table.

    Called from the connector's threads, so each call is one short transaction on a session
    from ``session_factory`` (e.g. ``sessionmaker(engine)``) given by the process owner.
    """

    def __init__(self, session_factory: Callable[[], Session]):
        self._factory = session_factory

    def add(self, item: OutboxItem) -> None:
        with self._factory() as s, s.begin():
            device = find_mqtt_device(s, item.community, item.device)
            if device is None:
                raise LookupError(f"no device {item.device} in community {item.community}")
            enqueue_command(s, device, item.command, item.params, item.request_id)

    def pending(self, community: str, device: str) -> list[OutboxItem]:
        with self._factory() as s:
            dev = find_mqtt_device(s, community, device)
            if dev is None:
                return []
            return [OutboxItem(r.request_id, community, device, r.command, dict(r.params or {}), r.attempts)
                    for r in pending_commands(s, dev)]

    def delivered(self, request_id: str, ok: bool, result: dict | None, error: str | None) -> None:
        with self._factory() as s, s.begin():
            mark_command_done(s, request_id, ok, result, error)

    def attempted(self, request_id: str, error: str) -> None:
        with self._factory() as s, s.begin():
            mark_command_attempted(s, request_id, error)

    def claim(self, request_id: str, owner: str) -> bool:
        with self._factory() as s, s.begin():
            return claim_command(s, request_id, owner)


