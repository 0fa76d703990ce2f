"""Waiting for things a recording test expects, with deadlines instead of fixed sleeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tests.conftest import TEST_ORG
from vigil.app import Services
from vigil.link.messages import CameraState
from vigil.link.protocol import AppSide, LinkUnavailable
from vigil.store.cameras import CameraFields
from vigil.store.models import Camera, Segment

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], timeout: float, what: str
) -> T:
    """Poll ``probe`` until ``done`` holds for its result; fail naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {what}; last: {value!r}"
            )
        await asyncio.sleep(0.2)


async def segments_of(services: Services, camera_id: int) -> list[Segment]:
    return await services.segments.in_range(camera_id, 0, 2**62)


async def wait_segments(
    services: Services, camera_id: int, count: int, timeout: float = 30
) -> list[Segment]:
    return await eventually(
        lambda: segments_of(services, camera_id),
        lambda segs: len(segs) >= count,
        timeout,
        f"{count} segments of camera {camera_id}",
    )


async def wait_state(
    services: Services, camera_id: int, states: set[CameraState], timeout: float = 20
) -> CameraState:
    async def state() -> CameraState:
        return services.nodes.status(camera_id).state

    return await eventually(
        state, lambda s: s in states, timeout, f"camera {camera_id} in {states}"
    )


async def recorded_camera(
    services: Services, name: str, url: str, segments: int, timeout: float = 60
) -> tuple[Camera, list[Segment]]:
    """A camera recorded from ``url`` in 2 s segments until it has ``segments`` of them, then
    switched off (its footage stays still), with its segments."""
    camera = await services.cameras.create(
        CameraFields(name=name, main_url=url, segment_seconds=2), org_id=TEST_ORG
    )
    await wait_segments(services, camera.id, segments, timeout)
    await services.cameras.update(camera.id, {"enabled": False})
    return camera, await segments_of(services, camera.id)


class UnreliableApp:
    """The application side seen over a link that can go away (a seam we cut on purpose)."""

    def __init__(self, app: AppSide) -> None:
        self._app = app
        self.reachable = True

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        call = getattr(self._app, name)

        async def forward(*args, **kwargs):  # type: ignore[no-untyped-def]
            if not self.reachable:
                raise LinkUnavailable("application server unreachable")
            return await call(*args, **kwargs)

        return forward
