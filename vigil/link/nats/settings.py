"""Settings of the bus between the application server and media nodes on other machines."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class BusSettings(BaseModel):
    """Where the bus is and who this process is on it. ``vigil serve`` does not use it."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        default="",
        description="the NATS server, e.g. nats://bus.example:4222 (vigil app and vigil node)",
    )
    password: SecretStr | None = Field(
        default=None,
        description="this process's bus password: the application's (vigil app) or the "
        "node's own (vigil node, whose bus user is node.name)",
    )
    tls_ca_file: Path | None = Field(
        default=None,
        description="speak TLS to the bus and trust the server certificate this CA signed "
        "(the bus carries camera credentials: use it on any network you do not own)",
    )
    tls_cert_file: Path | None = Field(
        default=None, description="vigil bus only: the server's certificate (PEM), for TLS"
    )
    tls_key_file: Path | None = Field(
        default=None, description="vigil bus only: the server's private key (PEM)"
    )
    call_timeout_seconds: float = Field(default=10.0, gt=0)
    heartbeat_seconds: float = Field(default=2.0, gt=0, description="a node says it is alive")
    node_dead_seconds: float = Field(
        default=15.0, gt=0, description="a node silent this long is taken for dead"
    )
    node_passwords: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="vigil bus only: each node's password, by node name",
    )
