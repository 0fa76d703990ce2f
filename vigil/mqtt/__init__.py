"""MQTT: events, camera states and Home Assistant discovery on a broker; commands back."""

from vigil.mqtt.discovery import CameraDevice, DiscoveryMessage, discovery_messages
from vigil.mqtt.publisher import Command, CommandHandler, MqttPublisher
from vigil.mqtt.settings import MqttSettings
from vigil.mqtt.topics import Topics, slug

__all__ = [
    "CameraDevice",
    "Command",
    "CommandHandler",
    "DiscoveryMessage",
    "MqttPublisher",
    "MqttSettings",
    "Topics",
    "discovery_messages",
    "slug",
]
