"""The platform's MQTT connection: commands out (with acknowledgement), events in.

One ``MqttConnector`` per process. It uses a fixed client id and a persistent session
(MQTT 3.1.1 ``clean_session=False``, QoS 1), so events published while it is disconnected, or
while the broker restarts with persistence, are delivered when it comes back. paho's network
thread reconnects with exponential backoff.

Inbound events are size-checked, parsed, validated against the device's profile (ISO-8601
timestamps included), given an ``extra['key']`` (the profile's event id, else a hash of topic
and payload) and ``extra['at']`` (the device's time, where the profile names it), and handed to
the one ``InboundRouter``. Refused messages (malformed, too large, unknown device or community,
a topic with extra levels) are counted, logged with their topic and passed to ``on_refused``;
they never stop the consumer. With ``manual_ack`` the broker's acknowledgement waits until the
receiver stored the event or the refusal.

Commands carry a ``request_id`` and wait for the device's ``ack``. A device whose retained
``state`` says offline (its last will) gets its command queued in the ``Outbox``; when its
state turns online the queue is delivered in order.
"""
from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt

from connectors.mqtt import topics as t
from connectors.mqtt.outbox import MemoryOutbox, Outbox, OutboxItem
from connectors.payload_schema import parse_datetime
from connectors.profiles import Profile
from connectors.router import InboundEvent, InboundRouter

log = logging.getLogger(__name__)

ProfileLookup = Callable[[str, str], Profile | None]

#: payloads larger than this are refused before parsing (a camera snapshot fits comfortably)
MAX_PAYLOAD_BYTES = 256 * 1024


def event_key(topic: str, payload_bytes: bytes, payload: dict, id_field: str | None,
              community: str, device: str, type_: str) -> str:
    """What recognises a redelivered event: the profile's event id, else topic + payload."""
    if id_field and payload.get(id_field) not in (None, ""):
        raw = f"id\0{community}\0{device}\0{type_}\0{payload[id_field]}".encode("utf-8", "replace")
    else:
        raw = b"tp\0" + topic.encode("utf-8", "replace") + b"\0" + payload_bytes
    return hashlib.sha256(raw).hexdigest()


@dataclass
class Refusal:
    """A device message the connector refused, and why (see ``on_refused``)."""

    community: str
    device: str
    topic: str
    reason: str
    excerpt: str
    size: int
    at: datetime
    ack: Callable[[], None] | None = None


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def parse_url(url: str) -> tuple[str, int, str | None, str | None]:
    u = urlparse(url if "://" in url else f"mqtt://{url}")
    return u.hostname or "127.0.0.1", u.port or 1883, u.username, u.password


@dataclass(frozen=True)
class Ack:
    """A device's answer to a command. ``status``: ok, failed, timeout or queued (offline)."""

    request_id: str
    status: str
    result: dict | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class CommandRejected(ValueError):
    """The command or its parameters do not match the device's profile."""


class _Waiter:
    __slots__ = ("event", "payload")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.payload: dict | None = None


def _ack_from(request_id: str, payload: dict) -> Ack:
    ok = bool(payload.get("ok"))
    return Ack(request_id, "ok" if ok else "failed", payload.get("result"),
               None if ok else str(payload.get("error") or "device refused"))


class MqttConnector:
    """Platform side of the device bus (see module docstring)."""

    def __init__(
        self,
        url: str = "mqtt://127.0.0.1:1883",
        *,
        client_id: str = "estateflow-connector",
        root: str = t.ROOT,
        router: InboundRouter | None = None,
        profiles: ProfileLookup | dict[str, Profile] | None = None,
        outbox: Outbox | None = None,
        on_state: Callable[[str, str, bool], None] | None = None,
        persistent: bool = True,
        keepalive: int = 20,
        reconnect_delay: tuple[int, int] = (1, 30),
        flush_timeout: float = 5.0,
        on_refused: Callable[[Refusal], None] | None = None,
        manual_ack: bool = False,
        owns_outbox: bool = True,
        max_payload: int = MAX_PAYLOAD_BYTES,
    ) -> None:
        """``manual_ack``: a QoS 1 event is acknowledged to the broker only when the receiver
        calls ``event.extra['ack']()`` (or ``refusal.ack()``), i.e. after it is stored; the
        broker redelivers what was not acknowledged. ``owns_outbox``: only the connection that
        owns the outbox flushes it when a device comes back (one per process; claims are atomic
        across processes). ``on_refused``: called with every refused message."""
        self.host, self.port, user, password = parse_url(url)
        self.root = root
        self.router = router or InboundRouter()
        if isinstance(profiles, dict):
            by_device = profiles
            self._profile_of: ProfileLookup = lambda _c, d: by_device.get(d)
        else:
            self._profile_of = profiles or (lambda _c, _d: None)
        self.outbox: Outbox = outbox if outbox is not None else MemoryOutbox()
        self.on_state = on_state
        self.on_refused = on_refused
        self.manual_ack = manual_ack
        self.owns_outbox = owns_outbox
        self.max_payload = max_payload
        self.client_id = client_id
        self._recent_acks: dict[str, None] = {}
        self.keepalive = keepalive
        self.flush_timeout = flush_timeout
        self.stats: Counter[str] = Counter()
        self.online: dict[tuple[str, str], bool] = {}
        self._flush_on_state: set[tuple[str, str]] = set()
        self._waiters: dict[str, _Waiter] = {}
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._sub_mid: int | None = None
        self._flush_q: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._flusher: threading.Thread | None = None
        self._stopping = False
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
            clean_session=not persistent, protocol=mqtt.MQTTv311, manual_ack=manual_ack,
        )
        if user:
            self.client.username_pw_set(user, password)
        self.client.reconnect_delay_set(*reconnect_delay)
        self.client.max_inflight_messages_set(100)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    # lifecycle -----------------------------------------------------------------------------
    def start(self, wait: float = 10.0) -> "MqttConnector":
        """Connect (in the background) and wait until subscribed; raise if it cannot."""
        self._flusher = threading.Thread(target=self._flush_loop, name="mqtt-outbox", daemon=True)
        self._flusher.start()
        self.client.connect_async(self.host, self.port, keepalive=self.keepalive)
        self.client.loop_start()
        if wait and not self._subscribed.wait(wait):
            self.stop()
            raise ConnectionError(f"MQTT broker at {self.host}:{self.port} not reachable")
        return self

    def stop(self) -> None:
        self._stopping = True
        self._flush_q.put(None)
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()
        if self._flusher:
            self._flusher.join(5)

    def __enter__(self) -> "MqttConnector":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._subscribed.wait(timeout)

    # paho callbacks (network thread) ---------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("MQTT connect refused: %s", reason_code)
            return
        self._connected.set()
        self.stats["connects"] += 1
        filters = [(t.subscription(k, self.root), 1) for k in ("event", "state", "ack")]
        filters.append((t.extra_levels(self.root), 1))  # topics with extra levels: refused, not unheard
        result, mid = client.subscribe(filters)
        self._sub_mid = mid

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if mid == self._sub_mid:
            self._subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        self._subscribed.clear()
        # commands queued while we were away go out when each device's state arrives again
        self._flush_on_state.update(key for key, online in self.online.items() if online)
        if not self._stopping:
            self.stats["disconnects"] += 1
            log.warning("MQTT disconnected (%s); paho reconnects with backoff", reason_code)

    def _acker(self, msg: mqtt.MQTTMessage) -> Callable[[], None]:
        mid, qos = msg.mid, msg.qos

        def ack() -> None:
            if qos:
                self.client.ack(mid, qos)
        return ack

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        handed_off = False
        try:
            parsed = t.parse_topic(msg.topic, self.root)
            if parsed is None:
                rest = msg.topic[len(self.root) + 1:].split("/") if msg.topic.startswith(self.root + "/") else []
                if len(rest) > 3 and rest[-1] != "cmd":
                    handed_off = self._malformed(msg, rest[0], rest[1], "topic has extra levels (expected "
                                                 f"{self.root}/<community>/<device>/<kind>)", "bad_topic")
                return
            community, device, kind = parsed
            if kind == "event":
                handed_off = self._handle_event(community, device, msg)
            elif kind == "ack":
                handed_off = bool(self._handle_ack(msg))
            elif kind == "state":
                handed_off = bool(self._handle_state(community, device, msg))
        except Exception:  # noqa: BLE001 - never let one message kill the consumer
            self.stats["errors"] += 1
            log.exception("error handling message on %s", msg.topic)
        finally:
            if self.manual_ack and not handed_off:
                self._acker(msg)()

    def _malformed(self, msg: mqtt.MQTTMessage, community: str, device: str, reason: str,
                   stat: str = "malformed") -> bool:
        """Count, log and report a refused message; True if the receiver took over its ack."""
        self.stats[stat] += 1
        log.warning("refused message on %s: %s", msg.topic, reason)
        if self.on_refused is None:
            return False
        raw = bytes(msg.payload[:200])
        refusal = Refusal(community, device, msg.topic, reason[:500], raw.decode("utf-8", "replace"),
                          len(msg.payload), _utcnow(), self._acker(msg) if self.manual_ack else None)
        self.on_refused(refusal)
        return self.manual_ack

    def _handle_event(self, community: str, device: str, msg: mqtt.MQTTMessage) -> bool:
        self.stats["received"] += 1
        if len(msg.payload) > self.max_payload:
            return self._malformed(msg, community, device,
                                   f"payload of {len(msg.payload)} bytes over the limit of {self.max_payload}",
                                   "too_large")
        try:
            payload = json.loads(msg.payload)
        except (ValueError, UnicodeDecodeError) as exc:
            return self._malformed(msg, community, device, f"not JSON: {exc}")
        if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
            return self._malformed(msg, community, device, "expected a JSON object with a string 'type'")
        profile = self._profile_of(community, device)
        if profile is None:
            return self._malformed(msg, community, device,
                                   f"unknown device {device!r} in community {community!r}", "unknown_device")
        spec = profile.events.get(payload["type"])
        if spec is None:
            return self._malformed(msg, community, device,
                                   f"event type {payload['type']!r} not in profile {profile.name}")
        problems = spec.schema.errors(payload)
        if problems:
            return self._malformed(msg, community, device, "; ".join(problems))
        extra: dict[str, Any] = {"key": event_key(msg.topic, msg.payload, payload, spec.event_id,
                                                  community, device, payload["type"])}
        if spec.timestamp:
            extra["at"] = parse_datetime(payload.get(spec.timestamp))
        if self.manual_ack:
            extra["ack"] = self._acker(msg)
        event = InboundEvent(community, device, payload["type"], payload, profile.name,
                             spec.capability, _utcnow(), msg.topic, extra)
        self.router.dispatch(event)
        self.stats["routed"] += 1
        return self.manual_ack

    def _handle_ack(self, msg: mqtt.MQTTMessage) -> bool | None:
        try:
            payload = json.loads(msg.payload)
            request_id = payload["request_id"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            return self._malformed(msg, "", "", f"bad ack: {exc}")
        with self._lock:
            if request_id in self._recent_acks:  # a device repeated its ack: once is enough
                self.stats["duplicate_acks"] += 1
                return
            self._recent_acks[request_id] = None
            if len(self._recent_acks) > 10_000:
                self._recent_acks.pop(next(iter(self._recent_acks)))
            waiter = self._waiters.get(request_id)
        if waiter is None:
            self.stats["late_acks"] += 1
            # an ack for a queued command that nobody waits for any more still closes it
            self.outbox.delivered(request_id, bool(payload.get("ok")), payload.get("result"),
                                  payload.get("error"))
            return
        waiter.payload = payload
        waiter.event.set()

    def _handle_state(self, community: str, device: str, msg: mqtt.MQTTMessage) -> bool | None:
        raw = msg.payload.decode("utf-8", "replace").strip()
        if not raw:  # retained state cleared
            return
        try:
            data = json.loads(raw) if raw.startswith("{") else {"online": raw == "online"}
            online = bool(data.get("online"))
        except (ValueError, AttributeError):
            return self._malformed(msg, community, device, "bad state payload")
        key = (community, device)
        was = self.online.get(key)
        self.online[key] = online
        if self.on_state:
            try:
                self.on_state(community, device, online)
            except Exception:  # noqa: BLE001
                log.exception("on_state hook failed for %s/%s", community, device)
        if online and (was is not True or key in self._flush_on_state) and self.owns_outbox:
            self._flush_on_state.discard(key)
            self._flush_q.put(key)

    # commands -----------------------------------------------------------------------------------
    def is_online(self, community: str, device: str) -> bool | None:
        """True/False from the device's retained state; None if it never reported."""
        return self.online.get((community, device))

    def _check(self, community: str, device: str, command: str, params: dict) -> None:
        profile = self._profile_of(community, device)
        if profile is None:
            return
        spec = profile.commands.get(command)
        if spec is None:
            raise CommandRejected(f"{profile.name} has no command {command!r} "
                                  f"(known: {', '.join(profile.commands) or 'none'})")
        problems = spec.params.errors(params)
        if problems:
            raise CommandRejected(f"{command}: " + "; ".join(problems))

    def _publish_and_wait(self, item: OutboxItem, timeout: float) -> Ack:
        waiter = _Waiter()
        with self._lock:
            self._waiters[item.request_id] = waiter
        try:
            body = json.dumps({"request_id": item.request_id, "command": item.command,
                               "params": item.params}, ensure_ascii=False)
            self.client.publish(t.topic(item.community, item.device, "cmd", self.root), body, qos=1)
            if not waiter.event.wait(timeout):
                return Ack(item.request_id, "timeout", error=f"no ack within {timeout}s")
            return _ack_from(item.request_id, waiter.payload or {})
        finally:
            with self._lock:
                self._waiters.pop(item.request_id, None)

    def send_command(self, community: str, device: str, command: str,
                     params: dict[str, Any] | None = None, timeout: float = 5.0,
                     request_id: str | None = None, stored: bool = False) -> Ack:
        """Send a command and wait for its ack; an offline device gets it queued (status
        ``queued``) and delivered when it comes back online. ``stored``: the command is in the
        outbox already (``request_id`` is its row, claimed by the caller), so it is not added
        again; on ``queued`` the caller gives the row back to the outbox."""
        params = dict(params or {})
        self._check(community, device, command, params)
        item = OutboxItem(request_id or uuid.uuid4().hex, community, device, command, params)
        broker_away = not self.connected
        if broker_away or self.is_online(community, device) is False:
            # the device is offline, or the broker is (restarting): the outbox keeps the command
            if not stored:
                self.outbox.add(item)
            self.stats["queued"] += 1
            if broker_away:
                return Ack(item.request_id, "queued", error="broker unreachable; queued for delivery")
            # it may have come back between our check and the add: flush to be safe
            if self.is_online(community, device) and self.owns_outbox:
                self._flush_q.put((community, device))
            return Ack(item.request_id, "queued", error="device offline; queued for delivery")
        self.stats["commands"] += 1
        return self._publish_and_wait(item, timeout)

    def flush_soon(self, community: str, device: str) -> bool:
        """Deliver the device's queued commands in the background (the outbox owner only, and
        only while the device is online); True if a flush was asked for."""
        if not self.owns_outbox or self._stopping or not self.is_online(community, device):
            return False
        self._flush_q.put((community, device))
        return True

    def _flush_loop(self) -> None:
        while True:
            key = self._flush_q.get()
            if key is None:
                return
            try:
                self.flush(*key)
            except Exception:  # noqa: BLE001 - keep the flusher alive
                log.exception("outbox flush failed for %s/%s", *key)

    def flush(self, community: str, device: str) -> int:
        """Deliver queued commands to a device in order; stops at the first unanswered one.
        Each command is claimed first (atomically, see ``Outbox.claim``): a command another
        connection or process claimed is not sent again."""
        sent = 0
        claim = getattr(self.outbox, "claim", None)
        for item in self.outbox.pending(community, device):
            if self._stopping or self.is_online(community, device) is False:
                break
            if claim is not None and not claim(item.request_id, self.client_id):
                self.stats["outbox_claimed_elsewhere"] += 1
                break
            ack = self._publish_and_wait(item, self.flush_timeout)
            if ack.status == "timeout":
                self.outbox.attempted(item.request_id, ack.error or "timeout")
                break
            self.outbox.delivered(item.request_id, ack.ok, ack.result, ack.error)
            self.stats["delivered_from_outbox"] += 1
            sent += 1
        return sent
