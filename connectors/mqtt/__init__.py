"""MQTT devices: the platform's connection (commands with acks, routed events), topic
layout, the outbox for offline devices, and a broker for the demo."""
from connectors.mqtt.client import Ack, CommandRejected, MqttConnector
from connectors.mqtt.outbox import MemoryOutbox, Outbox, OutboxItem

__all__ = ["Ack", "CommandRejected", "MemoryOutbox", "MqttConnector", "Outbox", "OutboxItem"]
