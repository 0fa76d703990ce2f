"""Live view: fragmented MP4 over WebSocket (MSE), a short HLS window, the latest frame."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, WebSocket
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection

from vigil.api.deps import ServicesDep
from vigil.api.problems import problem, problem_responses
from vigil.api.security import LiveCamera, authorize_camera, signed_query
from vigil.api.types import CameraId
from vigil.app import Services
from vigil.auth.errors import Forbidden, NotAuthenticated
from vigil.auth.permissions import Permission, Scope
from vigil.auth.tokens import MediaKind
from vigil.link.protocol import LinkUnavailable
from vigil.node.live import LiveStream, StreamStart, Viewer
from vigil.node.transcode import TranscodeLimit
from vigil.nodes.registry import UnknownNode
from vigil.store.cameras import CameraNotFound
from vigil.store.models import Camera

log = logging.getLogger(__name__)

router = APIRouter(prefix="/cameras/{camera_id}", tags=["live"])

HLS_PLAYLIST = "application/vnd.apple.mpegurl"
_JPEG = {"content": {"image/jpeg": {}}, "description": "the latest keyframe as JPEG"}
_MP4 = {"content": {"video/mp4": {}}, "description": "fragmented MP4"}
_PLAYLIST = {"content": {HLS_PLAYLIST: {}}, "description": "HLS media playlist (live window)"}
_NO_STORE = {"Cache-Control": "no-store"}
# A viewer the stream dropped may be stuck in a send the client never reads; give up then.
_CLOSE_TIMEOUT = 2.0
# WebSocket close codes: 1001 the camera went away, 1013 too slow for the stream.
_GOING_AWAY = 1001
_TRY_AGAIN_LATER = 1013

Generation = Annotated[int, Path(ge=1, le=2**31 - 1, description="the ffmpeg run's number")]
Sequence = Annotated[int, Path(ge=0, le=2**63 - 1, description="media sequence number")]
StreamChoice = Annotated[
    Literal["main", "sub", "h264"],
    Query(
        description="sub: the camera's sub stream (grid views), the main one if it has none; "
        "h264: the main stream converted to H.264 while watched, for browsers that cannot "
        "play the camera's codec (at most node.max_transcodes cameras at once)"
    ),
]
# A transcode slot frees itself 10 s after its last viewer leaves.
_RETRY_TRANSCODE = {"Retry-After": "10"}


class LiveInfo(BaseModel):
    camera_id: int
    live: bool = Field(description="the camera is sending pictures now")
    mime: str | None = Field(description='for MediaSource.isTypeSupported: video/mp4; codecs="…"')
    codecs: str | None = Field(examples=["avc1.64001f,mp4a.40.2", "hvc1.1.6.L93.B0"])
    width: int | None
    height: int | None
    viewers: int = Field(description="WebSocket viewers now")
    websocket: str = Field(description="path of the WebSocket stream, with a signed link")
    hls: str = Field(description="path of the live HLS playlist, with a signed link")
    snapshot: str = Field(description="path of the latest picture, with a signed link")


def _stream(
    services: Services, camera: Camera, stream: Literal["main", "sub", "h264"] = "main"
) -> LiveStream | None:
    """The camera's live stream on its node; None while the camera is disabled.
    TranscodeLimit for ``h264`` when the node converts as many cameras as it may."""
    node = services.nodes.node(camera.node)  # UnknownNode: 503
    if stream == "h264":
        return node.transcoded_stream(camera.id)
    return node.live_stream(camera.id, stream == "sub")


def _too_many_transcodes(connection: HTTPConnection, exc: TranscodeLimit) -> JSONResponse:
    return problem(
        connection,
        503,
        str(exc),
        slug="transcode-limit",
        title="Too many cameras converted to H.264",
        headers=_RETRY_TRANSCODE,
    )


def _unavailable(connection: HTTPConnection, camera: Camera, disabled: bool) -> JSONResponse:
    detail = (
        f"Camera {camera.id} is disabled: enable it to watch it live."
        if disabled
        else f"Camera {camera.id} has no live picture yet: it is connecting or offline."
    )
    return problem(connection, 503, detail, slug="no-live-picture", title="No live picture")


_LIVE_PROBLEMS = problem_responses(401, 403, 404, 422, 503)


@router.get("/live/info", responses=_LIVE_PROBLEMS, response_model=LiveInfo)
async def live_info(
    camera: LiveCamera, request: Request, services: ServicesDep, stream: StreamChoice = "main"
) -> LiveInfo | JSONResponse:
    """What the live stream carries (codecs for MSE), how many watch it, and signed links
    to it that work without cookies for a few minutes (players, ``<video>``, ``<img>``).
    For ``h264`` the codecs are known once its first viewer has started the conversion."""
    try:
        live = _stream(services, camera, stream)
    except TranscodeLimit as exc:
        return _too_many_transcodes(request, exc)
    start = live.start if live is not None else None
    video = start.info.video if start is not None else None
    base = request.url.path.removesuffix("/info")
    link = signed_query(request, MediaKind.LIVE, camera.id)
    query = link + (f"&stream={stream}" if stream != "main" else "")
    return LiveInfo(
        camera_id=camera.id,
        live=live is not None and live.has_picture,
        mime=start.info.mime if start is not None else None,
        codecs=start.info.codecs if start is not None else None,
        width=video.width if video is not None else None,
        height=video.height if video is not None else None,
        viewers=live.viewers if live is not None else 0,
        websocket=base + query,
        hls=base + ".m3u8" + link,
        snapshot=base.removesuffix("/live") + "/snapshot.jpg" + link,
    )


@router.get(
    "/snapshot.jpg",
    response_class=Response,
    responses={200: _JPEG, **_LIVE_PROBLEMS},
)
async def snapshot(camera: LiveCamera, request: Request, services: ServicesDep) -> Response:
    """The camera's latest keyframe as JPEG, from the live stream (no new camera connection)."""
    live = _stream(services, camera)
    jpeg = await live.snapshot() if live is not None else None
    if jpeg is None:
        return _unavailable(request, camera, disabled=live is None)
    return Response(jpeg, media_type="image/jpeg", headers=_NO_STORE)


@router.get(
    "/live.m3u8",
    response_class=Response,
    responses={200: _PLAYLIST, **_LIVE_PROBLEMS},
)
async def live_playlist(camera: LiveCamera, request: Request, services: ServicesDep) -> Response:
    """The live HLS window (the last few GOPs), for players without MSE. Its media URIs
    carry a signed link, so players need no cookies."""
    live = _stream(services, camera)
    query = signed_query(request, MediaKind.LIVE, camera.id)
    playlist = await live.hls_playlist(query) if live is not None else None
    if playlist is None:
        return _unavailable(request, camera, disabled=live is None)
    return Response(playlist, media_type=HLS_PLAYLIST, headers=_NO_STORE)


@router.get(
    "/live/init/{generation}.mp4",
    response_class=Response,
    responses={200: _MP4, **_LIVE_PROBLEMS},
)
async def live_init(
    camera: LiveCamera, generation: Generation, request: Request, services: ServicesDep
) -> Response:
    """The init segment a live HLS media segment needs (EXT-X-MAP)."""
    live = _stream(services, camera)
    init = live.hls.init(generation) if live is not None else None
    if init is None:
        return _gone(request)
    return Response(init, media_type="video/mp4")


@router.get(
    "/live/{sequence}.m4s",
    response_class=Response,
    responses={200: _MP4, **_LIVE_PROBLEMS},
)
async def live_segment(
    camera: LiveCamera, sequence: Sequence, request: Request, services: ServicesDep
) -> Response:
    """One media segment of the live HLS window (one GOP)."""
    live = _stream(services, camera)
    data = live.hls.segment(sequence) if live is not None else None
    if data is None:
        return _gone(request)
    return Response(data, media_type="video/mp4")


def _gone(request: Request) -> JSONResponse:
    return problem(
        request,
        404,
        "That part of the live window is gone; reload the playlist.",
        slug="live-segment-gone",
    )


@router.websocket("/live")
async def live_socket(
    websocket: WebSocket, camera_id: CameraId, services: ServicesDep, stream: StreamChoice = "main"
) -> None:
    """Live fMP4: a JSON text message (MIME type and codecs), then binary messages: the init
    segment, then fragments from a keyframe on. A new text message means a new stream
    (ffmpeg restarted): its init segment follows. ``?stream=sub`` for grid views,
    ``?stream=h264`` for browsers that cannot play the camera's codec (converted while
    watched; refused with 503 ``transcode-limit`` beyond ``node.max_transcodes``).
    Authenticated like the other live routes: a session, an API key or a signed link."""
    try:
        _, camera = await authorize_camera(
            websocket, services, camera_id, Permission.VIEW_LIVE, Scope.LIVE, MediaKind.LIVE
        )
        live = _stream(services, camera, stream)
    except NotAuthenticated as exc:
        await _refuse(websocket, problem(websocket, 401, exc.detail, slug="not-authenticated"))
        return
    except Forbidden as exc:
        await _refuse(websocket, problem(websocket, 403, exc.detail, slug=exc.slug))
        return
    except CameraNotFound as exc:
        await _refuse(websocket, problem(websocket, 404, str(exc), slug="camera-not-found"))
        return
    except UnknownNode as exc:
        detail = f"The media node {exc.node!r} is not connected; try again when it is."
        await _refuse(websocket, problem(websocket, 503, detail, slug="node-unavailable"))
        return
    except LinkUnavailable as exc:
        await _refuse(websocket, problem(websocket, 503, str(exc), slug="node-unavailable"))
        return
    except TranscodeLimit as exc:
        await _refuse(websocket, _too_many_transcodes(websocket, exc))
        return
    if live is None:
        await _refuse(websocket, _unavailable(websocket, camera, disabled=True))
        return
    await websocket.accept()
    viewer = live.join()
    log.debug("camera %s: viewer joined (%d watching)", camera.id, live.viewers)
    sending = asyncio.create_task(_send(websocket, viewer))
    hung_up = asyncio.create_task(_until_closed(websocket))
    try:
        await asyncio.wait((sending, hung_up), return_when=asyncio.FIRST_COMPLETED)
    finally:
        viewer.close()
        for task in (sending, hung_up):
            task.cancel()
        for task in (sending, hung_up):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    if hung_up.cancelled():  # we end it, not the client
        code = _TRY_AGAIN_LATER if viewer.dropped else _GOING_AWAY
        with contextlib.suppress(Exception):
            await asyncio.wait_for(websocket.close(code), _CLOSE_TIMEOUT)
    log.debug("camera %s: viewer left (%d watching)", camera.id, live.viewers)


async def _send(websocket: WebSocket, viewer: Viewer) -> None:
    """Send until the viewer ends: the camera went away, or it fell too far behind."""
    sender = asyncio.create_task(_pump(websocket, viewer))
    closed = asyncio.create_task(viewer.wait_closed())
    try:
        await asyncio.wait((sender, closed), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sender, closed):
            task.cancel()
        for task in (sender, closed):
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _pump(websocket: WebSocket, viewer: Viewer) -> None:
    async for packet in viewer:
        if isinstance(packet, StreamStart):
            video = packet.info.video
            await websocket.send_json(
                {
                    "type": "stream",
                    "mime": packet.info.mime,
                    "codecs": packet.info.codecs,
                    "width": video.width if video else None,
                    "height": video.height if video else None,
                }
            )
            await websocket.send_bytes(packet.init)
        else:
            await websocket.send_bytes(packet.data)


async def _until_closed(websocket: WebSocket) -> None:
    """Viewers send nothing; this returns when the client closes or the connection drops."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


async def _refuse(websocket: WebSocket, response: Response) -> None:
    """Answer the handshake with a problem response where the server can, else close."""
    try:
        await websocket.send_denial_response(response)
    except RuntimeError:
        await websocket.close(1013 if response.status_code == 503 else 1008)
