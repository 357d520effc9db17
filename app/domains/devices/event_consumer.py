"""The device event consumer: one MQTT connection feeding the inbound router.

``run_consumer(stop_event)`` is what ``estateflow worker`` and the demo run in a thread:
it connects with a fixed client id and a persistent session (QoS 1: events published while
it was away are delivered when it is back), hands every validated event, in order, to the inbox
worker (``_Inbox``), which runs the domains' handlers (``inbound.build_session_router``) and
notes the event in ``device_inbox`` in one transaction, and acknowledges the event to the
broker only after that commit (a locked database is retried with backoff, never dropped; a
poison event goes to ``device_dead_letter``); it keeps device online/offline state, and every
``sweep_seconds`` looks for hydrant alarms that became due (low for long enough, silent sensors).

Malformed events are refused by the connector (counted in ``stats['malformed']``, logged
with their topic) and stored with their reason in ``device_rejected``, unknown devices too.
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

#: how long a handled event's key is kept to recognise redeliveries
INBOX_KEEP_DAYS = 7


class RefreshingProfiles:
    """``(community, device) -> Profile`` from the device table; reloaded when a device is
    unknown and the table has changed since the last load (a cheap count/max-id probe, at most
    every ``probe_interval`` seconds), or at most every ``min_interval`` seconds regardless — so a
    device registered a moment ago is heard from its first message, and a flood of messages from
    unknown devices costs one small query per probe interval, not a reload each."""

    def __init__(self, session_factory: Callable[[], Session], min_interval: float = 5.0,
                 probe_interval: float = 0.05):
        self._factory = session_factory
        self._min_interval = min_interval
        self._probe_interval = probe_interval
        self._lookup: Callable[[str, str], Profile | None] = lambda _c, _d: None
        self._loaded = 0.0
        self._probed = 0.0
        self._signature: tuple | None = None
        self._lock = threading.Lock()
        self.reload()

    def _table_signature(self, session: Session) -> tuple:
        from sqlalchemy import func, select

        from app.domains.devices.models import Device

        return tuple(session.execute(select(func.count(Device.id), func.max(Device.id),
                                            func.max(Device.profile))).one())

    def reload(self) -> None:
        from app.domains.devices.registry import mqtt_profile_lookup

        with self._factory() as s:
            self._signature = self._table_signature(s)
            self._lookup = mqtt_profile_lookup(s)
        self._loaded = self._probed = time.monotonic()

    def _changed(self) -> bool:
        with self._factory() as s:
            return self._table_signature(s) != self._signature

    def __call__(self, community: str, device: str) -> Profile | None:
        found = self._lookup(community, device)
        if found is not None:
            return found
        now = time.monotonic()
        if now - self._probed < self._probe_interval and now - self._loaded < self._min_interval:
            return None
        with self._lock:
            try:
                now = time.monotonic()
                if now - self._loaded >= self._min_interval or self._changed():
                    self.reload()
                else:
                    self._probed = now
            except Exception:  # noqa: BLE001 - busy database: keep the table we have
                self._loaded = self._probed = time.monotonic()
                log.warning("device table not readable now; profiles not reloaded", exc_info=True)
        return self._lookup(community, device)


class _Inbox:
    """Events (and refusals) from the MQTT network thread, stored and handled in order by one
    worker thread; each is acknowledged to the broker only after its transaction committed.

    One event = one transaction: the inbox row (``device_inbox``, keyed by the profile's event
    id or a hash of topic and payload) and every handler's writes commit together, so an event
    is handled exactly once: a redelivered event whose key is known is acknowledged and skipped.
    A busy database (locked, lost connection) is retried with backoff, without limit and
    without acknowledging, so nothing is lost: what was not acknowledged the broker keeps
    (persistent session) and redelivers after a restart. An event its handlers fail on
    ``max_attempts`` times is a poison event: it goes to ``device_dead_letter`` (shown on the
    device page) and is acknowledged. Refusals are stored in ``device_rejected``."""

    def __init__(self, session_factory: Callable[[], Session], router, *, max_attempts: int = 3,
                 backoff: tuple[float, float] = (0.05, 2.0), on_state=None) -> None:
        import queue
        from collections import Counter

        self.factory = session_factory
        self.router = router
        self.max_attempts = max_attempts
        self.on_state = on_state
        self.backoff = backoff
        self.queue: queue.Queue = queue.Queue()
        self.stats: Counter[str] = Counter()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="estateflow-events", daemon=True)
        self._thread.start()

    # called by the connector (network thread)
    def dispatch(self, event) -> None:
        self.queue.put(("event", event))

    def refuse(self, refusal) -> None:
        self.queue.put(("refusal", refusal))

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            kind, obj = item
            if kind == "state":
                if self.on_state is not None:
                    self._with_retry(lambda o=obj: self.on_state(*o), None, "state")
                continue
            try:
                work = self._store_refusal if kind == "refusal" else self._handle
                done = self._with_retry(lambda w=work, o=obj: w(o), obj, kind)
            except Exception:  # noqa: BLE001 - the worker must survive anything
                log.exception("inbox worker failed on %s", getattr(obj, "topic", obj))
                done = False
            if done:
                if kind == "event":
                    self.stats["dispatched"] += 1
                ack = obj.ack if kind == "refusal" else obj.extra.get("ack")
                if ack is not None:
                    ack()

    def _with_retry(self, work, obj, kind: str) -> bool:
        from app.db import is_transient_error

        delay, cap = self.backoff
        failures = 0
        while True:
            try:
                work()
                return True
            except Exception as exc:  # noqa: BLE001
                if is_transient_error(exc):
                    self.stats["busy_retries"] += 1
                    if self._stopping.wait(delay):
                        return False  # stopping: not acknowledged, the broker keeps it
                    delay = min(cap, delay * 2)
                    continue
                failures += 1
                self.stats["failed_attempts"] += 1  # retried; "handler_errors" counts events given up
                log.exception("handling %s on %s failed (%s/%s)", kind, getattr(obj, "topic", "?"),
                              failures, self.max_attempts)
                if failures >= self.max_attempts:
                    if kind != "event":
                        return True  # a refusal that cannot be stored is logged above
                    work = lambda err=exc: self._dead_letter(obj, err)  # noqa: E731
                    failures = -10 ** 6  # storing the dead letter is retried while busy
                    continue
                if self._stopping.wait(0.05 * failures):
                    return False

    def _handle(self, event) -> None:
        from sqlalchemy import select

        from app import clock
        from app.domains.devices.models import DeviceInbox

        key = event.extra.get("key")
        with self.factory() as s:
            try:
                if key and s.scalar(select(DeviceInbox.id).where(DeviceInbox.event_key == key)) is not None:
                    self.stats["duplicates"] += 1
                    return
                self.router.run(s, event)
                if key:
                    s.add(DeviceInbox(event_key=key, community=event.community[:60], device=event.device[:100],
                                      type=event.type[:40], device_at=event.extra.get("at"),
                                      handled_at=clock.now()))
                s.commit()
                self.stats["handled"] += 1
            except Exception:
                s.rollback()
                raise

    def _dead_letter(self, event, exc: BaseException) -> None:
        from sqlalchemy import select

        from app import clock
        from app.domains.devices.models import DeviceDeadLetter, DeviceInbox
        from app.domains.devices.registry import find_mqtt_device

        with self.factory() as s:
            device = find_mqtt_device(s, event.community, event.device)
            key = event.extra.get("key") or ""
            payload = {k: v for k, v in event.payload.items() if k != "snapshot"}
            s.add(DeviceDeadLetter(event_key=key, community=event.community[:60], device=event.device[:100],
                                   device_id=device.id if device else None, topic=event.topic[:300],
                                   type=event.type[:40], payload=payload,
                                   error=f"{type(exc).__name__}: {exc}"[:500], attempts=self.max_attempts,
                                   at=clock.now()))
            if key and s.scalar(select(DeviceInbox.id).where(DeviceInbox.event_key == key)) is None:
                s.add(DeviceInbox(event_key=key, community=event.community[:60], device=event.device[:100],
                                  type=event.type[:40], device_at=event.extra.get("at"), handled_at=clock.now()))
            s.commit()
        self.stats["dead_letters"] += 1
        self.stats["handler_errors"] += 1
        log.error("event on %s moved to the dead letters after %s failures: %s", event.topic,
                  self.max_attempts, exc)

    def _store_refusal(self, refusal) -> None:
        from app.domains.devices.registry import record_rejection

        with self.factory() as s:
            record_rejection(s, refusal)
            s.commit()
        self.stats["refusals_stored"] += 1

    def close(self, timeout: float = 60.0) -> None:
        """Drain what is queued (a busy database stops the drain: the rest stays unacknowledged)."""
        self.queue.put(None)
        self._thread.join(timeout)
        self._stopping.set()
        self._thread.join(5)

    @property
    def backlog(self) -> int:
        return self.queue.qsize()


class EventConsumer:
    """Connector + router + periodic sweep; ``start()``/``stop()`` for tests and the worker."""

    def __init__(self, session_factory: Callable[[], Session], *, mqtt_url: str | None = None,
                 root: str = "estateflow", client_id: str = "estateflow-events", persistent: bool = True,
                 profile_refresh: float = 5.0, max_attempts: int = 3) -> None:
        """Events are stored and handled by the inbox worker (see ``_Inbox``) and acknowledged
        to the broker after their commit. This connection owns the process's command outbox."""
        from app.domains.devices import bus
        from app.domains.devices.inbound import build_session_router
        from app.domains.devices.registry import SessionOutbox, set_online
        from app.settings import get_settings

        self.session_factory = session_factory
        self.router = build_session_router()
        self.profiles = RefreshingProfiles(session_factory, profile_refresh)

        def write_state(community: str, device: str, online: bool) -> None:
            with session_factory() as s:
                set_online(s, community, device, online)
                s.commit()

        self.inbox = _Inbox(session_factory, self.router, max_attempts=max_attempts, on_state=write_state)

        def on_state(community: str, device: str, online: bool) -> None:
            # stored by the inbox worker: a busy database never blocks the network thread
            self.inbox.queue.put(("state", (community, device, online)))

        self.connector = MqttConnector(mqtt_url or get_settings().mqtt_url, client_id=client_id, root=root,
                                       router=self.inbox, profiles=self.profiles,
                                       outbox=SessionOutbox(session_factory), on_state=on_state,
                                       persistent=persistent, on_refused=self.inbox.refuse, manual_ack=True)
        bus.take_outbox(self.connector)

    @property
    def stats(self) -> dict[str, int]:
        return {**self.connector.stats, **{f"router_{k}": v for k, v in self.inbox.stats.items()}}

    def start(self, wait: float = 10.0) -> "EventConsumer":
        self.connector.start(wait)
        return self

    def stop(self) -> None:
        from app.domains.devices import bus

        bus.release_outbox(self.connector)
        self.inbox.close()  # drain and acknowledge first, then disconnect
        self.connector.stop()

    def sweep(self) -> int:
        """Periodic checks that no event triggers (silent sensors, alarms that became due):
        every domain's ``events.SWEEPS``, each in its own transaction."""
        from app.domains.devices.inbound import domain_event_parts

        opened = 0
        with self.session_factory() as s:  # the inbox ledger only needs to outlive redeliveries
            try:
                from datetime import timedelta

                from sqlalchemy import delete

                from app import clock
                from app.domains.devices.models import DeviceInbox

                s.execute(delete(DeviceInbox).where(DeviceInbox.handled_at < clock.now() - timedelta(days=INBOX_KEEP_DAYS)))
                s.commit()
            except Exception:  # noqa: BLE001 - busy now: the next sweep prunes
                s.rollback()
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
