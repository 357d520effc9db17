"""The one inbound event router: device events become service calls and engine steps.

``build_router(session_factory)`` registers one handler per kind of event. Each handler runs
in its own short transaction on a fresh session (commit on success, rollback and log on
failure — the router counts the error and the consumer goes on), so one bad event never
takes others down with it.

=====================  ============================================================
event                  handler
=====================  ============================================================
``camera.alert``       security's ``alerts.handle_alert_event``: dedupe, group, start a process
``pressure.read``      security's ``hydrants.handle_pressure_event``: reading, alarm, work order
``entry`` (doors)      security's ``access_control.handle_door_event``: stored, searchable
anything else          ``devices.apply_event``: the device's last seen / last value
=====================  ============================================================

The handlers belong to the domains, not to this file: a domain's ``events.py`` defines
``INBOUND_HANDLERS = [("<event type or capability>", func(session, event)), ...]`` and is
picked up at discovery (security registers camera, hydrant and door handlers; parking its gate
``plate`` and charger ``session`` events), so ``devices`` never imports a leaf domain. A domain
may also define ``BATCH_PREPARE = [func(session, events)]``: the event inbox calls it with each
batch of events, in the batch's transaction, before the handlers (parking fetches the batch's
plates in one go).
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.orm import Session

from connectors.router import InboundEvent, InboundRouter

log = logging.getLogger("estateflow.inbound")

SessionHandler = Callable[[Session, InboundEvent], object]


def in_transaction(session_factory: Callable[[], Session], handler: SessionHandler) -> Callable[[InboundEvent], object]:
    """Wrap ``handler(session, event)`` into a router handler with its own transaction."""

    def run(event: InboundEvent):
        with session_factory() as session:
            try:
                result = handler(session, event)
                session.commit()
                return result
            except Exception:
                session.rollback()
                raise

    run.__name__ = getattr(handler, "__name__", "handler")
    run.__qualname__ = f"in_transaction({run.__name__})"
    return run


def domain_event_parts() -> list:
    """Each domain's ``events`` module (``INBOUND_HANDLERS``, ``SWEEPS``), found by discovery."""
    from app.platform.discovery import domain_parts

    return domain_parts("events")


class SessionRouter:
    """The same handlers as ``build_router``, run inside the caller's transaction: the event
    consumer runs every handler of one event and notes the event in the inbox in one
    transaction, so an event is handled completely once, or not at all (and retried)."""

    def __init__(self) -> None:
        self._inner = InboundRouter()
        self._prepare: list[Callable[[Session, list[InboundEvent]], object]] = []

    def register(self, key: str, handler: SessionHandler) -> None:
        self._inner.register(key, handler)

    def register_prepare(self, hook: Callable[[Session, list[InboundEvent]], object]) -> None:
        self._prepare.append(hook)

    def prepare(self, session: Session, events: list[InboundEvent]) -> None:
        """Let the domains fetch, in one go, what a batch of events will ask (a domain's
        ``BATCH_PREPARE``), in the batch's transaction, before any handler runs."""
        for hook in self._prepare:
            hook(session, events)

    def run(self, session: Session, event: InboundEvent) -> int:
        handlers = self._inner.handlers_for(event)
        for handler in handlers:
            handler(session, event)
        return len(handlers)


def build_session_router() -> SessionRouter:
    """Every domain's ``INBOUND_HANDLERS``; ``devices.apply_event`` for events no domain claims."""
    from app.domains.devices.registry import apply_event

    router = SessionRouter()
    handled: set[str] = set()
    for module in domain_event_parts():
        for key, handler in getattr(module, "INBOUND_HANDLERS", ()):
            router.register(key, handler)
            handled.add(key)
        for hook in getattr(module, "BATCH_PREPARE", ()):
            router.register_prepare(hook)

    def apply_other(session: Session, event: InboundEvent) -> None:
        if event.type in handled or event.capability in handled:
            return
        apply_event(session, event)

    router.register("*", apply_other)
    return router


def build_router(session_factory: Callable[[], Session]) -> InboundRouter:
    """Every domain's handlers, each in its own transaction; ``devices.apply_event`` for the rest.

    A domain handler notes the device itself (last seen, last value) in its own transaction,
    so the fallback skips the event types and capabilities that have one.
    """
    from app.domains.devices.registry import apply_event

    router = InboundRouter()
    handled: set[str] = set()
    for module in domain_event_parts():
        for key, handler in getattr(module, "INBOUND_HANDLERS", ()):
            router.register(key, in_transaction(session_factory, handler))
            handled.add(key)

    def apply_other(session: Session, event: InboundEvent) -> None:
        if event.type in handled or event.capability in handled:
            return
        apply_event(session, event)

    router.register("*", in_transaction(session_factory, apply_other))
    return router
