"""The ``[mqtt]`` settings section: an optional broker for events and Home Assistant."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

# A topic level a subscriber can rely on: no wildcards, no empty levels.
TOPIC_PATTERN = r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$"


class MqttSettings(BaseModel):
    """Where the broker is and which topics Vigil uses on it."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    topic_prefix: str = Field(default="vigil", pattern=TOPIC_PATTERN)
    client_id: str = Field(default="vigil", min_length=1, max_length=64)
    discovery: bool = Field(default=True, description="announce cameras to Home Assistant")
    discovery_prefix: str = Field(default="homeassistant", pattern=TOPIC_PATTERN)
    keepalive_seconds: int = Field(default=60, ge=5, le=3600)
    queue_size: int = Field(
        default=1000, ge=1, description="messages held while the broker is away; more are dropped"
    )
    reconnect_min_seconds: float = Field(default=1.0, gt=0)
    reconnect_max_seconds: float = Field(default=30.0, gt=0)
