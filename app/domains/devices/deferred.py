"""Device commands sent after the transaction that decided them has committed.

The event inbox (``event_consumer._Inbox``) handles a batch of events in one transaction; a
handler that wants a device to act (a barrier gate's ``open``) must not wait for the device's
acknowledgement inside that transaction (one MQTT round trip per event would cap the rate at a
few dozen events per second), and must not command a device for a decision that is then rolled
back. So inside the inbox a handler calls ``defer(session, send, on_result)``: ``send`` runs
after the commit on a small thread pool (it publishes and waits for the ack), and
``on_result(session, status)`` is then run by the inbox worker in a later transaction to note
the outcome (``ok``, ``failed``, ``timeout``...). A rolled-back batch drops its commands.

Outside the inbox (a web request, a test) ``defer`` returns False and the caller sends at once,
as before. A process that dies between the commit and the publish loses that command: the
record says ``sending`` and the guard can open by hand (an offline device's command, in
contrast, is written to the durable outbox in the transaction itself).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

_KEY = "estateflow.deferred_commands"

#: the status a record shows between the commit and the device's acknowledgement
SENDING = "sending"


@dataclass
class Deferred:
    send: Callable[[], str]
    on_result: Callable[[Session, str], None] | None


def collect(session: Session) -> None:
    """Start collecting commands on ``session`` (the inbox does this per transaction)."""
    session.info[_KEY] = []


def defer(session: Session, send: Callable[[], str],
          on_result: Callable[[Session, str], None] | None = None) -> bool:
    """Queue ``send`` for after the commit when the session collects commands; else False."""
    pending = session.info.get(_KEY)
    if pending is None:
        return False
    pending.append(Deferred(send, on_result))
    return True


def take(session: Session) -> list[Deferred]:
    """The commands collected (and stop collecting)."""
    return session.info.pop(_KEY, None) or []
