"""The device event consumer: one MQTT connection feeding the inbound router.

``run_consumer(stop_event)`` is what ``estateflow worker`` and the demo run in a thread:
it connects with a fixed client id and a persistent session (QoS 1: events published while
it was away are delivered when it is back), hands every validated event, in order, to the inbox
worker (``_Inbox``), which runs the domains' handlers (``inbound.build_session_router``) and
notes the event in ``device_inbox`` in one transaction (shared by the events waiting together),
and acknowledges the event to the broker only after that commit (a locked database is retried with backoff, never dropped; a
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
#: how long the outcomes of sent commands may wait to be noted together
RESULTS_DELAY_S = 0.5


def default_workers(session_factory: Callable[[], Session]) -> int:
    """Inbox lanes when the settings say nothing: SQLite has one writer at a time (parallel
    lanes would only wait for each other's lock), PostgreSQL takes several."""
    with session_factory() as s:
        return 1 if s.get_bind().dialect.name == "sqlite" else 4


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
    """Events (and refusals) from the MQTT network thread, stored and handled in order per
    device by the worker threads (lanes); each is acknowledged to the broker only after its
    transaction committed.

    The events waiting in the queue (up to ``batch_max``) are handled together in one
    transaction: one lookup of their keys in ``device_inbox``, every handler's writes and the
    inbox rows, one commit, then the acknowledgements in order. So an event is handled exactly
    once: a redelivered event whose key is known (in the table or earlier in the batch) is
    acknowledged and skipped. At a trickle a batch is one event; under a flood the commit (an
    fsync on SQLite) is shared by many. A handler that fails fails its batch: the batch is
    rolled back and its events are handled again one transaction each, so one bad event never
    takes the others down. A busy database (locked, lost connection) is retried with backoff,
    without limit and without acknowledging, so nothing is lost: what was not acknowledged the
    broker keeps (persistent session) and redelivers after a restart. An event its handlers fail
    on ``max_attempts`` times is a poison event: it goes to ``device_dead_letter`` (shown on the
    device page) and is acknowledged. Refusals are stored in ``device_rejected``.

    Device commands the handlers decide (``deferred.command_after_commit``) are written to the
    outbox in the event's transaction and sent after the commit on a small pool of sender
    threads; their outcomes are noted by the lane in a later transaction (grouped too), so no
    event waits for a device's round trip, and a command whose process died before it was sent
    is in the outbox for the next start (claims of ``owner``) or the sweep.

    ``workers`` lanes (``_Lane``), each a thread with its queue, share the work: a device's
    events always go to the same lane (given in turn on its first event), so one gate's reads are
    handled in the order they arrived while other gates' reads are handled in parallel. (Their
    acknowledgements may then reach the broker out of order across devices; Mosquitto matches
    them by packet id.)"""

    def __init__(self, session_factory: Callable[[], Session], router, *, max_attempts: int = 3,
                 backoff: tuple[float, float] = (0.05, 2.0), on_state=None, batch_max: int = 200,
                 senders: int = 16, workers: int = 1, owner: str = "inbox") -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.factory = session_factory
        self.router = router
        self.max_attempts = max_attempts
        self.on_state = on_state
        self.backoff = backoff
        self.batch_max = max(1, batch_max)
        self.owner = owner
        self._local = threading.local()
        self._counters: list = []
        self._counters_lock = threading.Lock()
        self._stopping = threading.Event()
        self._senders = ThreadPoolExecutor(max_workers=senders, thread_name_prefix="estateflow-cmd")
        self._lane_of: dict[tuple[str, str], int] = {}
        self._lanes = [_Lane(self, i) for i in range(max(1, workers))]

    @property
    def stats(self):
        """The counts of every lane (each thread counts in its own ``Counter``)."""
        from collections import Counter

        total: Counter[str] = Counter()
        with self._counters_lock:
            counters = list(self._counters)
        for counter in counters:
            total.update(dict(counter))
        return total

    def _count(self):
        counter = getattr(self._local, "counter", None)
        if counter is None:
            from collections import Counter

            counter = self._local.counter = Counter()
            with self._counters_lock:
                self._counters.append(counter)
        return counter

    def _lane(self, community: str, device: str) -> "_Lane":
        """The device's lane: given in turn to each device the first time it is heard from
        (two gates get two lanes; a hash could put both on one), then always the same."""
        if len(self._lanes) == 1:
            return self._lanes[0]
        key = (community, device)
        index = self._lane_of.get(key)
        if index is None:
            with self._counters_lock:
                index = self._lane_of.setdefault(key, len(self._lane_of) % len(self._lanes))
        return self._lanes[index]

    # called by the connector (network thread)
    def dispatch(self, event) -> None:
        self._lane(event.community, event.device).queue.put(("event", event))

    def refuse(self, refusal) -> None:
        self._lanes[0].queue.put(("refusal", refusal))  # rare: stored in the order they came

    def state(self, community: str, device: str, online: bool) -> None:
        self._lane(community, device).queue.put(("state", (community, device, online)))

    def _other(self, kind: str, obj) -> None:
        if kind == "state":
            if self.on_state is not None:
                self._with_retry(lambda o=obj: self.on_state(*o), None, "state")
            return
        if self._with_retry(lambda o=obj: self._store_refusal(o), obj, kind) and obj.ack is not None:
            obj.ack()

    def _events(self, lane: "_Lane", events: list) -> None:
        if len(events) > 1:
            done = self._batch_with_retry(lane, events)
            if done is None:
                return  # stopping while busy: not acknowledged, the broker keeps them
            if done:
                for event in events:
                    self._acknowledge(event)
                return
        for event in events:  # one event, or a batch that failed: one transaction each
            try:
                done = self._with_retry(lambda e=event: self._handle(lane, e), event, "event")
            except Exception:  # noqa: BLE001
                log.exception("inbox worker failed on %s", event.topic)
                done = False
            if done:
                self._acknowledge(event)

    def _acknowledge(self, event) -> None:
        self._count()["dispatched"] += 1
        ack = event.extra.get("ack")
        if ack is not None:
            ack()

    def _batch_with_retry(self, lane: "_Lane", events: list) -> bool | None:
        """True: stored; False: a handler failed (handle them one by one); None: stopping."""
        from app.db import is_transient_error

        delay, cap = self.backoff
        while True:
            try:
                self._handle_batch(lane, events)
                return True
            except Exception as exc:  # noqa: BLE001
                if not is_transient_error(exc):
                    self._count()["batch_fallbacks"] += 1
                    log.warning("a batch of %s events failed (%s: %s); handling them one by one", len(events),
                                type(exc).__name__, exc)
                    return False
                self._count()["busy_retries"] += 1
                if self._stopping.wait(delay):
                    return None
                delay = min(cap, delay * 2)

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
                    self._count()["busy_retries"] += 1
                    if self._stopping.wait(delay):
                        return False  # stopping: not acknowledged, the broker keeps it
                    delay = min(cap, delay * 2)
                    continue
                failures += 1
                self._count()["failed_attempts"] += 1  # retried; "handler_errors" counts events given up
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

    @staticmethod
    def _inbox_row(event):
        from app import clock
        from app.domains.devices.models import DeviceInbox

        return DeviceInbox(event_key=event.extra["key"], community=event.community[:60], device=event.device[:100],
                           type=event.type[:40], device_at=event.extra.get("at"), handled_at=clock.now())

    def _handle_batch(self, lane: "_Lane", events: list) -> None:
        from sqlalchemy import select

        from app.domains.devices import deferred
        from app.domains.devices.models import DeviceInbox

        keys = [k for k in (e.extra.get("key") for e in events) if k]
        handled = duplicates = 0
        with self.factory() as s:
            try:
                deferred.collect(s, self.owner)
                known = set(s.scalars(select(DeviceInbox.event_key).where(DeviceInbox.event_key.in_(keys)))) \
                    if keys else set()
                self._prepare(s, [e for e in events if not e.extra.get("key") or e.extra["key"] not in known])
                for event in events:
                    key = event.extra.get("key")
                    if key and key in known:
                        duplicates += 1
                        continue
                    self.router.run(s, event)
                    if key:
                        known.add(key)
                        s.add(self._inbox_row(event))
                    handled += 1
                s.commit()
            except Exception:
                s.rollback()
                deferred.take(s)
                raise
            commands = deferred.take(s)
        self._count()["handled"] += handled
        self._count()["duplicates"] += duplicates
        self._count()["batches"] += 1
        self._send(lane, commands)

    def _handle(self, lane: "_Lane", event) -> None:
        from sqlalchemy import select

        from app.domains.devices import deferred
        from app.domains.devices.models import DeviceInbox

        key = event.extra.get("key")
        with self.factory() as s:
            try:
                if key and s.scalar(select(DeviceInbox.id).where(DeviceInbox.event_key == key)) is not None:
                    self._count()["duplicates"] += 1
                    return
                deferred.collect(s, self.owner)
                self._prepare(s, [event])
                self.router.run(s, event)
                if key:
                    s.add(self._inbox_row(event))
                s.commit()
                self._count()["handled"] += 1
            except Exception:
                s.rollback()
                deferred.take(s)
                raise
            commands = deferred.take(s)
        self._send(lane, commands)

    def _prepare(self, session: Session, events: list) -> None:
        prepare = getattr(self.router, "prepare", None)
        if prepare is not None and events:
            prepare(session, events)

    # commands decided by the handlers, after their commit --------------------------------------
    def _send(self, lane: "_Lane", commands: list) -> None:
        for command in commands:
            self._count()["commands_sent"] += 1
            future = self._senders.submit(self._send_one, command.send)
            if command.on_result is not None:
                future.add_done_callback(lambda f, c=command: lane.queue.put(("result", (c.on_result, f.result()))))

    @staticmethod
    def _send_one(send) -> str:
        try:
            return send()
        except Exception as exc:  # noqa: BLE001 - the outcome is noted, the worker goes on
            log.warning("a deferred device command failed: %s", exc)
            return "failed"

    def _results(self, results: list) -> None:
        """Note the outcomes of sent commands, one transaction for all that are waiting."""

        def note() -> None:
            with self.factory() as s:
                try:
                    for on_result, status in results:
                        on_result(s, status)
                    s.commit()
                except Exception:
                    s.rollback()
                    raise

        self._with_retry(note, None, "result")
        self._count()["results_noted"] += len(results)

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
        self._count()["dead_letters"] += 1
        self._count()["handler_errors"] += 1
        log.error("event on %s moved to the dead letters after %s failures: %s", event.topic,
                  self.max_attempts, exc)

    def _store_refusal(self, refusal) -> None:
        from app.domains.devices.registry import record_rejection

        with self.factory() as s:
            record_rejection(s, refusal)
            s.commit()
        self._count()["refusals_stored"] += 1

    def close(self, timeout: float = 60.0) -> None:
        """Drain what is queued (a busy database stops the drain: the rest stays unacknowledged)."""
        import queue

        for lane in self._lanes:
            lane.queue.put(None)
        end = time.monotonic() + timeout
        for lane in self._lanes:
            lane.thread.join(max(0.0, end - time.monotonic()))
        self._stopping.set()
        for lane in self._lanes:
            lane.thread.join(5)
        self._senders.shutdown(wait=True)  # commands in flight end (each within its timeout) ...
        for lane in self._lanes:  # ... and the outcomes that came in after the lanes stopped are noted
            results = []
            while True:
                try:
                    item = lane.queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None and item[0] == "result":
                    results.append(item[1])
            if results and not lane.thread.is_alive():
                self._results(results)

    @property
    def backlog(self) -> int:
        return sum(lane.queue.qsize() for lane in self._lanes)


class _Lane:
    """One worker thread of the inbox and its queue: the events of the devices that hash to it,
    in order (a gate's reads are handled in the order the broker delivered them), and the
    outcomes of the commands it sent."""

    def __init__(self, inbox: _Inbox, index: int) -> None:
        import queue

        self.inbox = inbox
        self.queue: queue.Queue = queue.Queue()
        self._results_due: list = []
        self._results_since = 0.0
        self.thread = threading.Thread(target=self._run, name=f"estateflow-events-{index}", daemon=True)
        self.thread.start()

    def _take_batch(self) -> tuple[list, bool]:
        """The next item and whatever else is already waiting; True when the end was met.
        Outcomes of sent commands wait (``RESULTS_DELAY_S``) to be noted together, in a
        moment when no event waits: a commit for each would slow the events down."""
        import queue

        while True:
            if not self._results_due:
                first = self.queue.get()
                break
            wait = self._results_since + RESULTS_DELAY_S - time.monotonic()
            if wait <= 0:
                self._note_results()
                continue
            try:
                first = self.queue.get(timeout=wait)
                break
            except queue.Empty:
                self._note_results()
        if first is None:
            return [], True
        items = [first]
        while len(items) < self.inbox.batch_max:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return items, True
            items.append(item)
        return items, False

    def _run(self) -> None:
        inbox = self.inbox
        while True:
            items, end = self._take_batch()
            i = 0
            while i < len(items):  # runs of the same kind, in order
                kind = items[i][0]
                j = i
                while j < len(items) and items[j][0] == kind and kind in ("event", "result"):
                    j += 1
                if j == i:
                    j = i + 1
                run = [obj for _k, obj in items[i:j]]
                try:
                    if kind == "event":
                        inbox._events(self, run)
                    elif kind == "result":
                        if not self._results_due:
                            self._results_since = time.monotonic()
                        self._results_due.extend(run)
                        if len(self._results_due) >= inbox.batch_max:
                            self._note_results()
                    else:
                        inbox._other(kind, run[0])
                except Exception:  # noqa: BLE001 - the worker must survive anything
                    log.exception("inbox worker failed on a run of %s", kind)
                i = j
            if end:
                self._note_results()
                return

    def _note_results(self) -> None:
        results, self._results_due = self._results_due, []
        if results:
            self.inbox._results(results)


class EventConsumer:
    """Connector + router + periodic sweep; ``start()``/``stop()`` for tests and the worker."""

    def __init__(self, session_factory: Callable[[], Session], *, mqtt_url: str | None = None,
                 root: str = "estateflow", client_id: str = "estateflow-events", persistent: bool = True,
                 profile_refresh: float = 5.0, max_attempts: int = 3, workers: int | None = None) -> None:
        """Events are stored and handled by the inbox's workers (see ``_Inbox``; ``workers``
        lanes keyed by device, default ``settings.inbox_workers``) and acknowledged to the broker
        after their commit. This connection owns the process's command outbox; the commands its
        inbox sends after a commit are claimed in the outbox under ``client_id`` (see
        ``devices.deferred``)."""
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

        if workers is None:
            workers = get_settings().inbox_workers or default_workers(session_factory)
        self.client_id = client_id
        self.inbox = _Inbox(session_factory, self.router, max_attempts=max_attempts, on_state=write_state,
                            workers=workers, owner=client_id)

        def on_state(community: str, device: str, online: bool) -> None:
            # stored by the inbox worker: a busy database never blocks the network thread
            self.inbox.state(community, device, online)

        self.connector = MqttConnector(mqtt_url or get_settings().mqtt_url, client_id=client_id, root=root,
                                       router=self.inbox, profiles=self.profiles,
                                       outbox=SessionOutbox(session_factory), on_state=on_state,
                                       persistent=persistent, on_refused=self.inbox.refuse, manual_ack=True)
        bus.take_outbox(self.connector)

    @property
    def stats(self) -> dict[str, int]:
        return {**self.connector.stats, **{f"router_{k}": v for k, v in self.inbox.stats.items()}}

    def start(self, wait: float = 10.0) -> "EventConsumer":
        self.release_claims()  # before connecting: the devices' states then flush the outbox
        self.connector.start(wait)
        return self

    def release_claims(self) -> int:
        """Commands this consumer's inbox claimed before it last stopped (or died) and whose
        outcome it never noted go back to the outbox (``deferred.release_claims``)."""
        from app.domains.devices import deferred

        try:
            with self.session_factory() as s:
                released = deferred.release_claims(s, self.client_id)
                s.commit()
        except Exception:  # noqa: BLE001 - busy now: the sweep takes them over when the claims expire
            log.warning("could not give back this consumer's claimed commands now", exc_info=True)
            return 0
        if released:
            log.info("%s command(s) claimed before the last stop go back to the outbox", released)
        return released

    def resend_due(self) -> int:
        """Ask for a flush of every online device with commands waiting in the outbox."""
        from app.domains.devices import deferred

        with self.session_factory() as s:
            due = deferred.resend_due(s)
        return sum(1 for community, device in due if self.connector.flush_soon(community, device))

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

                from connectors.models import DeviceCommand

                cutoff = clock.now() - timedelta(days=INBOX_KEEP_DAYS)
                s.execute(delete(DeviceInbox).where(DeviceInbox.handled_at < cutoff))
                # every gate opening has an outbox row now: the answered ones are kept as long
                s.execute(delete(DeviceCommand).where(DeviceCommand.status.in_(("delivered", "failed")),
                                                      DeviceCommand.done_at < cutoff))
                s.commit()
            except Exception:  # noqa: BLE001 - busy now: the next sweep prunes
                s.rollback()
        try:
            self.resend_due()
        except Exception:  # noqa: BLE001 - busy now: the next sweep asks again
            log.warning("outbox sweep failed", exc_info=True)
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
