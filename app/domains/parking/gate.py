"""``gate.open`` to a barrier gate over MQTT, through the devices command bus.

An online gate must acknowledge within the timeout (status ``ok``; ``failed``/``timeout``
otherwise, for the guard to see). A gate whose retained state says offline gets the command
written to the durable outbox (``device_command``) in the caller's transaction: it is
delivered when the gate is back, and the status ``queued`` is shown to the guard.

Inside the device event inbox (a plate read) the command is not awaited in the read's
transaction: it goes out right after the commit (``devices.deferred``), the record shows
``sending`` until the gate's acknowledgement, and ``on_status`` then notes the outcome.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from sqlalchemy.orm import Session

from app.domains.devices import deferred
from app.domains.devices.bus import connector_for
from app.domains.devices.models import Device
from app.domains.devices.registry import enqueue_command, log_device_error, profile_of
from app.domains.devices.tx_cache import per_transaction
from app.domains.estate.models import Community

log = logging.getLogger("estateflow.parking.gate")

#: how long a gate may take to acknowledge ``open`` before the guard is told
OPEN_TIMEOUT_S = 3.0


def open_gate(session: Session, device: Device | None, *, reason: str, plate: str | None = None,
              timeout: float = OPEN_TIMEOUT_S, on_status: Callable[[Session, str], None] | None = None) -> str:
    """Open ``device``; returns ok, queued, failed, timeout (or ``no_gate``), or ``sending``
    when the command waits for the commit (``on_status`` is then called with the outcome)."""
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
            enqueue_command(session, device, spec.name, params, uuid.uuid4().hex)
            log.info("gate %s offline: open for %s queued", device.code, plate or "-")
            return "queued"
        if on_status is not None:
            code, address, name = community.code, device.address, spec.name
            gate_code = device.code

            def send() -> str:
                ack = connector.send_command(code, address, name, params, timeout=timeout)
                if not ack.ok:
                    log.warning("gate %s: open %s (%s)", gate_code, ack.status, ack.error)
                return ack.status

            if deferred.defer(session, send, on_status):
                return deferred.SENDING
        ack = connector.send_command(community.code, device.address, spec.name, params, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - broker down: the guard sees it, the event still counts
        log.warning("gate %s: open failed: %s", device.code, exc)
        log_device_error(session, device, "command", f"gate.open: {exc}")
        return "failed"
    if not ack.ok:
        log.warning("gate %s: open %s (%s)", device.code, ack.status, ack.error)
    return ack.status
