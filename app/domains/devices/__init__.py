"""Devices: the registry and everything between a device and the domains.

Owns device rows, their live state and error log, the command outbox and the one
process-wide MQTT command connector (``bus``), the device list import, the event consumer
and the inbound router. The router calls the handlers that domains register at discovery
(``app/domains/<d>/events.py``: ``INBOUND_HANDLERS``, ``SWEEPS``), so this domain never
imports a leaf domain. Protocol work (Modbus, MQTT, profiles, simulators) lives in
``connectors/``.

Offers: ``models.Device``, ``registry`` (find, apply events, read now), ``bus`` (send a command).
"""
