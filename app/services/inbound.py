"""The one inbound event router: device events become service calls and engine steps.

``build_router(session_factory)`` registers one handler per kind of event. Each handler runs
in its own short transaction on a fresh session (commit on success, rollback and log on
failure — the router counts the error and the consumer goes on), so one bad event never
takes others down with it.

=====================  ============================================================
event                  handler
=====================  ============================================================
``camera.alert``       ``alerts.handle_alert_event``: dedupe, group, start a process
``pressure.read``      ``hydrants.handle_pressure_event``: reading, alarm, work order
``entry`` (doors)      ``access_control.handle_door_event``: stored, searchable
anything else          ``devices.apply_event``: the device's last seen / last value
=====================  ============================================================

Other modules add handlers without editing this file: a service module named
``app/services/<something>_events.py`` that defines
``INBOUND_HANDLERS = [("<event type or capability>", func(session, event)), ...]`` is picked
up automatically (e.g. parking's gate ``plate`` events, energy's charger ``session`` events).
"""
from __future__ import annotations

import importlib
import logging
import pkgutil
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


def _apply_other(session: Session, event: InboundEvent) -> None:
    from app.services.devices import apply_event

    if event.capability in ("camera.alert", "pressure.read") or event.type == "entry":
        return  # their handlers note the device themselves, in the same transaction
    apply_event(session, event)


def build_router(session_factory: Callable[[], Session]) -> InboundRouter:
    from app.services import access_control, alerts, hydrants

    router = InboundRouter()
    router.register("camera.alert", in_transaction(session_factory, alerts.handle_alert_event))
    router.register("pressure.read", in_transaction(session_factory, hydrants.handle_pressure_event))
    router.register("entry", in_transaction(session_factory, access_control.handle_door_event))
    router.register("*", in_transaction(session_factory, _apply_other))
    import app.services as services

    for info in sorted(pkgutil.iter_modules(services.__path__), key=lambda i: i.name):
        if not info.name.endswith("_events"):
            continue
        module = importlib.import_module(f"app.services.{info.name}")
        for key, handler in getattr(module, "INBOUND_HANDLERS", ()):
            router.register(key, in_transaction(session_factory, handler))
    return router
