"""FastAPI dependencies: the one way a route reaches the running services."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from vigil.api.types import CameraId as CameraId  # the web pages take it from here
from vigil.app import Services
from vigil.store.models import Camera


def get_services(connection: HTTPConnection) -> Services:
    """The services ``create_app`` was given or its lifespan started (HTTP or WebSocket)."""
    services = getattr(connection.app.state, "services", None)
    if not isinstance(services, Services):
        raise RuntimeError("the API is serving before its services have started")
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_camera(camera_id: CameraId, services: ServicesDep) -> Camera:
    """The camera named in the path; CameraNotFound (404) if there is none."""
    return await services.cameras.store.get(camera_id)


CameraDep = Annotated[Camera, Depends(get_camera)]
