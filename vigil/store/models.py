"""Database models (SQLAlchemy 2, typed). Times are integer epoch milliseconds, UTC."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Camera(Base):
    __tablename__ = "cameras"
    # Ids are never reused (AUTOINCREMENT on SQLite), so nothing in flight for a deleted
    # camera can land on a new one; names are unique regardless of case.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    main_url: Mapped[str] = mapped_column(String(2000))
    sub_url: Mapped[str | None] = mapped_column(String(2000))
    username: Mapped[str | None] = mapped_column(String(200))
    # Fernet token of the password: never stored, returned or logged in clear.
    password_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    recording: Mapped[bool] = mapped_column(Boolean, default=True)
    segment_seconds: Mapped[float] = mapped_column(Float, default=10.0)
    retention_days: Mapped[float | None] = mapped_column(Float)
    retention_max_bytes: Mapped[int | None] = mapped_column(BigInteger)
    node: Mapped[str] = mapped_column(String(100), default="local")
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


Index("uq_cameras_name_lower", func.lower(Camera.name), unique=True)


class Segment(Base):
    """One recorded file: a few seconds of one camera, stream-copied."""

    __tablename__ = "segments"
    __table_args__ = (
        Index("ix_segments_camera_start", "camera_id", "start_ms"),
        Index("ix_segments_start", "start_ms"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    node: Mapped[str] = mapped_column(String(100))
    # Storage key relative to the node's recordings folder; unique per node.
    path: Mapped[str] = mapped_column(String(500), unique=True)
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(BigInteger)
    video_codec: Mapped[str | None] = mapped_column(String(32))
    audio_codec: Mapped[str | None] = mapped_column(String(32))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    fps: Mapped[float | None] = mapped_column(Float)
    protected: Mapped[bool] = mapped_column(Boolean, default=False)


class Export(Base):
    """A clip export: one MP4 per camera for a time range, with a chain-of-custody manifest.

    No foreign key to cameras: an export is evidence and outlives the camera it came from,
    so the camera's name is kept in ``files`` and the manifest.
    """

    __tablename__ = "exports"
    # Ids name the export's folder, so they are never reused (AUTOINCREMENT on SQLite).
    __table_args__ = (Index("ix_exports_created", "created_at"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str | None] = mapped_column(String(200))
    camera_ids: Mapped[list[int]] = mapped_column(JSON)
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)
    burn_in: Mapped[bool] = mapped_column(Boolean, default=False)
    # queued | running | done | failed
    status: Mapped[str] = mapped_column(String(16))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[int | None] = mapped_column(BigInteger)
    finished_at: Mapped[int | None] = mapped_column(BigInteger)
    # One entry per camera once done: camera_id, camera_name, name, size, sha256, first_ms...
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
