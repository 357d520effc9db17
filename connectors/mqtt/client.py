"""The platform's MQTT connection: commands out (with acknowledgement), events in.

One ``MqttConnector`` per process. It uses a fixed client id and a persistent session
(MQTT 3.1.1 ``clean_session=False``, QoS 1), so events published while it is disconnected, or
while the broker restarts with persistence, are delivered when it comes back. paho's network
thread reconnects with exponential backoff.

Inbound events are parsed, validated against the device's profile and handed to the one
``InboundRouter``. Malformed payloads are counted (``stats['malformed']``) and logged with
their topic; they never stop the consumer.

Commands carry a ``request_id`` and wait for the device's ``ack``. A device whose retained
``state`` says offline (its last will) gets its command queued in the ``Outbox``; when its
state turns online the queue is delivered in order.
"""
from __future__ import annotations

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
from connectors.profiles import Profile
from connectors.router import InboundEvent, InboundRouter

log = logging.getLogger(__name__)

ProfileLookup = Callable[[str, str], Profile | None]


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
    ) -> None:
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
        self.keepalive = keepalive
        self.flush_timeout = flush_timeout
        self.stats: Counter[str] = Counter()
        self.online: dict[tuple[str, str], bool] = {}
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
            clean_session=not persistent, protocol=mqtt.MQTTv311,
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
        result, mid = client.subscribe([(t.subscription(k, self.root), 1) for k in ("event", "state", "ack")])
        self._sub_mid = mid

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if mid == self._sub_mid:
            self._subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        self._subscribed.clear()
        if not self._stopping:
            self.stats["disconnects"] += 1
            log.warning("MQTT disconnected (%s); paho reconnects with backoff", reason_code)

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        try:
            parsed = t.parse_topic(msg.topic, self.root)
            if parsed is None:
                return
            community, device, kind = parsed
            if kind == "event":
                self._handle_event(community, device, msg)
            elif kind == "ack":
                self._handle_ack(msg)
            elif kind == "state":
                self._handle_state(community, device, msg)
        except Exception:  # noqa: BLE001 - never let one message kill the consumer
            self.stats["errors"] += 1
            log.exception("error handling message on %s", msg.topic)

    def _malformed(self, topic: str, reason: str) -> None:
        self.stats["malformed"] += 1
        log.warning("malformed payload on %s: %s", topic, reason)

    def _handle_event(self, community: str, device: str, msg: mqtt.MQTTMessage) -> None:
        self.stats["received"] += 1
        try:
            payload = json.loads(msg.payload)
        except (ValueError, UnicodeDecodeError) as exc:
            return self._malformed(msg.topic, f"not JSON: {exc}")
        if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
            return self._malformed(msg.topic, "expected a JSON object with a string 'type'")
        profile = self._profile_of(community, device)
        if profile is None:
            self.stats["unknown_device"] += 1
            log.warning("event from unknown device %s/%s on %s", community, device, msg.topic)
            return
        spec = profile.events.get(payload["type"])
        if spec is None:
            return self._malformed(msg.topic, f"event type {payload['type']!r} not in profile {profile.name}")
        problems = spec.schema.errors(payload)
        if problems:
            return self._malformed(msg.topic, "; ".join(problems))
        event = InboundEvent(community, device, payload["type"], payload, profile.name,
                             spec.capability, _utcnow(), msg.topic)
        self.router.dispatch(event)
        self.stats["routed"] += 1

    def _handle_ack(self, msg: mqtt.MQTTMessage) -> None:
        try:
            payload = json.loads(msg.payload)
            request_id = payload["request_id"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            return self._malformed(msg.topic, f"bad ack: {exc}")
        with self._lock:
            waiter = self._waiters.get(request_id)
        if waiter is None:
            self.stats["late_acks"] += 1
            # an ack for a queued command that nobody waits for any more still closes it
            self.outbox.delivered(request_id, bool(payload.get("ok")), payload.get("result"),
                                  payload.get("error"))
            return
        waiter.payload = payload
        waiter.event.set()

    def _handle_state(self, community: str, device: str, msg: mqtt.MQTTMessage) -> None:
        raw = msg.payload.decode("utf-8", "replace").strip()
        if not raw:  # retained state cleared
            return
        try:
            data = json.loads(raw) if raw.startswith("{") else {"online": raw == "online"}
            online = bool(data.get("online"))
        except (ValueError, AttributeError):
            return self._malformed(msg.topic, "bad state payload")
        key = (community, device)
        was = self.online.get(key)
        self.online[key] = online
        if self.on_state:
            try:
                self.on_state(community, device, online)
            except Exception:  # noqa: BLE001
                log.exception("on_state hook failed for %s/%s", community, device)
        if online and was is not True:
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
                     request_id: str | None = None) -> Ack:
        """Send a command and wait for its ack; an offline device gets it queued (status
        ``queued``) and delivered when it comes back online."""
        params = dict(params or {})
        self._check(community, device, command, params)
        item = OutboxItem(request_id or uuid.uuid4().hex, community, device, command, params)
        if self.is_online(community, device) is False:
            self.outbox.add(item)
            self.stats["queued"] += 1
            # it may have come back between our check and the add: flush to be safe
            if self.is_online(community, device):
                self._flush_q.put((community, device))
            return Ack(item.request_id, "queued", error="device offline; queued for delivery")
        self.stats["commands"] += 1
        return self._publish_and_wait(item, timeout)

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
        """Deliver queued commands to a device in order; stops at the first unanswered one."""
        sent = 0
        for item in self.outbox.pending(community, device):
            if self._stopping or self.is_online(community, device) is False:
                break
            ack = self._publish_and_wait(item, self.flush_timeout)
            if ack.status == "timeout":
                self.outbox.attempted(item.request_id, ack.error or "timeout")
                break
            self.outbox.delivered(item.request_id, ack.ok, ack.result, ack.error)
            self.stats["delivered_from_outbox"] += 1
            sent += 1
        return sent
