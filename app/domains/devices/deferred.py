"""Device commands sent after the transaction that decided them has committed — durably.

The event inbox (``event_consumer._Inbox``) handles a batch of events in one transaction; a
handler that wants a device to act (a barrier gate's ``open``) must not wait for the device's
acknowledgement inside that transaction (one MQTT round trip per event would cap the rate at a
few dozen events per second), and must not command a device for a decision that is then rolled
back. So inside the inbox a handler calls ``command_after_commit``: it writes the command's
outbox row (``device_command``, the table the offline-device outbox uses) in the handler's
transaction, already claimed (``sending``) by this inbox, and the send runs after the commit
on a small thread pool (publish, wait for the ack); the outcome is then noted on the row (and
by the caller's ``on_result``) in a later transaction of the inbox.

A process that dies between the commit and the send (or before the outcome is noted) leaves
the row ``sending``, claimed by its inbox's owner id (the consumer's MQTT client id, fixed per
worker): when that consumer starts again it gives its claims back (``release_claims``) before
it connects, and the command is delivered once its device's state arrives, or by the sweep
(``resend_due``), which also takes over the claims of a process that never came back (older
than ``registry.CLAIM_EXPIRY_S``). A repeated delivery carries the same ``request_id``, which
the device acknowledges again without acting twice (see ``docs`` of the device protocol and
``connectors.simulators.devices``). A rolled-back batch drops its commands with the rows.

Outside the inbox (a web request, a test) ``command_after_commit`` returns None and the caller
sends at once, as before.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app import clock
from app.domains.devices.models import Device
from app.domains.estate.models import Community
from connectors.models import DeviceCommand

_KEY = "estateflow.deferred_commands"
_OWNER = "estateflow.deferred_owner"

#: the status a record shows between the commit and the device's acknowledgement
SENDING = "sending"


@dataclass
class Deferred:
    send: Callable[[], str]
    on_result: Callable[[Session, str], None] | None


def collect(session: Session, owner: str = "inbox") -> None:
    """Start collecting commands on ``session`` (the inbox does this per transaction); their
    outbox rows are claimed by ``owner``."""
    session.info[_KEY] = []
    session.info[_OWNER] = owner[:64]


def take(session: Session) -> list[Deferred]:
    """The commands collected (and stop collecting)."""
    session.info.pop(_OWNER, None)
    return session.info.pop(_KEY, None) or []


def command_after_commit(session: Session, device: Device, community_code: str, command: str, params: dict,
                         *, connector, timeout: float,
                         on_result: Callable[[Session, str], None] | None = None) -> str | None:
    """Inside the inbox: write ``command`` for ``device`` to the outbox in this transaction and
    send it after the commit; returns its request id (None outside the inbox: send it yourself).
    ``on_result(session, status)`` runs later with the device's answer (ok, failed, timeout, or
    queued when the device or the broker was away: the outbox then delivers it)."""
    pending = session.info.get(_KEY)
    if pending is None:
        return None
    now = clock.now()
    request_id = uuid.uuid4().hex
    session.add(DeviceCommand(request_id=request_id, community_id=device.community_id, device_id=device.id,
                              command=command, params=params, status="sending", attempts=0, created_at=now,
                              claimed_at=now, claimed_by=session.info[_OWNER]))
    address = device.address

    def send() -> str:
        return connector.send_command(community_code, address, command, params, timeout=timeout,
                                      request_id=request_id, stored=True).status

    def noted(s: Session, status: str) -> None:
        finish_command(s, request_id, status)
        if on_result is not None:
            on_result(s, status)

    pending.append(Deferred(send, noted))
    return request_id


def finish_command(session: Session, request_id: str, status: str) -> None:
    """Note a sent command's outcome on its outbox row (one UPDATE, no read): ok → delivered;
    queued (device or broker away) → pending again, for the outbox; otherwise failed."""
    row = DeviceCommand
    open_ = (row.request_id == request_id) & row.status.in_(("pending", "sending"))
    if status == "queued":
        values = {"status": "pending", "claimed_at": None, "claimed_by": None}
    else:
        values = {"status": "delivered" if status == "ok" else "failed", "done_at": clock.now(),
                  "attempts": row.attempts + 1, "error": None if status == "ok" else status[:500]}
    session.execute(update(row).where(open_).values(**values).execution_options(synchronize_session=False))


def release_claims(session: Session, owner: str) -> int:
    """At start: the commands this owner claimed in an earlier life (it died before their
    outcome was noted) go back to ``pending`` for the outbox. Nothing of this owner is in
    flight yet, so none is sent twice by it; the device drops a repeated request id."""
    result = session.execute(update(DeviceCommand).where(
        DeviceCommand.status == "sending", DeviceCommand.claimed_by == owner[:64])
        .values(status="pending", claimed_at=None, claimed_by=None).execution_options(synchronize_session=False))
    return result.rowcount or 0


def resend_due(session: Session) -> list[tuple[str, str]]:
    """``(community code, device address)`` of the devices with commands waiting in the outbox:
    pending ones, and those claimed longer than ``CLAIM_EXPIRY_S`` ago (their sender died)."""
    from app.domains.devices.registry import CLAIM_EXPIRY_S

    stale = clock.now() - timedelta(seconds=CLAIM_EXPIRY_S)
    return [tuple(r) for r in session.execute(
        select(Community.code, Device.address).distinct().select_from(DeviceCommand)
        .join(Device, Device.id == DeviceCommand.device_id).join(Community, Community.id == Device.community_id)
        .where(or_(DeviceCommand.status == "pending",
                   (DeviceCommand.status == "sending") & (DeviceCommand.claimed_at < stale))))]
