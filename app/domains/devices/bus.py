"""One MQTT connection per process for sending device commands, with a durable outbox.

Web views (the device page's test buttons), door access (dunning suspension, resident
credentials) and engine operations send commands through this module. The connector
is started lazily on first use with the database-backed outbox; the worker, or a test
with its own topic root, installs one with ``use_connector``.
"""
from __future__ import annotations

import threading
import uuid

from sqlalchemy.orm import Session, sessionmaker

from app.domains.devices.models import Device
from app.domains.devices.registry import SessionOutbox, mqtt_profile_lookup, profile_of
from app.domains.estate.models import Community
from app.settings import get_settings
from connectors.mqtt.client import Ack, MqttConnector

_lock = threading.Lock()
_connector: MqttConnector | None = None
_outbox_owner: MqttConnector | None = None


def take_outbox(connector: MqttConnector) -> None:
    """Make ``connector`` the one connection of this process that flushes the command outbox
    when a device comes back (the event consumer does this); every other connection only
    queues. Other processes are kept apart by the atomic claim of each command."""
    global _outbox_owner
    with _lock:
        if _outbox_owner is not None and _outbox_owner is not connector:
            _outbox_owner.owns_outbox = False
        if _connector is not None and _connector is not connector:
            _connector.owns_outbox = False
        connector.owns_outbox = True
        _outbox_owner = connector


def release_outbox(connector: MqttConnector) -> None:
    global _outbox_owner
    with _lock:
        if _outbox_owner is connector:
            _outbox_owner = None
            if _connector is not None and _connector is not connector and _connector.connected:
                _connector.owns_outbox = True


def use_connector(connector: MqttConnector | None) -> None:
    """Install the process's connector (the worker at start-up; tests with their topic root)."""
    global _connector
    with _lock:
        _connector = connector


def connector_for(session: Session) -> MqttConnector:
    """The installed connector, else one started lazily against the configured broker."""
    global _connector
    with _lock:
        if _connector is None or not _connector.connected:
            factory = sessionmaker(session.get_bind(), expire_on_commit=False)
            _connector = MqttConnector(
                get_settings().mqtt_url, client_id=f"estateflow-cmd-{uuid.uuid4().hex[:8]}",
                profiles=mqtt_profile_lookup(session), outbox=SessionOutbox(factory), persistent=False,
                owns_outbox=_outbox_owner is None or not _outbox_owner.connected,
            ).start()
        return _connector


def command(session: Session, device: Device, capability: str, params: dict | None = None,
            timeout: float = 5.0) -> Ack:
    """Send the command behind ``capability`` to ``device`` and wait for its ack."""
    spec = profile_of(device).command_for(capability)
    if spec is None:
        raise ValueError(f"{device.profile} does not support {capability}")
    community = session.get(Community, device.community_id)
    return connector_for(session).send_command(community.code, device.address, spec.name, params or {},
                                               timeout=timeout)


def stop_all() -> None:
    use_connector(None)
