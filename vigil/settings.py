"""Settings: one TOML file plus ``VIGIL_*`` environment overrides; unknown keys are errors."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from vigil.library.storage import StorageSettings
from vigil.link.nats.settings import BusSettings
from vigil.mqtt.settings import MqttSettings


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="reverse proxies (addresses or networks) whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed; none by default",
    )


class DatabaseSettings(Section):
    url: str = Field(
        default="", description="SQLAlchemy URL; empty means SQLite in the data folder"
    )


class NodeSettings(Section):
    """The media node: how it runs ffmpeg and where recordings go."""

    name: str = Field(
        default="local",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="the node's name: on the bus, in the database, in logs",
    )
    ffmpeg: str = Field(default="", description="ffmpeg binary; empty: PATH, else imageio-ffmpeg")
    max_cameras: int = Field(
        default=64, ge=1, description="the most cameras failover moves to this node (vigil node)"
    )
    recordings_dir: Path | None = None
    rtsp_transport: str = Field(default="tcp", pattern="^(tcp|udp)$")
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    stall_timeout_seconds: float = Field(default=15.0, gt=0)
    reconnect_min_seconds: float = Field(default=1.0, gt=0)
    reconnect_max_seconds: float = Field(default=30.0, gt=0)
    outbox_retry_seconds: float = Field(default=2.0, gt=0)
    live: Literal["on_demand", "always"] = Field(
        default="on_demand",
        description="live view of a recorded camera's main stream: a live-only ffmpeg (a "
        "second camera connection, stream copy) started by the first viewer and stopped 10 s "
        "after the last, so that recording costs what bare ffmpeg does; or written always "
        "by the recording ffmpeg too (one connection, about 9 % more ffmpeg CPU a camera)",
    )
    sub_streams: Literal["on_demand", "always"] = Field(
        default="on_demand",
        description="a camera's sub stream (for live grids): started by its first viewer and "
        "stopped 10 s after the last, or kept running so that grids play at once (one more "
        "camera connection and stream-copy ffmpeg per camera with a sub_url)",
    )
    max_transcodes: int = Field(
        default=2,
        ge=0,
        le=64,
        description="live views converted to H.264 at once, for browsers that cannot play "
        "a camera's codec (H.265): each costs about half a core at 1080p; 0: none",
    )
    detector: str = Field(
        default="ssd", description="object detector: ssd, hog, onnx or remote (see docs)"
    )
    detector_options: dict[str, Any] = Field(
        default_factory=dict, description="the detector's options, e.g. model and labels"
    )
    detector_workers: int = Field(default=2, ge=1, le=64, description="detector processes")


class RetentionSettings(Section):
    interval_seconds: float = Field(default=60.0, gt=0)
    min_free_bytes: int = Field(
        default=1 << 30, ge=0, description="delete oldest footage while free space is below this"
    )


class CameraDefaults(Section):
    segment_seconds: float = Field(default=10.0, ge=1, le=600)
    retention_days: float | None = Field(default=None, gt=0)
    event_retention_days: float | None = Field(
        default=30.0, gt=0, description="footage around events and the events themselves"
    )


class LibrarySettings(Section):
    """The media library: where its files go, how big an upload may be, how long
    unfinished uploads wait to be resumed."""

    storage: StorageSettings = Field(default_factory=StorageSettings)
    max_upload_bytes: int = Field(default=20 << 30, gt=0, description="largest single upload")
    upload_expiry_hours: float = Field(
        default=24, gt=0, description="an unfinished upload is deleted after this long"
    )
    housekeeping_minutes: float = Field(
        default=60, gt=0, description="usage samples, lifecycle moves, expired uploads"
    )


class AuthSettings(Section):
    """Sign-in, sessions, throttling and signed media links."""

    session_idle_minutes: float = Field(
        default=720, gt=0, description="a session unused this long ends"
    )
    session_max_hours: float = Field(
        default=168, gt=0, description="a session ends this long after sign-in, used or not"
    )
    secure_cookies: str = Field(
        default="auto",
        pattern="^(auto|always|never)$",
        description="auto: Secure cookies when the request came over HTTPS",
    )
    min_password_length: int = Field(default=10, ge=8, le=128)
    free_login_failures: int = Field(
        default=5, ge=1, description="failed sign-ins per account before the first lockout"
    )
    free_address_failures: int = Field(
        default=20, ge=1, description="failed sign-ins per address before the first lockout"
    )
    lockout_base_seconds: float = Field(
        default=2.0, gt=0, description="first lockout; each further failure doubles it"
    )
    lockout_max_seconds: float = Field(default=900.0, gt=0)
    guesses_per_minute: int = Field(
        default=300,
        ge=1,
        description="passwords and codes the whole server checks per minute, from anyone",
    )
    media_link_seconds: int = Field(
        default=900, ge=10, le=86_400, description="how long a signed media URL works"
    )
    invitation_hours: float = Field(default=168, gt=0)


class Settings(BaseSettings):
    """All of Vigil's settings. Sections mirror the TOML tables."""

    model_config = SettingsConfigDict(
        env_prefix="VIGIL_", env_nested_delimiter="__", extra="forbid", toml_file=None
    )

    data_dir: Path = Path("vigil-data")
    secret_key: str = Field(default="", description="key for secrets at rest; empty: a key file")
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    node: NodeSettings = NodeSettings()
    retention: RetentionSettings = RetentionSettings()
    cameras: CameraDefaults = CameraDefaults()
    auth: AuthSettings = AuthSettings()
    mqtt: MqttSettings = MqttSettings()
    library: LibrarySettings = LibrarySettings()
    bus: BusSettings = BusSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [env_settings, init_settings]
        toml_file = settings_cls.model_config.get("toml_file")
        if toml_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite+aiosqlite:///{self.data_dir / 'vigil.db'}"

    @property
    def recordings_dir(self) -> Path:
        return self.node.recordings_dir or self.data_dir / "recordings"

    @property
    def state_dir(self) -> Path:
        return self.data_dir / "state"


class ConfigError(Exception):
    """A settings file or environment value is wrong; ``problems`` names each key."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read settings from ``path`` (TOML) and the environment; raise ConfigError on any problem."""
    source = str(path) if path else "environment"
    if path is not None:
        if not path.is_file():
            raise ConfigError(source, [f"no such file: {path}"])
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(source, [f"not valid TOML: {exc}"]) from exc

    class FileSettings(Settings):
        model_config = SettingsConfigDict(toml_file=path)

    try:
        return FileSettings(**overrides) if path else Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(part) for part in err["loc"]) or "(root)"
            problems.append(f"{key}: {err['msg']}")
        raise ConfigError(source, problems) from exc
