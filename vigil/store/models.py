"""Database models (SQLAlchemy 2, typed). Times are integer epoch milliseconds, UTC."""

from __future__ import annotations

import unicodedata
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
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates


class Base(DeclarativeBase):
    pass


class Org(Base):
    """A tenant (a school, a company): it owns sites, cameras, people and media."""

    __tablename__ = "orgs"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    require_mfa: Mapped[bool] = mapped_column(Boolean, default=False)
    # Its limits; null: none (the embedded default).
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id", ondelete="SET NULL"))
    created_at: Mapped[int] = mapped_column(BigInteger)


Index("uq_orgs_name_lower", func.lower(Org.name), unique=True)


class Site(Base):
    """A place an organisation has cameras: a campus, a building, a shop."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[int] = mapped_column(BigInteger)


Index("uq_sites_org_name_lower", Site.org_id, func.lower(Site.name), unique=True)


class Camera(Base):
    __tablename__ = "cameras"
    # Ids are never reused (AUTOINCREMENT on SQLite), so nothing in flight for a deleted
    # camera can land on a new one; names are unique regardless of case.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
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
    # continuous | events (see vigil.link.messages.RecordMode)
    record_mode: Mapped[str] = mapped_column(String(16), default="continuous")
    event_retention_days: Mapped[float | None] = mapped_column(Float)
    # vigil.detect.settings.DetectionSettings as JSON; null: no detection.
    detection: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    node: Mapped[str] = mapped_column(String(100), default="local")
    # Counts the camera's moves between nodes: a node told of a higher one elsewhere has
    # lost the camera (fencing), whatever its own copy of the configuration says.
    assignment: Mapped[int] = mapped_column(Integer, default=0)
    # The node it records on whenever that node is alive and not draining; null: any.
    pinned_node: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


Index("uq_cameras_org_name_lower", Camera.org_id, func.lower(Camera.name), unique=True)


class Node(Base):
    """An administrator's word on a media node (``vigil nodes drain``). A node without a
    row takes cameras; which nodes exist and live is the bus's to say, not the database's."""

    __tablename__ = "nodes"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    draining: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[int] = mapped_column(BigInteger)


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
    # Motion was seen while it was recorded (set as motion spans and segments arrive).
    motion: Mapped[bool] = mapped_column(Boolean, default=False)


class RecordingSpan(Base):
    """A stretch of continuous recording of one camera: its segments, joined where one
    starts within ``SPAN_TOLERANCE_MS`` of the footage before it. Kept up to date as
    segments are indexed and removed (``SegmentIndex``), so a timeline reads a few spans,
    not thousands of segments."""

    __tablename__ = "recording_spans"
    # Spans of a camera never overlap: one starts at each instant at most.
    __table_args__ = (
        Index("ix_recording_spans_camera_start", "camera_id", "start_ms", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)


class Event(Base):
    """Something a camera saw: a tracked object of a wanted label, or motion.

    Its node names it (``uid``) and reports it as it opens, changes and ends; each report
    replaces the row's description, so a repeated or late report changes nothing.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_camera_start", "camera_id", "start_ms"),
        Index("ix_events_org_start", "org_id", "start_ms"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    node: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # object | motion
    label: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    zones: Mapped[list[str]] = mapped_column(JSON, default=list)
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int | None] = mapped_column(BigInteger)  # null while it lasts
    last_ms: Mapped[int] = mapped_column(BigInteger)
    pre_ms: Mapped[int] = mapped_column(Integer, default=0)
    post_ms: Mapped[int] = mapped_column(Integer, default=0)
    # [[time_ms, x1, y1, x2, y2], ...]: the object's path, thinned.
    boxes: Mapped[list[list[float]]] = mapped_column(JSON, default=list)
    snapshot_path: Mapped[str | None] = mapped_column(String(500))
    snapshot_ms: Mapped[int | None] = mapped_column(BigInteger)
    snapshot_box: Mapped[list[float] | None] = mapped_column(JSON)
    reviewed: Mapped[bool] = mapped_column(Boolean, default=False)
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class MotionSpan(Base):
    """A stretch of time a camera saw motion: marks segments, shows on timelines."""

    __tablename__ = "motion_spans"
    __table_args__ = (Index("ix_motion_spans_camera_start", "camera_id", "start_ms"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)


class Export(Base):
    """A clip export: one MP4 per camera for a time range, with a chain-of-custody manifest.

    No foreign key to cameras: an export is evidence and outlives the camera it came from,
    so the camera's name is kept in ``files`` and the manifest.
    """

    __tablename__ = "exports"
    # Ids name the export's folder, so they are never reused (AUTOINCREMENT on SQLite).
    __table_args__ = (Index("ix_exports_created", "created_at"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
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
    # The requesting user; null for exports made from the command line or by a deleted user.
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[int | None] = mapped_column(BigInteger)
    finished_at: Mapped[int | None] = mapped_column(BigInteger)
    # While running: which application instance runs it, and when it last said so (an
    # export whose runner has fallen silent is queued again, for any instance to take).
    runner: Mapped[str | None] = mapped_column(String(200))
    beat_at: Mapped[int | None] = mapped_column(BigInteger)
    # One entry per camera once done: camera_id, camera_name, name, size, sha256, first_ms...
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


def username_key(name: str) -> str:
    """How usernames compare: NFKC, Unicode case folding, NFKC again (Unicode's NFKC
    caseless match), so that "Émile", "émile" and "ÉMILE" are one name, as are "ﬁona" and
    "fiona"; SQL's lower() folds only ASCII on SQLite."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


class User(Base):
    """A person who signs in. One organisation, one role in it."""

    __tablename__ = "users"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    username: Mapped[str] = mapped_column(String(100))
    # The name as sign-in compares it (vigil.store.users.username_key): Unicode case-folded
    # and NFKC-normalised, so "Émile" and "émile" are one name on every database.
    username_key: Mapped[str] = mapped_column(Text)
    display_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    # admin | operator | viewer
    role: Mapped[str] = mapped_column(String(16))
    # argon2id; null until an invited user sets a password.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Fernet token of the TOTP secret; enabled once the first code is confirmed.
    totp_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # What the live grid remembers for this person (vigil.store.preferences); null: nothing.
    preferences: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)

    @validates("username")
    def _keep_key(self, _field: str, username: str) -> str:
        """Whatever sets a username sets the key it is compared by."""
        self.username_key = username_key(username)
        return username


# Usernames are global (people sign in without naming their organisation), without case.
Index("uq_users_username_key", User.username_key, unique=True)


class UserView(Base):
    """A view a person saved for the live grid: a name, a layout, cameras in order."""

    __tablename__ = "user_views"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # 1, 4, 9, 16 or fit
    layout: Mapped[str] = mapped_column(String(8))
    camera_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class Claim(Base):
    """Something done once per installation, claimed atomically (the first-run setup): the
    second claimant's insert fails on the primary key, whichever process it runs in."""

    __tablename__ = "claims"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    claimed_at: Mapped[int] = mapped_column(BigInteger)


class RecoveryCode(Base):
    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[int | None] = mapped_column(BigInteger)


class Invitation(Base):
    """A one-time link with which an invited person sets their password."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)


class UserSession(Base):
    """A signed-in browser. The cookie holds a random token; only its hash is stored."""

    __tablename__ = "sessions"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_seen_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class ApiKey(Base):
    """A bearer key for scripts: acts as its user, narrowed to its scopes."""

    __tablename__ = "api_keys"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # The key's random part, hashed (SHA-256: the key is 256 random bits, no need to stretch).
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int | None] = mapped_column(BigInteger)
    last_used_at: Mapped[int | None] = mapped_column(BigInteger)
    last_used_ip: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)


class UserGroup(Base):
    """People who share rights: a class, a shift."""

    __tablename__ = "user_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    user_ids: Mapped[list[int]] = mapped_column(JSON, default=list)


class CameraGroup(Base):
    """Cameras that share rights: a building, a classroom's cameras."""

    __tablename__ = "camera_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    camera_ids: Mapped[list[int]] = mapped_column(JSON, default=list)


class Grant(Base):
    """Permissions on a camera group for a user group or one user."""

    __tablename__ = "grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    camera_group_id: Mapped[int] = mapped_column(ForeignKey("camera_groups.id", ondelete="CASCADE"))
    user_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_groups.id", ondelete="CASCADE")
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    permissions: Mapped[list[str]] = mapped_column(JSON)


class AuditEntry(Base):
    """One security-relevant action: who, what, when, from where. Never changed."""

    __tablename__ = "audit"
    __table_args__ = (
        Index("ix_audit_org_at", "org_id", "at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[int] = mapped_column(BigInteger)
    # Null for actions no organisation can be told (a failed login for an unknown name).
    org_id: Mapped[int | None] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(100))
    api_key_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(64))
    # success | failure | denied
    outcome: Mapped[str] = mapped_column(String(16))
    target: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class Plan(Base):
    """What an organisation pays for: limits on storage, cameras and users (null: none)."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    storage_bytes: Mapped[int | None] = mapped_column(BigInteger)
    max_cameras: Mapped[int | None] = mapped_column(Integer)
    max_users: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[int] = mapped_column(BigInteger)


class LibraryEvent(Base):
    """A named occasion (a play, a sports day, a lesson) that owns media items; not to be
    confused with a detection event."""

    __tablename__ = "library_events"
    __table_args__ = (Index("ix_library_events_org_start", "org_id", "start_ms"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    place: Mapped[str | None] = mapped_column(String(200))
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int | None] = mapped_column(BigInteger)
    # User groups taking part (classes): their members see the event and its items.
    group_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class MediaItem(Base):
    """A picture or video in the library: uploaded, or saved from a camera."""

    __tablename__ = "media_items"
    __table_args__ = (
        Index("ix_media_items_org_created", "org_id", "created_at"),
        Index("ix_media_items_org_sha256", "org_id", "sha256"),
        Index("ix_media_items_event", "event_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("library_events.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(16))  # image | video
    source: Mapped[str] = mapped_column(String(16))  # upload | export | clip | snapshot
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Labels a camera's detection saw in it (for clips and snapshots of detection events).
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("cameras.id", ondelete="SET NULL"))
    captured_at: Mapped[int] = mapped_column(BigInteger)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    uploader: Mapped[str] = mapped_column(String(200))
    # Shared with these user groups beyond the event's (empty: only as the event is).
    group_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    filename: Mapped[str] = mapped_column(String(255))
    mime: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    # uploading | processing | ready | failed
    status: Mapped[str] = mapped_column(String(16))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    # Where its files are: the backend's name and keys (original, web-playable, pictures).
    storage: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(500))
    web_key: Mapped[str | None] = mapped_column(String(500))
    poster_key: Mapped[str | None] = mapped_column(String(500))
    thumb_key: Mapped[str | None] = mapped_column(String(500))
    stored_bytes: Mapped[int] = mapped_column(BigInteger, default=0)  # all its files
    # While processing: which application instance does it, and when it last said so (an
    # item whose processor has fallen silent is taken up by another instance).
    runner: Mapped[str | None] = mapped_column(String(200))
    beat_at: Mapped[int | None] = mapped_column(BigInteger)
    views: Mapped[int] = mapped_column(Integer, default=0)
    downloads: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class ShareLink(Base):
    """A link to an item or a library event for people without an account."""

    __tablename__ = "share_links"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("media_items.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("library_events.id", ondelete="CASCADE")
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))  # argon2id; null: none
    expires_at: Mapped[int] = mapped_column(BigInteger)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[int] = mapped_column(BigInteger)
    views: Mapped[int] = mapped_column(Integer, default=0)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Upload(Base):
    """A resumable (tus) upload under way: its bytes wait in the uploads folder."""

    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    length: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    # tus Upload-Metadata, decoded: filename, title, event_id, ...
    meta: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("media_items.id", ondelete="SET NULL"))
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)


class UsageSample(Base):
    """An organisation's storage use at one time, by kind (for history and analytics)."""

    __tablename__ = "usage_samples"
    __table_args__ = (Index("ix_usage_samples_org_at", "org_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    at: Mapped[int] = mapped_column(BigInteger)
    library_bytes: Mapped[int] = mapped_column(BigInteger)
    recordings_bytes: Mapped[int] = mapped_column(BigInteger)
    # {"image": bytes, "video": bytes, "export": bytes, ...}
    by_kind: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
