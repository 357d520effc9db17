"""The device event consumer: one MQTT connection feeding the inbound router.

``run_consumer(stop_event)`` is what ``estateflow worker`` and the demo run in a thread:
it connects with a fixed client id and a persistent session (QoS 1: events published while
it was away are delivered when it is back), hands every validated event (through an in-order handoff queue, so bursts
never pile up in the broker) to the router built by ``app.domains.devices.inbound.build_router``
(each handler commits its own short transaction), keeps device online/offline state, and every ``sweep_seconds`` looks for
hydrant alarms that became due (low for long enough, silent sensors).

Malformed events are refused by the connector (counted in ``stats['malformed']``, logged
with their topic); events of devices the platform does not know are counted and logged too.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from connectors.mqtt.client import MqttConnector
from connectors.profiles import Profile

log = logging.getLogger("estateflow.events")


class RefreshingProfiles:
    """``(community, device) -> Profile`` from the device table; reloaded when a device is
    unknown (at most every ``min_interval`` seconds), so devices added later are heard."""

    def __init__(self, session_factory: Callable[[], Session], min_interval: float = 5.0):
        self._factory = session_factory
        self._min_interval = min_interval
        self._lookup: Callable[[str, str], Profile | None] = lambda _c, _d: None
        self._loaded = 0.0
        self._lock = threading.Lock()
        self.reload()

    def reload(self) -> None:
        from app.domains.devices.registry import mqtt_profile_lookup

        with self._factory() as s:
            self._lookup = mqtt_profile_lookup(s)
        self._loaded = time.monotonic()

    def __call__(self, community: str, device: str) -> Profile | None:
        found = self._lookup(community, device)
        if found is None and time.monotonic() - self._loaded >= self._min_interval:
            with self._lock:
                if time.monotonic() - self._loaded >= self._min_interval:
                    self.reload()
            found = self._lookup(community, device)
        return found


class _Handoff:
    """Takes events from the MQTT network thread and hands them, in order, to a worker thread
    that runs the router. The broker gets its acknowledgement at once, so a burst never piles
    up in the broker's per-client queue (Mosquitto drops beyond ``max_queued_messages``,
    1000 by default); the price: events received but not yet handled are lost if the process
    dies hard (a graceful stop drains the queue first)."""

    def __init__(self, router) -> None:
        import queue

        self.router = router
        self.queue: queue.Queue = queue.Queue()
        self.stats = router.stats
        self._thread = threading.Thread(target=self._run, name="estateflow-events", daemon=True)
        self._thread.start()

    def dispatch(self, event) -> None:
        self.queue.put(event)

    def _run(self) -> None:
        while True:
            event = self.queue.get()
            if event is None:
                return
            try:
                self.router.dispatch(event)
            except Exception:  # noqa: BLE001 - the router already logs handler errors
                log.exception("dispatch failed")

    def close(self, timeout: float = 60.0) -> None:
        self.queue.put(None)
        self._thread.join(timeout)

    @property
    def backlog(self) -> int:
        return self.queue.qsize()


class EventConsumer:
    """Connector + router + periodic sweep; ``start()``/``stop()`` for tests and the worker."""

    def __init__(self, session_factory: Callable[[], Session], *, mqtt_url: str | None = None,
                 root: str = "estateflow", client_id: str = "estateflow-events", persistent: bool = True,
                 profile_refresh: float = 5.0, buffered: bool = True) -> None:
        """``buffered``: hand events to a worker thread (see ``_Handoff``); ``False`` runs the
        handlers on the network thread, so the broker's acknowledgement waits for the commit
        (strict at-least-once; needs a broker queue deep enough for bursts, as in deploy/)."""
        from app.domains.devices.inbound import build_router
        from app.domains.devices.registry import SessionOutbox, set_online
        from app.settings import get_settings

        self.session_factory = session_factory
        self.router = build_router(session_factory)
        self.profiles = RefreshingProfiles(session_factory, profile_refresh)

        def on_state(community: str, device: str, online: bool) -> None:
            with session_factory() as s:
                set_online(s, community, device, online)
                s.commit()

        self.handoff = _Handoff(self.router) if buffered else None
        self.connector = MqttConnector(mqtt_url or get_settings().mqtt_url, client_id=client_id, root=root,
                                       router=self.handoff or self.router, profiles=self.profiles,
                                       outbox=SessionOutbox(session_factory), on_state=on_state,
                                       persistent=persistent)

    @property
    def stats(self) -> dict[str, int]:
        return {**self.connector.stats, **{f"router_{k}": v for k, v in self.router.stats.items()}}

    def start(self, wait: float = 10.0) -> "EventConsumer":
        self.connector.start(wait)
        return self

    def stop(self) -> None:
        self.connector.stop()
        if self.handoff is not None:
            self.handoff.close()

    def sweep(self) -> int:
        """Periodic checks that no event triggers (silent sensors, alarms that became due):
        every domain's ``events.SWEEPS``, each in its own transaction."""
        from app.domains.devices.inbound import domain_event_parts

        opened = 0
        for module in domain_event_parts():
            for sweep in getattr(module, "SWEEPS", ()):
                with self.session_factory() as s:
                    try:
                        opened += sweep(s)
                        s.commit()
                    except Exception:
                        s.rollback()
                        log.exception("sweep %s failed", getattr(sweep, "__qualname__", sweep))
        return opened


def run_consumer(stop_event: threading.Event, *, database_url: str | None = None, mqtt_url: str | None = None,
                 root: str = "estateflow", client_id: str = "estateflow-events", sweep_seconds: float = 30.0,
                 retry_seconds: float = 5.0) -> None:
    """Consume device events until ``stop_event`` is set (reconnects by itself)."""
    from app.settings import get_settings

    engine = create_engine(database_url or get_settings().database_url, pool_pre_ping=True)
    factory = sessionmaker(engine, expire_on_commit=False)
    consumer = None
    try:
        while not stop_event.is_set():
            try:
                consumer = EventConsumer(factory, mqtt_url=mqtt_url, root=root, client_id=client_id).start()
                break
            except (ConnectionError, OSError) as exc:
                log.warning("event consumer cannot reach the broker (%s); retrying in %ss", exc, retry_seconds)
                stop_event.wait(retry_seconds)
        if consumer is None:
            return
        log.info("consuming device events from %s (root %s)", consumer.connector.host, root)
        while not stop_event.wait(sweep_seconds):
            consumer.sweep()
    finally:
        if consumer is not None:
            consumer.stop()
            log.info("event consumer stopped: %s", dict(consumer.stats))
        engine.dispose()
