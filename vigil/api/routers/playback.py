"""Playback of recordings: HLS VOD playlists for any range, the timeline with preview images
for scrubbing, and the frame at any recorded instant."""

from __future__ import annotations

import logging
import stat
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import Field

from vigil.api.deps import ServicesDep
from vigil.api.problems import RecordingNotFound, problem_responses
from vigil.api.routers import API_PREFIX
from vigil.api.routers.recordings import _query_range
from vigil.api.schemas import IntervalOut, Output
from vigil.api.security import RecordingsCamera, RecordingsMedia, actor_of, signed_query
from vigil.api.types import Instant, SegmentId, Timestamp
from vigil.app import Services
from vigil.auth.tokens import MediaKind
from vigil.node.layout import UnsafePath
from vigil.playback.frames import NoFrame
from vigil.store.events import EventFilter
from vigil.store.segments import Interval, SegmentRow, find_gaps, first_per_slot, spans_of_times
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


def _local_file(services: Services, row: SegmentRow) -> Path:
    return services.nodes.node(row.node).recording_file(row.path)


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
) -> Response:
    """An HLS playlist of the recordings in [start, end) (at most 31 days), starting at the
    keyframe at or before ``start``; gaps and stream changes are discontinuities, and
    ``EXT-X-PROGRAM-DATE-TIME`` gives the wall-clock time of each file. Its file URIs
    carry a signed link, so players need no cookies."""
    start_ms, end_ms = _query_range(start, end, now_ms())
    rows = await services.segments.rows_in_range(camera.id, start_ms, end_ms)
    link = signed_query(request, MediaKind.RECORDINGS, camera.id)
    text = await services.playback.playlist(
        rows,
        lambda row: _local_file(services, row),
        # Relative to the playlist, and ending in .mp4: players and ffmpeg's HLS reader
        # (which checks extensions) both take it. That route answers Range requests.
        lambda row: f"files/{row.path}{link}",
        start_ms,
        end_ms,
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


@router.get("/timeline", responses=problem_responses(401, 403, 404, 422))
async def timeline(
    camera: RecordingsCamera,
    request: Request,
    services: ServicesDep,
    start: Annotated[Instant | None, Query(description="default: a day before end")] = None,
    end: Annotated[Instant | None, Query(description="default: now")] = None,
    previews: Annotated[
        int, Query(ge=1, le=10_000, description="at most this many previews, evenly spread")
    ] = DEFAULT_PREVIEWS,
) -> TimelineOut:
    """What a scrubbing bar needs for [start, end): recorded spans, gaps, events and preview
    images (each segment's first frame, made on its first request, then served from disk),
    at most ``previews`` of them: the first segment of each equal slice of the range."""
    now = now_ms()
    start_ms, end_ms = _query_range(start, end, now)
    slot_ms = -(-(end_ms - start_ms) // previews)
    times = await services.segments.times_in_range(camera.id, start_ms, end_ms)
    spans = [
        Interval(max(span.start_ms, start_ms), min(span.end_ms, end_ms))
        for span in spans_of_times(times)
    ]
    samples = first_per_slot(times, start_ms, slot_ms)
    gaps = find_gaps(spans, start_ms, min(end_ms, now))
    root = _camera_root(request, camera.id)
    link = signed_query(request, MediaKind.RECORDINGS, camera.id)
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
    return TimelineOut(
        camera_id=camera.id,
        start=start_ms,
        end=end_ms,
        spans=[IntervalOut(start=s.start_ms, end=s.end_ms) for s in spans],
        gaps=[IntervalOut(start=g.start_ms, end=g.end_ms) for g in gaps],
        events=[
            TimelineEventOut(
                id=e.id,
                kind=e.kind,
                label=e.label,
                score=e.score,
                zones=e.zones,
                start=e.start_ms,
                end=e.end_ms,
            )
            for e in reversed(events)
        ],
        motion=[IntervalOut(start=max(a, start_ms), end=min(b, end_ms)) for a, b in motion],
        previews=[
            PreviewOut(time=begin, url=f"{root}/segments/{sid}/preview.jpg{link}")
            for sid, begin in samples
        ],
    )


@router.get(
    "/segments/{segment_id}/preview.jpg",
    response_class=FileResponse,
    responses={200: _JPEG, **problem_responses(401, 403, 404, 422, 503)},
)
async def segment_preview(
    camera: RecordingsMedia, segment_id: SegmentId, services: ServicesDep
) -> FileResponse:
    """A small image of the segment's first frame, for scrubbing (cached for a day)."""
    seg = await services.segments.get(camera.id, segment_id)
    if seg is None:
        raise RecordingNotFound
    path = services.nodes.node(seg.node).recording_file(seg.path)  # UnsafePath: 404
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise RecordingNotFound
        preview = await services.playback.previews.preview(path)
    except (OSError, NoFrame):
        raise RecordingNotFound from None
    return FileResponse(
        preview, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"}
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
        jpeg = await services.playback.snapshot(_local_file(services, row), at - row.start_ms)
    except (NoFrame, UnsafePath, OSError):
        raise _no_footage(camera.id, at) from None
    await services.auth.audit.record(
        actor_of(request), "recording.view", target=f"camera:{camera.id}", at=iso(at)
    )
    return Response(jpeg, media_type="image/jpeg")
