"""Playback of recordings: HLS VOD playlists for any range, the timeline with preview images
for scrubbing, and the frame at any recorded instant."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import Field

from vigil.api.deps import ServicesDep
from vigil.api.problems import RecordingNotFound, problem, problem_responses
from vigil.api.relay import relay
from vigil.api.routers import API_PREFIX
from vigil.api.routers.recordings import _query_range
from vigil.api.schemas import IntervalOut, Output
from vigil.api.security import RecordingsCamera, RecordingsMedia, actor_of, signed_query
from vigil.api.types import Instant, SegmentId, Timestamp
from vigil.app import Services
from vigil.auth.tokens import MediaKind
from vigil.link.protocol import MediaNotFound
from vigil.playback.playlist import splices_files
from vigil.playback.service import Indexes, playlist
from vigil.playback.transcode import ConversionFailed, h264_playlist
from vigil.store.events import EventFilter
from vigil.store.segments import Interval, SegmentRow, find_gaps
from vigil.timeutil import iso, now_ms

log = logging.getLogger(__name__)

router = APIRouter(prefix="/cameras/{camera_id}", tags=["playback"])

HLS_PLAYLIST = "application/vnd.apple.mpegurl"
_PLAYLIST = {"content": {HLS_PLAYLIST: {}}, "description": "an HLS VOD playlist (RFC 8216)"}
# A day at 10 s segments is 8,640 of them; a scrubbing bar shows a few hundred.
DEFAULT_PREVIEWS = 720
TIMELINE_EVENTS = 1000
_JPEG = {"content": {"image/jpeg": {}}, "description": "a JPEG image"}


class PreviewOut(Output):
    time: Timestamp = Field(description="the instant the image shows (a segment's start)")
    url: str


class TimelineEventOut(Output):
    id: int
    kind: str
    label: str
    score: float
    zones: list[str]
    start: Timestamp
    end: Timestamp | None = Field(description="null while it lasts")


class TimelineOut(Output):
    camera_id: int
    start: Timestamp
    end: Timestamp
    spans: list[IntervalOut] = Field(description="continuous recording, clipped to the range")
    gaps: list[IntervalOut] = Field(description="no recording, up to the range's end or now")
    events: list[TimelineEventOut] = Field(
        description=f"events in the range, oldest first (at most {TIMELINE_EVENTS})"
    )
    motion: list[IntervalOut] = Field(description="motion seen in the range")
    previews: list[PreviewOut] = Field(description="small images for scrubbing, in time order")


def _camera_root(request: Request, camera_id: int) -> str:
    return f"{request.scope.get('root_path', '')}{API_PREFIX}/cameras/{camera_id}"


def _no_footage(camera_id: int, start_ms: int, end_ms: int | None = None) -> HTTPException:
    when = f"at {iso(start_ms)}" if end_ms is None else f"from {iso(start_ms)} to {iso(end_ms)}"
    return HTTPException(404, f"No recording of camera {camera_id} {when}.")


def _fragment_indexes(services: Services) -> Indexes:
    return lambda node, paths: services.nodes.node(node).fragment_indexes(paths)


@router.get(
    "/vod.m3u8",
    response_class=Response,
    responses={200: _PLAYLIST, **problem_responses(401, 403, 404, 422, 503)},
)
async def vod_playlist(
    camera: RecordingsMedia,
    request: Request,
    services: ServicesDep,
    start: Annotated[Instant | None, Query(description="default: a day before end")] = None,
    end: Annotated[Instant | None, Query(description="default: now")] = None,
    video: Annotated[
        Literal["recorded", "h264"],
        Query(
            description="h264: the footage converted to H.264 as it is played, one media "
            "segment per file, for browsers that cannot decode what was recorded (H.265)"
        ),
    ] = "recorded",
) -> Response:
    """An HLS playlist of the recordings in [start, end) (at most 31 days), starting at the
    keyframe at or before ``start``; gaps and stream changes are discontinuities, and
    ``EXT-X-PROGRAM-DATE-TIME`` gives the wall-clock time of each file. Its file URIs
    carry a signed link, so players need no cookies."""
    start_ms, end_ms = _query_range(start, end, now_ms())
    rows = await services.segments.rows_in_range(camera.id, start_ms, end_ms)
    link = signed_query(request, MediaKind.RECORDINGS, camera.id)
    if video == "h264":
        return await _h264_vod(request, services, camera.id, rows, link, (start_ms, end_ms))
    text = await playlist(
        rows,
        _fragment_indexes(services),
        # Relative to the playlist, and ending in .mp4: players and ffmpeg's HLS reader
        # (which checks extensions) both take it. That route answers Range requests.
        lambda row: f"files/{row.path}{link}",
        start_ms,
        end_ms,
        one_timeline=splices_files(request.headers.get("user-agent", "")),
    )
    if text is None:
        raise _no_footage(camera.id, start_ms, end_ms)
    await services.auth.audit.record(
        actor_of(request),
        "recording.view",
        target=f"camera:{camera.id}",
        start=iso(start_ms),
        end=iso(end_ms),
    )
    return Response(text, media_type=HLS_PLAYLIST, headers={"Cache-Control": "no-cache"})


async def _h264_vod(
    request: Request,
    services: ServicesDep,
    camera_id: int,
    rows: list[SegmentRow],
    link: str,
    span: tuple[int, int],
) -> Response:
    """The playlist of the footage converted to H.264 (see vigil/playback/transcode.py)."""
    text = h264_playlist(rows, lambda row, part: f"h264/{part}/{row.path}{link}", *span)
    if text is None:
        raise _no_footage(camera_id, *span)
    await services.auth.audit.record(
        actor_of(request),
        "recording.view",
        target=f"camera:{camera_id}",
        start=iso(span[0]),
        end=iso(span[1]),
    )
    return Response(text, media_type=HLS_PLAYLIST, headers={"Cache-Control": "no-cache"})


_KEY_LENGTH = 2000  # storage keys are far shorter; a longer one is no key


@router.get(
    "/h264/{part}/{path:path}",
    response_class=Response,
    responses={200: {"content": {"video/mp4": {}}}, **problem_responses(401, 403, 404, 422, 503)},
)
async def converted_file(
    camera: RecordingsMedia,
    part: Annotated[
        Literal["init", "media"], PathParam(description="the init part or the fragments")
    ],
    path: Annotated[str, PathParam(max_length=_KEY_LENGTH, description="a segment's `path`")],
    request: Request,
    services: ServicesDep,
) -> Response:
    """A recorded file converted to H.264 (fragmented MP4, in two parts for HLS), made on its
    first request and kept for a while; what ``vod.m3u8?video=h264`` points to."""
    seg = None if "\x00" in path else await services.segments.by_path(camera.id, path)
    if seg is None:
        raise RecordingNotFound
    node = services.nodes.node(seg.node)
    try:
        sizes = await node.convert_h264(seg.path, seg.video_codec)
    except ConversionFailed as exc:
        log.warning("camera %s: %s", camera.id, exc)
        return problem(
            request,
            503,
            f"This recording cannot be converted to H.264 now: {exc}",
            slug="conversion-failed",
        )

    def read(first: int, last: int) -> Awaitable[bytes]:
        return node.read_h264(seg.path, part, first, last)

    return await relay(
        sizes[0] if part == "init" else sizes[1],
        read,
        request.headers.get("range"),
        media_type="video/mp4",
        headers={"Cache-Control": "private, max-age=3600"},
    )


@router.get(
    "/timeline", response_model=TimelineOut, responses=problem_responses(401, 403, 404, 422)
)
async def timeline(
    camera: RecordingsCamera,
    request: Request,
    services: ServicesDep,
    start: Annotated[Instant | None, Query(description="default: a day before end")] = None,
    end: Annotated[Instant | None, Query(description="default: now")] = None,
    previews: Annotated[
        int, Query(ge=1, le=10_000, description="at most this many previews, evenly spread")
    ] = DEFAULT_PREVIEWS,
) -> Response:
    """What a scrubbing bar needs for [start, end): recorded spans, gaps, events, motion and
    preview images (each segment's first frame, made on its first request, then served from
    disk), at most ``previews`` of them: the first segment starting in each equal slice of
    the range. Spans are kept as segments are indexed and deleted, and the database picks
    the previews: a camera-day reads tens of rows, not its 8,640 segments."""
    now = now_ms()
    start_ms, end_ms = _query_range(start, end, now)
    async with services.db.one_read():  # four reads, one connection
        spans = [
            Interval(max(span.start_ms, start_ms), min(span.end_ms, end_ms))
            for span in await services.segments.spans_in_range(camera.id, start_ms, end_ms)
        ]
        samples = await services.segments.preview_times(camera.id, start_ms, end_ms, previews)
        events = await services.events.store.find(
            EventFilter(
                org_id=camera.org_id,
                camera_ids=[camera.id],
                since_ms=start_ms,
                until_ms=end_ms,
                limit=TIMELINE_EVENTS,
            )
        )
        motion = await services.events.store.motion_in_range(camera.id, start_ms, end_ms)
    gaps = find_gaps(spans, start_ms, min(end_ms, now))
    root = _camera_root(request, camera.id)
    link = signed_query(request, MediaKind.RECORDINGS, camera.id)
    # Validated from plain values in one pass, serialised once, straight to JSON: a camera-day
    # has hundreds of previews, and a returned model would be dumped, validated against the
    # response model and encoded again (most of the request's time, before).
    timeline = TimelineOut.model_validate(
        {
            "camera_id": camera.id,
            "start": start_ms,
            "end": end_ms,
            "spans": [{"start": s.start_ms, "end": s.end_ms} for s in spans],
            "gaps": [{"start": g.start_ms, "end": g.end_ms} for g in gaps],
            "events": [
                {
                    "id": e.id,
                    "kind": e.kind,
                    "label": e.label,
                    "score": e.score,
                    "zones": e.zones,
                    "start": e.start_ms,
                    "end": e.end_ms,
                }
                for e in reversed(events)
            ],
            "motion": [{"start": max(a, start_ms), "end": min(b, end_ms)} for a, b in motion],
            "previews": [
                {"time": begin, "url": f"{root}/preview.jpg{link}&at={iso(begin)}"}
                for begin in samples
            ],
        }
    )
    return Response(timeline.model_dump_json(), media_type="application/json")


@router.get(
    "/segments/{segment_id}/preview.jpg",
    response_class=Response,
    responses={200: _JPEG, **problem_responses(401, 403, 404, 422, 503)},
)
async def segment_preview(
    camera: RecordingsMedia, segment_id: SegmentId, services: ServicesDep
) -> Response:
    """A small image of the segment's first frame, for scrubbing (cached for a day)."""
    seg = await services.segments.get(camera.id, segment_id)
    if seg is None:
        raise RecordingNotFound
    return await _preview(services, seg.node, seg.path)


@router.get(
    "/preview.jpg",
    response_class=Response,
    responses={200: _JPEG, **problem_responses(401, 403, 404, 422, 503)},
)
async def preview_at_instant(
    camera: RecordingsMedia,
    services: ServicesDep,
    at: Annotated[Instant, Query(description="a recorded instant")],
) -> Response:
    """A small image of the first frame of the segment recorded at ``at``, for scrubbing
    (cached for a day): the timeline's previews point here, by time, so that the database
    picks them from its index without reading a row."""
    rows = await services.segments.rows_in_range(camera.id, at, at + 1)
    row = next((r for r in rows if r.start_ms <= at < r.end_ms), None)
    if row is None:
        raise RecordingNotFound
    return await _preview(services, row.node, row.path)


async def _preview(services: Services, node: str, key: str) -> Response:
    """The preview of the segment file ``key`` on ``node``, made on first request."""
    try:
        jpeg = await services.nodes.node(node).preview(key)
    except MediaNotFound:
        raise RecordingNotFound from None
    return Response(
        jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"}
    )


@router.get(
    "/frame.jpg",
    response_class=Response,
    responses={200: _JPEG, **problem_responses(401, 403, 404, 422, 503)},
)
async def frame_at_instant(
    camera: RecordingsMedia,
    request: Request,
    services: ServicesDep,
    at: Annotated[Instant, Query(description="the recorded instant to show")],
) -> Response:
    """The recorded frame shown at ``at``, full size, as JPEG."""
    rows = await services.segments.rows_in_range(camera.id, at, at + 1)
    row = next((r for r in rows if r.start_ms <= at < r.end_ms), None)
    if row is None:
        raise _no_footage(camera.id, at)
    try:
        jpeg = await services.nodes.node(row.node).frame(row.path, at - row.start_ms)
    except MediaNotFound:
        raise _no_footage(camera.id, at) from None
    await services.auth.audit.record(
        actor_of(request), "recording.view", target=f"camera:{camera.id}", at=iso(at)
    )
    return Response(jpeg, media_type="image/jpeg")
