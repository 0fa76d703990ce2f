"""FastAPI dependencies: the one way a route reaches the running services."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path
from starlette.requests import HTTPConnection

from vigil.app import Services
from vigil.store.models import Camera


def get_services(connection: HTTPConnection) -> Services:
    """The services ``create_app`` was given or its lifespan started (HTTP or WebSocket)."""
    services = getattr(connection.app.state, "services", None)
    if not isinstance(services, Services):
        raise RuntimeError("the API is serving before its services have started")
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

CameraId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the camera's id")]
SegmentId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the segment's id")]


async def get_camera(camera_id: CameraId, services: ServicesDep) -> Camera:
    """The camera named in the path; CameraNotFound (404) if there is none."""
    return await services.cameras.store.get(camera_id)


CameraDep = Annotated[Camera, Depends(get_camera)]
