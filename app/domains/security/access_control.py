"""Residents' access credentials on the community's door controllers, and door events.

Each resident's card number and face *reference* (the access vendor's record id — never a
photo, PIPL art. 28) are wanted on every door controller of the community. ``sync_*`` sends
``door.grant`` (or ``door.restore`` for a credential the door holds suspended) and records
what the door answered per credential and door; a door that is offline gets the command
queued in the outbox (status ``queued``). Moving out revokes: every credential of the
household is suspended on every door (``door.suspend``, the profile's revocation command).

Door events (entries and refused entries) are stored once per delivery (a redelivered event
has the same key) with the resident or visitor pass they belong to, and can be searched.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app import clock
from app.domains.devices.models import Device
from app.domains.estate.models import Community, Household, Resident
from app.domains.security.models import AccessCredential, DoorEvent
from app.platform.audit import record

log = logging.getLogger("estateflow.security.access")

Sender = Callable[[Device, str, dict], object]  # (device, capability, params) -> Ack


def default_sender(session: Session) -> Sender:
    """Commands through the process-wide device bus (one MQTT connection, durable outbox)."""
    from app.domains.devices import bus as device_bus

    return lambda device, capability, params: device_bus.command(session, device, capability, params)


def connector_sender(connector, community_code: str, timeout: float = 5.0) -> Sender:
    """Commands through a given ``MqttConnector`` (tests, tools, a worker's own connection)."""
    from app.domains.devices.registry import profile_of

    def send(device: Device, capability: str, params: dict):
        spec = profile_of(device).command_for(capability)
        if spec is None:
            raise ValueError(f"{device.profile} does not support {capability}")
        return connector.send_command(community_code, device.address, spec.name, params, timeout=timeout)

    return send


def door_controllers(session: Session, community_id: int) -> list[Device]:
    from app.domains.devices.registry import capability_devices

    return capability_devices(session, community_id, "door.grant")


def resident_credentials(resident: Resident) -> list[tuple[str, str]]:
    """(kind, credential) pairs a resident holds: card number and face reference."""
    out = []
    if resident.card_number:
        out.append(("card", resident.card_number.strip()))
    if resident.face_ref:
        out.append(("face", resident.face_ref.strip()))
    return out


@dataclass
class SyncResult:
    sent: int = 0
    active: int = 0
    suspended: int = 0
    queued: int = 0
    failed: int = 0
    unchanged: int = 0


def _row(session: Session, resident: Resident, device: Device, kind: str, credential: str) -> AccessCredential:
    row = session.scalar(select(AccessCredential).where(
        AccessCredential.device_id == device.id, AccessCredential.kind == kind,
        AccessCredential.credential == credential))
    if row is None:
        row = AccessCredential(community_id=resident.community_id, resident_id=resident.id, device_id=device.id,
                               kind=kind, credential=credential, wanted="active", status="pending")
        session.add(row)
    row.resident_id = resident.id
    return row


def _apply(row: AccessCredential, ack, wanted: str, result: SyncResult) -> None:
    status = getattr(ack, "status", "failed")
    row.synced_at = clock.now()
    if status == "ok":
        row.status, row.error = wanted, None
        setattr(result, wanted, getattr(result, wanted) + 1)
    elif status == "queued":
        row.status, row.error = "queued", None
        result.queued += 1
    else:
        row.status, row.error = "failed", (getattr(ack, "error", None) or status)[:500]
        result.failed += 1


def _send(send: Sender, device: Device, capability: str, params: dict):
    try:
        return send(device, capability, params)
    except Exception as exc:  # noqa: BLE001 - a refused/unreachable door is recorded per credential
        log.warning("door %s: %s failed: %s", device.code, capability, exc)

        class _Failed:
            status = "failed"
            error = str(exc)

        return _Failed()


def sync_resident(session: Session, resident: Resident, send: Sender, force: bool = False) -> SyncResult:
    """Make every door of the community hold this resident's credentials (active)."""
    result = SyncResult()
    household = session.get(Household, resident.household_id)
    if household is None or not household.active:
        return revoke_resident(session, resident, send, reason="moved_out")
    for device in door_controllers(session, resident.community_id):
        for kind, credential in resident_credentials(resident):
            row = _row(session, resident, device, kind, credential)
            if row.status == "active" and row.wanted == "active" and not force:
                result.unchanged += 1
                continue
            command = "door.restore" if row.status == "suspended" else "door.grant"
            params = {"credential": credential} if command == "door.restore" else {"credential": credential, "kind": kind}
            row.wanted = "active"
            ack = _send(send, device, command, params)
            result.sent += 1
            if command == "door.restore" and getattr(ack, "status", "") == "failed":
                ack = _send(send, device, "door.grant", {"credential": credential, "kind": kind})
                result.sent += 1
            _apply(row, ack, "active", result)
    session.flush()
    return result


def revoke_resident(session: Session, resident: Resident, send: Sender, reason: str = "moved_out") -> SyncResult:
    """Suspend every credential of this resident on every door."""
    result = SyncResult()
    rows = list(session.scalars(select(AccessCredential).where(AccessCredential.resident_id == resident.id)))
    for row in rows:
        row.wanted = "suspended"
        if row.status == "suspended":
            result.unchanged += 1
            continue
        device = session.get(Device, row.device_id)
        ack = _send(send, device, "door.suspend", {"credential": row.credential, "reason": reason})
        result.sent += 1
        _apply(row, ack, "suspended", result)
    session.flush()
    return result


def sync_community(session: Session, community_id: int, send: Sender, actor: str = "system") -> SyncResult:
    """Bring every door of a community in line with its residents (active households granted,
    moved-out households suspended)."""
    total = SyncResult()
    residents = session.scalars(select(Resident).where(Resident.community_id == community_id).order_by(Resident.id))
    for resident in residents:
        r = sync_resident(session, resident, send)
        for key in total.__dataclass_fields__:
            setattr(total, key, getattr(total, key) + getattr(r, key))
    record(session, actor=actor, action="security.access_sync", target_type="community", target_id=community_id,
           community_id=community_id, after=total.__dict__)
    return total


def sync_household(session: Session, household_id: int, send: Sender, actor: str = "system") -> SyncResult:
    household = session.get(Household, household_id)
    if household is None:
        raise LookupError(f"no household {household_id}")
    total = SyncResult()
    for resident in household.residents:
        r = sync_resident(session, resident, send)
        for key in total.__dataclass_fields__:
            setattr(total, key, getattr(total, key) + getattr(r, key))
    return total


def move_out(session: Session, household_id: int, send: Sender, actor: str) -> SyncResult:
    """The household moved out: it becomes inactive and its credentials are revoked."""
    household = session.get(Household, household_id)
    if household is None:
        raise LookupError(f"no household {household_id}")
    household.active = False
    total = SyncResult()
    for resident in household.residents:
        r = revoke_resident(session, resident, send, reason="moved_out")
        for key in total.__dataclass_fields__:
            setattr(total, key, getattr(total, key) + getattr(r, key))
    record(session, actor=actor, action="security.move_out", target_type="household", target_id=household.code,
           community_id=household.community_id, after=total.__dict__)
    return total


def credentials_of(session: Session, community_ids: list[int], limit: int = 500) -> list[AccessCredential]:
    return list(session.scalars(select(AccessCredential).where(AccessCredential.community_id.in_(community_ids))
                                .order_by(AccessCredential.id.desc()).limit(limit)))


def sync_counts(session: Session, community_ids: list[int]) -> dict[str, int]:
    rows = session.execute(select(AccessCredential.status, func.count()).where(
        AccessCredential.community_id.in_(community_ids)).group_by(AccessCredential.status)).all()
    return {status: n for status, n in rows}


# door events ----------------------------------------------------------------------------------------
def handle_door_event(session: Session, event) -> DoorEvent | None:
    """Router handler for door ``entry`` events (granted or refused)."""
    from app.domains.devices.registry import apply_event, find_mqtt_device
    from app.domains.security.alerts import parse_device_time

    community = session.scalar(select(Community).where(Community.code == event.community))
    if community is None:
        log.warning("door event from unknown community %s", event.community)
        return None
    device = find_mqtt_device(session, event.community, event.device)
    if device is not None:
        apply_event(session, event)
    p = event.payload
    key = hashlib.sha256(json.dumps({"d": event.device, "p": p}, sort_keys=True, ensure_ascii=False)
                         .encode("utf-8")).hexdigest()
    return record_door_event(session, community_id=community.id, device=device, device_code=event.device,
                             event_key=key, credential=str(p["credential"]), method=p["method"],
                             granted=bool(p["granted"]), at=parse_device_time(p.get("at")))


def _resolve_credential(session: Session, community_id: int, credential: str) -> tuple[int, int | None] | None:
    """A QR credential another domain issued (``pass:<number>``: a visitor pass), as
    (pass id, household id). Domains offer ``CREDENTIAL_RESOLVERS = {prefix: func}`` in their
    ``events.py``; security knows none of them by name."""
    from app.platform.discovery import domain_parts

    for module in domain_parts("events"):
        for prefix, resolve in getattr(module, "CREDENTIAL_RESOLVERS", {}).items():
            if credential.startswith(prefix):
                return resolve(session, community_id, credential[len(prefix):])
    return None


def record_door_event(session: Session, *, community_id: int, device: Device | None, device_code: str,
                      event_key: str, credential: str, method: str, granted: bool,
                      at: datetime | None = None) -> DoorEvent | None:
    if session.scalar(select(DoorEvent.id).where(DoorEvent.community_id == community_id,
                                                 DoorEvent.event_key == event_key)) is not None:
        return None
    now = clock.now()
    row = DoorEvent(community_id=community_id, device_id=device.id if device else None,
                    device_code=device.code if device else device_code, event_key=event_key,
                    credential=credential[:200], method=method, granted=granted, at=at or now, received_at=now)
    resolved = _resolve_credential(session, community_id, credential) if method == "qr" else None
    if resolved is not None:
        row.visitor_pass_id, row.household_id = resolved
    elif not (method == "qr" and ":" in credential):
        cred = session.scalars(select(AccessCredential).where(AccessCredential.community_id == community_id,
                                                              AccessCredential.credential == credential)).first()
        resident = session.get(Resident, cred.resident_id) if cred else session.scalars(
            select(Resident).where(Resident.community_id == community_id,
                                   or_(Resident.card_number == credential, Resident.face_ref == credential))).first()
        if resident is not None:
            row.resident_id, row.household_id = resident.id, resident.household_id
    session.add(row)
    session.flush()
    return row


def search_door_events(session: Session, community_ids: list[int], *, q: str | None = None,
                       granted: bool | None = None, device_code: str | None = None,
                       since: datetime | None = None, until: datetime | None = None,
                       limit: int = 200) -> list[DoorEvent]:
    """Newest first. ``q`` matches the credential, the device code or the household code."""
    stmt = select(DoorEvent).where(DoorEvent.community_id.in_(list(community_ids)))
    if q:
        like = f"%{q.strip()}%"
        hh = select(Household.id).where(Household.code.like(like))
        stmt = stmt.where(or_(DoorEvent.credential.like(like), DoorEvent.device_code.like(like),
                              DoorEvent.household_id.in_(hh)))
    if granted is not None:
        stmt = stmt.where(DoorEvent.granted.is_(granted))
    if device_code:
        stmt = stmt.where(DoorEvent.device_code == device_code)
    if since is not None:
        stmt = stmt.where(DoorEvent.at >= since)
    if until is not None:
        stmt = stmt.where(DoorEvent.at < until)
    return list(session.scalars(stmt.order_by(DoorEvent.at.desc(), DoorEvent.id.desc()).limit(limit)))
