"""``gate.open`` to a barrier gate over MQTT, through the devices command bus.

An online gate must acknowledge within the timeout (status ``ok``; ``failed``/``timeout``
otherwise, for the guard to see). A gate whose retained state says offline gets the command
written to the durable outbox (``device_command``) in the caller's transaction: it is
delivered when the gate is back, and the status ``queued`` is shown to the guard.

Inside the device event inbox (a plate read) the command is not awaited in the read's
transaction: its outbox row is written in that transaction and it goes out right after the
commit (``devices.deferred.command_after_commit``); the record shows ``sending`` until the
gate's acknowledgement is noted on it. The records carry the command's ``gate_request_id``
while it is not answered, so a command delivered later by the outbox (after a restart of the
worker, or when the gate is back) is noted on them by the sweep (``note_delivered``).
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from sqlalchemy import inspect, select, update
from sqlalchemy.orm import Session

from app.domains.devices import deferred
from app.domains.devices.bus import connector_for
from app.domains.devices.models import Device
from app.domains.devices.registry import enqueue_command, log_device_error, profile_of
from app.domains.devices.tx_cache import per_transaction
from app.domains.estate.models import Community
from connectors.models import DeviceCommand

log = logging.getLogger("estateflow.parking.gate")

#: how long a gate may take to acknowledge ``open`` before the guard is told
OPEN_TIMEOUT_S = 3.0


def _note_gate(records) -> Callable[[Session, str], None]:
    """The gate's answer noted on these records (by id, in a later transaction of the inbox);
    an answered command's request id is cleared, a queued one's kept for ``note_delivered``."""
    targets = [(type(r), inspect(r)) for r in records]

    def note(session: Session, status: str) -> None:
        values = {"gate_status": status}
        if status != "queued":
            values["gate_request_id"] = None
        for model, state in targets:
            if state.identity:
                session.execute(update(model).where(model.id == state.identity[0]).values(**values))
    return note


def open_gate(session: Session, device: Device | None, *, reason: str, plate: str | None = None,
              timeout: float = OPEN_TIMEOUT_S, records=()) -> str:
    """Open ``device``; returns ok, queued, failed, timeout (or ``no_gate``), or ``sending``
    inside the inbox when the command goes out after the commit (its outcome is then noted on
    ``records``, the tickets/reads the opening is for)."""
    if device is None:
        return "no_gate"
    spec = profile_of(device).command_for("gate.open")
    if spec is None:
        log.warning("device %s cannot open (profile %s)", device.code, device.profile)
        return "failed"
    params = {"reason": reason[:60]}
    if plate:
        params["plate"] = plate
    community = per_transaction(session, ("community", device.community_id),
                                lambda: session.get(Community, device.community_id))
    try:
        connector = connector_for(session)
        if connector.is_online(community.code, device.address) is False:
            request_id = uuid.uuid4().hex
            enqueue_command(session, device, spec.name, params, request_id)
            for record in records:
                record.gate_request_id = request_id
            log.info("gate %s offline: open for %s queued", device.code, plate or "-")
            return "queued"
        if records:
            request_id = deferred.command_after_commit(session, device, community.code, spec.name, params,
                                                       connector=connector, timeout=timeout,
                                                       on_result=_note_gate(records))
            if request_id is not None:
                for record in records:
                    record.gate_request_id = request_id
                return deferred.SENDING
        ack = connector.send_command(community.code, device.address, spec.name, params, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - broker down: the guard sees it, the event still counts
        log.warning("gate %s: open failed: %s", device.code, exc)
        log_device_error(session, device, "command", f"gate.open: {exc}")
        return "failed"
    if not ack.ok:
        log.warning("gate %s: open %s (%s)", device.code, ack.status, ack.error)
    return ack.status


def note_delivered(session: Session) -> int:
    """Sweep: records whose gate command the outbox answered later (delivered after a restart,
    or when the gate came back) get the answer (``ok``/``failed``). Returns how many."""
    from app.domains.parking.models import ParkingTicket, PlateEvent

    noted = 0
    for model in (PlateEvent, ParkingTicket):
        rows = session.execute(select(model.id, DeviceCommand.status).join(
            DeviceCommand, DeviceCommand.request_id == model.gate_request_id).where(
            model.gate_request_id.is_not(None), DeviceCommand.status.in_(("delivered", "failed")))).all()
        for record_id, status in rows:
            session.execute(update(model).where(model.id == record_id).values(
                gate_status="ok" if status == "delivered" else "failed", gate_request_id=None))
        noted += len(rows)
    return noted
