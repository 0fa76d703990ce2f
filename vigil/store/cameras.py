"""Cameras as the application server stores them; passwords encrypted at rest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from vigil.detect.settings import DetectionSettings
from vigil.link.messages import CameraConfig, DetectConfig, RecordMode
from vigil.secrets import SecretBox
from vigil.store.database import Database
from vigil.store.models import Camera, Segment
from vigil.timeutil import now_ms


class CameraNotFound(Exception):
    def __init__(self, camera_id: int) -> None:
        super().__init__(f"no camera with id {camera_id}")
        self.camera_id = camera_id


class DuplicateCameraName(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"a camera named {name!r} already exists")
        self.name = name


@dataclass(frozen=True, slots=True)
class CameraFields:
    """Everything a user sets on a camera; ``password`` in clear, only on its way in."""

    name: str
    main_url: str
    sub_url: str | None = None
    username: str | None = None
    password: str | None = None
    enabled: bool = True
    recording: bool = True
    segment_seconds: float = 10.0
    retention_days: float | None = None
    retention_max_bytes: int | None = None
    site_id: int | None = None  # one of the organisation's sites; the caller checks that
    record_mode: RecordMode = RecordMode.CONTINUOUS
    event_retention_days: float | None = None
    detection: DetectionSettings | None = None
    # The node it records on whenever that node is alive and not draining; None: any.
    pinned_node: str | None = None


class CameraHasProtectedFootage(Exception):
    def __init__(self, camera_id: int, count: int) -> None:
        super().__init__(
            f"camera {camera_id} has {count} protected segments; release them before deleting"
        )
        self.camera_id = camera_id
        self.count = count


class CameraStore:
    def __init__(self, db: Database, secrets: SecretBox) -> None:
        self._db = db
        self._secrets = secrets

    async def create(self, fields: CameraFields, node: str, org_id: int) -> Camera:
        values = self._columns(vars_of(fields))
        now = now_ms()
        camera = Camera(
            org_id=org_id, node=node, assignment=0, created_at=now, updated_at=now, **values
        )
        try:
            async with self._db.write() as session:
                await self._check_name(session, org_id, fields.name, None)
                session.add(camera)
        except IntegrityError:
            raise DuplicateCameraName(fields.name) from None
        return camera

    async def get(self, camera_id: int) -> Camera:
        async with self._db.read() as session:
            camera = await session.get(Camera, camera_id)
        if camera is None:
            raise CameraNotFound(camera_id)
        return camera

    async def list(self, node: str | None = None, org_id: int | None = None) -> list[Camera]:
        query = select(Camera).order_by(Camera.id)
        if org_id is not None:
            query = query.where(Camera.org_id == org_id)
        if node is not None:
            query = query.where(Camera.node == node)
        async with self._db.read() as session:
            return list(await session.scalars(query))

    async def update(self, camera_id: int, changes: dict[str, Any]) -> Camera:
        """Apply a partial update; keys are :class:`CameraFields` names."""
        try:
            async with self._db.write() as session:
                camera = await session.get(Camera, camera_id)
                if camera is None:
                    raise CameraNotFound(camera_id)
                if "name" in changes:
                    await self._check_name(session, camera.org_id, changes["name"], camera_id)
                for key, value in self._columns(changes).items():
                    setattr(camera, key, value)
                camera.updated_at = now_ms()
        except IntegrityError:
            raise DuplicateCameraName(str(changes.get("name"))) from None
        return camera

    async def assign(self, camera_id: int, node: str) -> Camera:
        """Record the camera on ``node`` from now on: its assignment counts one up, in the
        same statement (two leaders, for an instant, cannot give one number twice)."""
        async with self._db.write() as session:
            await session.execute(
                update(Camera)
                .where(Camera.id == camera_id)
                .values(node=node, assignment=Camera.assignment + 1, updated_at=now_ms())
            )
            camera = await session.get(Camera, camera_id, populate_existing=True)
            if camera is None:
                raise CameraNotFound(camera_id)
        return camera

    async def delete(self, camera_id: int) -> Camera:
        """Delete a camera and (by cascade) its segment rows; refused while any is protected.

        The check and the delete are one transaction, so footage protected meanwhile is safe.
        """
        async with self._db.write() as session:
            camera = await session.get(Camera, camera_id, with_for_update=True)
            if camera is None:
                raise CameraNotFound(camera_id)
            protected = await session.scalar(
                select(func.count()).where(Segment.camera_id == camera_id, Segment.protected)
            )
            if protected:
                raise CameraHasProtectedFootage(camera_id, int(protected))
            await session.delete(camera)
        return camera

    def config(self, camera: Camera) -> CameraConfig:
        """What the camera's node needs, with the password decrypted."""
        password = (
            self._secrets.decrypt(camera.password_encrypted) if camera.password_encrypted else None
        )
        detection = detection_of(camera)
        return CameraConfig(
            id=camera.id,
            name=camera.name,
            main_url=camera.main_url,
            sub_url=camera.sub_url,
            username=camera.username,
            password=password,
            enabled=camera.enabled,
            recording=camera.recording,
            segment_seconds=camera.segment_seconds,
            retention_days=camera.retention_days,
            retention_max_bytes=camera.retention_max_bytes,
            record_mode=RecordMode(camera.record_mode),
            event_retention_days=camera.event_retention_days,
            detection=detection,
            detect=detect_config(detection),
            assignment=camera.assignment,
        )

    def _columns(self, values: dict[str, Any]) -> dict[str, Any]:
        columns = dict(values)
        if "password" in columns:
            password = columns.pop("password")
            columns["password_encrypted"] = self._secrets.encrypt(password) if password else None
        if isinstance(columns.get("detection"), DetectionSettings):
            columns["detection"] = columns["detection"].model_dump(mode="json")
        if "record_mode" in columns:
            columns["record_mode"] = RecordMode(columns["record_mode"]).value
        return columns

    @staticmethod
    async def _check_name(session: Any, org_id: int, name: str, own_id: int | None) -> None:
        # Names are unique in an organisation without regard to case: "Door" and "door"
        # would confuse people.
        query = select(Camera.id).where(
            Camera.org_id == org_id, func.lower(Camera.name) == name.lower()
        )
        if own_id is not None:
            query = query.where(Camera.id != own_id)
        if await session.scalar(query) is not None:
            raise DuplicateCameraName(name)


def vars_of(fields: CameraFields) -> dict[str, Any]:
    return {slot: getattr(fields, slot) for slot in CameraFields.__slots__}


def detection_of(camera: Camera) -> DetectionSettings | None:
    """The camera's detection settings as stored (None: never set)."""
    if camera.detection is None:
        return None
    return DetectionSettings.model_validate(camera.detection)


def detect_config(detection: DetectionSettings | None) -> DetectConfig | None:
    """The frames the camera's ffmpeg must hand detection; None when detection is off."""
    if detection is None or not detection.enabled:
        return None
    return DetectConfig(
        fps=detection.fps,
        width=detection.width,
        height=detection.height,
        prefer_sub=detection.prefer_sub,
    )
