"""Simulated MQTT devices: doors, barrier gates, AI cameras, hydrant sensors, EV chargers.

Each is a real MQTT client with its own connection: it sets a last will (retained
``{"online": false}`` on its ``state`` topic), announces itself online (retained), answers
commands on ``cmd`` with an ``ack`` and publishes events on ``event``.
"""
from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import datetime, timezone
from typing import Any

import paho.mqtt.client as mqtt

from connectors.mqtt import topics as t
from connectors.mqtt.client import parse_url

log = logging.getLogger(__name__)

# a 1x1 PNG: enough to prove the snapshot path without shipping images
TINY_PNG = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4"
            "DwABBAEAcCBlCwAAAABJRU5ErkJggg==")


def _iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


class SimulatedDevice:
    """Base class: connection, will, online state, command dispatch to ``cmd_<name>``."""

    profile = ""

    def __init__(self, community: str, device: str, url: str = "mqtt://127.0.0.1:1883", *,
                 root: str = t.ROOT) -> None:
        self.community, self.device, self.root = community, device, root
        self.host, self.port, user, password = parse_url(url)
        self.commands: list[dict] = []
        self._done: dict[str, dict] = {}  # request id -> the ack sent: repeated requests are not re-run
        self._done_lock = threading.Lock()
        self.duplicates = 0
        self._ready = threading.Event()
        self._client: mqtt.Client | None = None
        self._user = (user, password)

    def _topic(self, kind: str) -> str:
        return t.topic(self.community, self.device, kind, self.root)

    def _new_client(self) -> mqtt.Client:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                        client_id=f"sim-{uuid.uuid4().hex[:12]}", protocol=mqtt.MQTTv311)
        if self._user[0]:
            c.username_pw_set(*self._user)
        c.will_set(self._topic("state"), json.dumps({"online": False}), qos=1, retain=True)
        c.reconnect_delay_set(1, 10)
        c.on_connect = self._on_connect
        c.on_subscribe = self._on_subscribe
        c.on_message = self._on_message
        return c

    def start(self, wait: float = 10.0) -> "SimulatedDevice":
        self._ready.clear()
        self._client = self._new_client()
        self._client.connect_async(self.host, self.port, keepalive=10)
        self._client.loop_start()
        if wait and not self._ready.wait(wait):
            raise ConnectionError(f"simulated {self.device} could not reach {self.host}:{self.port}")
        return self

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            return
        client.subscribe(self._topic("cmd"), qos=1)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        info = client.publish(self._topic("state"), json.dumps({"online": True}), qos=1, retain=True)
        self._ready.set()
        del info

    def stop(self) -> None:
        """Go offline cleanly (publishes the offline state, like a graceful shutdown)."""
        if not self._client:
            return
        self._client.publish(self._topic("state"), json.dumps({"online": False}), qos=1,
                             retain=True).wait_for_publish(5)
        self._client.disconnect()
        self._client.loop_stop()
        self._client = None

    def kill(self) -> None:
        """Drop off the network without a goodbye: the broker publishes our last will."""
        if not self._client:
            return
        client, self._client = self._client, None
        client.loop_stop()
        sock = client.socket()
        if sock is not None:
            sock.close()

    def _on_message(self, client, userdata, msg) -> None:
        try:
            body = json.loads(msg.payload)
            request_id = body["request_id"]
            command = body["command"]
            params = body.get("params") or {}
        except (ValueError, KeyError, TypeError):
            log.warning("simulated %s: bad command on %s", self.device, msg.topic)
            return
        with self._done_lock:
            repeated = self._done.get(request_id)
        if repeated is not None:  # a redelivered command: answer again, never execute twice
            self.duplicates += 1
            client.publish(self._topic("ack"), json.dumps(repeated, ensure_ascii=False), qos=1)
            return
        self.commands.append(body)
        handler = getattr(self, f"cmd_{command}", None)
        if handler is None:
            ack = {"request_id": request_id, "ok": False, "error": f"unknown command {command}"}
        else:
            try:
                ack = {"request_id": request_id, "ok": True, "result": handler(**params) or {}}
            except Exception as exc:  # noqa: BLE001 - a refused command is an ack with ok=false
                ack = {"request_id": request_id, "ok": False, "error": str(exc)}
        with self._done_lock:
            self._done[request_id] = ack
            if len(self._done) > 1000:
                self._done.pop(next(iter(self._done)))
        client.publish(self._topic("ack"), json.dumps(ack, ensure_ascii=False), qos=1)

    def publish_event(self, type: str, wait: bool = True, **fields: Any) -> None:
        if not self._client:
            raise RuntimeError(f"simulated {self.device} is not started")
        payload = {"type": type, "at": _iso(), **fields}
        info = self._client.publish(self._topic("event"), json.dumps(payload, ensure_ascii=False), qos=1)
        if wait:
            info.wait_for_publish(5)


class SimulatedDoor(SimulatedDevice):
    """A unit door controller: keeps a credential list, honours grant/suspend/restore."""

    profile = "door_controller"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.credentials: dict[str, str] = {}  # credential -> active | suspended

    def cmd_grant(self, credential: str, kind: str = "card", valid_until: str | None = None) -> dict:
        self.credentials[credential] = "active"
        return {"credential": credential, "status": "active"}

    def cmd_suspend(self, credential: str, reason: str | None = None) -> dict:
        if credential not in self.credentials:
            raise ValueError(f"unknown credential {credential}")
        self.credentials[credential] = "suspended"
        return {"credential": credential, "status": "suspended"}

    def cmd_restore(self, credential: str) -> dict:
        if credential not in self.credentials:
            raise ValueError(f"unknown credential {credential}")
        self.credentials[credential] = "active"
        return {"credential": credential, "status": "active"}

    def present(self, credential: str, method: str = "card") -> bool:
        granted = self.credentials.get(credential) == "active"
        self.publish_event("entry", credential=credential, method=method, granted=granted)
        return granted


class SimulatedGate(SimulatedDevice):
    """A barrier gate with a plate camera; opens for known plates or on command."""

    profile = "barrier_gate"

    def __init__(self, *args, plates: set[str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.plates = set(plates or ())
        self.opened = 0
        self.inside: set[str] = set()  # the scenario runner's cars in the lot

    def cmd_open(self, reason: str | None = None, plate: str | None = None) -> dict:
        self.opened += 1
        return {"opened": True}

    def vehicle(self, plate: str, direction: str = "in", confidence: float = 0.97) -> bool:
        opened = plate in self.plates
        self.opened += opened
        self.publish_event("plate", plate=plate, direction=direction, confidence=confidence,
                           opened=opened)
        return opened


class SimulatedCamera(SimulatedDevice):
    """An AI camera emitting alerts with a tiny base64 snapshot."""

    profile = "ai_camera"

    def alert(self, kind: str = "thrown_object", confidence: float = 0.9, zone: str = "") -> None:
        self.publish_event("alert", kind=kind, confidence=confidence, snapshot=TINY_PNG,
                           zone=zone or "courtyard")


class SimulatedHydrant(SimulatedDevice):
    """A hydrant pressure sensor; normal 0.3 MPa, ``drop()`` simulates a leak or a closed valve."""

    profile = "hydrant_pressure_sensor"

    def __init__(self, *args, mpa: float = 0.32, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.mpa = mpa

    def report(self, mpa: float | None = None) -> None:
        if mpa is not None:
            self.mpa = mpa
        self.publish_event("pressure", mpa=round(self.mpa, 3), battery=87)

    def drop(self, to: float = 0.05) -> None:
        self.report(to)


class SimulatedCharger(SimulatedDevice):
    """An AC charger (7 kW): start/stop sessions by command, energy reports while charging,
    stops by itself at ``max_kwh`` or when the battery is full (``full()``), reports a fault."""

    profile = "ev_charger"

    def __init__(self, *args, kw: float = 7.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.session: str | None = None
        self.kwh = 0.0
        self.kw = kw
        self.max_kwh: float | None = None

    def cmd_start(self, session_id: str, max_kwh: float | None = None) -> dict:
        if self.session:
            raise ValueError(f"busy with session {self.session}")
        self.session, self.kwh, self.max_kwh = session_id, 0.0, max_kwh
        self.publish_event("session", wait=False, session_id=session_id, status="started", kwh=0.0)
        return {"session_id": session_id, "status": "started"}

    def cmd_stop(self, session_id: str) -> dict:
        if self.session != session_id:
            raise ValueError(f"no session {session_id}")
        self.session = None
        self.publish_event("session", wait=False, session_id=session_id, status="stopped",
                           kwh=round(self.kwh, 2))
        return {"session_id": session_id, "status": "stopped", "kwh": round(self.kwh, 2)}

    def tick(self, hours: float = 0.1) -> None:
        if not self.session:
            return
        self.kwh += self.kw * hours
        if self.max_kwh is not None and self.kwh >= self.max_kwh:
            self.kwh = self.max_kwh
            self.full()
            return
        self.publish_event("session", session_id=self.session, status="charging", kwh=round(self.kwh, 2))

    def full(self) -> None:
        """The battery is full (or the session's limit reached): the charger stops by itself."""
        if self.session:
            session, self.session = self.session, None
            self.publish_event("session", session_id=session, status="stopped", kwh=round(self.kwh, 2))

    def fault(self) -> None:
        if self.session:
            session, self.session = self.session, None
            self.publish_event("session", session_id=session, status="fault", kwh=round(self.kwh, 2))


SIMULATORS = {cls.profile: cls for cls in (SimulatedDoor, SimulatedGate, SimulatedCamera,
                                            SimulatedHydrant, SimulatedCharger)}
