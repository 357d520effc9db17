"""One MQTT connection per process for sending device commands, with a durable outbox.

Web views (the device page's test buttons) and engine operations (door suspension,
gate opening) send commands through ``command(...)``; the connector is started lazily
on first use with the database-backed outbox, so a command to an offline device waits
in ``device_command`` and is delivered when the device comes back.
"""
from __future__ import annotations

import os
import threading

from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from app.models import Community, Device
from app.services.devices import SessionOutbox, mqtt_profile_lookup, profile_of
from app.settings import get_settings
from connectors.mqtt.client import Ack, MqttConnector

_lock = threading.Lock()
_connectors: dict[str, MqttConnector] = {}


def _connector(database_url: str) -> MqttConnector:
    with _lock:
        connector = _connectors.get(database_url)
        if connector is None or not connector.connected:
            engine = create_engine(database_url)
            factory = sessionmaker(engine, expire_on_commit=False)
            with factory() as s:
                profiles = mqtt_profile_lookup(s)
            connector = MqttConnector(
                get_settings().mqtt_url, client_id=f"estateflow-cmd-{os.getpid()}-{id(factory)}",
                profiles=profiles, outbox=SessionOutbox(factory), persistent=False,
            ).start()
            _connectors[database_url] = connector
        return connector


def command(session: Session, device: Device, capability: str, params: dict | None = None,
            timeout: float = 5.0) -> Ack:
    """Send the command behind ``capability`` to ``device`` and wait for its ack."""
    spec = profile_of(device).command_for(capability)
    if spec is None:
        raise ValueError(f"{device.profile} does not support {capability}")
    community = session.get(Community, device.community_id)
    url = session.get_bind().url.render_as_string(hide_password=False)
    return _connector(url).send_command(community.code, device.address, spec.name, params or {}, timeout=timeout)


def stop_all() -> None:
    with _lock:
        for connector in _connectors.values():
            connector.stop()
        _connectors.clear()
