"""Recordings of a camera: the timeline of a range, segment files, evidence lock."""

from __future__ import annotations

import logging
from pathlib import PurePosixPath
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, Response

from vigil.api.deps import ServicesDep
from vigil.api.problems import RecordingNotFound, problem_responses
from vigil.api.relay import relay_file
from vigil.api.routers import API_PREFIX
from vigil.api.schemas import (
    IntervalOut,
    ProtectedCount,
    RecordingsOut,
    SegmentChange,
    SegmentOut,
    TimeRange,
)
from vigil.api.security import (
    ProtectRecordings,
    RecordingsCamera,
    RecordingsMedia,
    actor_of,
    signed_query,
)
from vigil.api.types import Instant, SegmentId
from vigil.app import Services
from vigil.auth.tokens import MediaKind
from vigil.store.models import Segment
from vigil.store.segments import Interval, find_gaps
from vigil.timeutil import iso, now_ms

log = logging.getLogger(__name__)

router = APIRouter(prefix="/cameras/{camera_id}", tags=["recordings"])

DAY_MS = 86_400_000
DEFAULT_RANGE_MS = DAY_MS
# One request lists at most this much footage. 31 days of 10 s segments is ~270k rows (several
# seconds and tens of MB of JSON): a client showing a timeline should ask for less.
MAX_RANGE_MS = 31 * DAY_MS
_MAX_KEY_LENGTH = 500
# A key no segment can have (too long, a NUL) is 404 like any unknown one, so a prober learns
# nothing; the parameter's own bound only stops input without end.
StorageKey = Annotated[
    str, Path(max_length=4 * _MAX_KEY_LENGTH, description="a segment's `path` (storage key)")
]
_MP4 = {"content": {"video/mp4": {}}, "description": "the MP4 file; Range requests get 206"}


def _invalid(field: str, message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", field), "msg": message}]
    )


def _query_range(start: int | None, end: int | None, now: int) -> tuple[int, int]:
    """The range asked for: by default the last day up to now; refused if backwards or long."""
    end_ms = now if end is None else end
    start_ms = end_ms - DEFAULT_RANGE_MS if start is None else start
    if end_ms <= start_ms:
        raise _invalid("end" if end is not None else "start", "end must be after start")
    if end_ms - start_ms > MAX_RANGE_MS:
        days = MAX_RANGE_MS // DAY_MS
        raise _invalid("end" if end is not None else "start", f"range longer than {days} days")
    return start_ms, end_ms


def _file_url(request: Request, camera_id: int, segment_id: int, link: str) -> str:
    # Built by hand: a day of segments is thousands of URLs, too many for url_path_for.
    root = request.scope.get("root_path", "")
    return f"{root}{API_PREFIX}/cameras/{camera_id}/segments/{segment_id}/file{link}"


def _segment_out(request: Request, seg: Segment, link: str | None = None) -> SegmentOut:
    """The segment with a signed download URL (one link serves all of a camera's files)."""
    if link is None:
        link = signed_query(request, MediaKind.RECORDINGS, seg.camera_id)
    return SegmentOut.build(seg, _file_url(request, seg.camera_id, seg.id, link))


async def _file(
    services: Services, seg: Segment, range_header: str | None, shift_us: int = 0
) -> Response:
    """The segment's file from its node (Range answered), or RecordingNotFound (404) if it
    is gone; with ``shift_us``, its decode times moved (see ``download_file``)."""
    return await relay_file(
        services.nodes.node(seg.node),
        seg.path,
        range_header,
        media_type="video/mp4",
        filename=None if shift_us else PurePosixPath(seg.path).name,
        shift_us=shift_us,
    )


async def _segment(services: Services, camera_id: int, segment_id: int) -> Segment:
    seg = await services.segments.get(camera_id, segment_id)
    if seg is None:
        raise RecordingNotFound
    return seg


@router.get("/recordings", responses=problem_responses(401, 403, 404, 422))
async def list_recordings(
    camera: RecordingsCamera,
    request: Request,
    services: ServicesDep,
    start: Annotated[Instant | None, Query(description="default: a day before end")] = None,
    end: Annotated[Instant | None, Query(description="default: now")] = None,
    motion: Annotated[
        bool | None,
        Query(
            description="only segments with (true) or without (false) motion; spans and gaps"
            " still describe all the footage"
        ),
    ] = None,
) -> RecordingsOut:
    """Segments, continuous spans and gaps of a camera in a time range (at most 31 days)."""
    now = now_ms()
    start_ms, end_ms = _query_range(start, end, now)
    segments = await services.segments.in_range(camera.id, start_ms, end_ms)
    spans = [
        Interval(max(span.start_ms, start_ms), min(span.end_ms, end_ms))
        for span in await services.segments.spans_in_range(camera.id, start_ms, end_ms)
    ]
    gaps = find_gaps(spans, start_ms, min(end_ms, now))
    if motion is not None:
        segments = [seg for seg in segments if seg.motion == motion]
    link = signed_query(request, MediaKind.RECORDINGS, camera.id)
    return RecordingsOut(
        camera_id=camera.id,
        start=start_ms,
        end=end_ms,
        segments=[_segment_out(request, seg, link) for seg in segments],
        spans=[IntervalOut(start=s.start_ms, end=s.end_ms) for s in spans],
        gaps=[IntervalOut(start=g.start_ms, end=g.end_ms) for g in gaps],
        total_bytes=sum(seg.size for seg in segments),
    )


@router.get("/motion", responses=problem_responses(401, 403, 404, 422))
async def list_motion(
    camera: RecordingsCamera,
    services: ServicesDep,
    start: Annotated[Instant | None, Query(description="default: a day before end")] = None,
    end: Annotated[Instant | None, Query(description="default: now")] = None,
) -> list[IntervalOut]:
    """The camera's motion spans overlapping a time range (at most 31 days), oldest first,
    whole (not clipped to the range)."""
    start_ms, end_ms = _query_range(start, end, now_ms())
    spans = await services.events.store.motion_in_range(camera.id, start_ms, end_ms)
    return [IntervalOut(start=a, end=b) for a, b in spans]


@router.get("/segments/{segment_id}", responses=problem_responses(401, 403, 404, 422))
async def get_segment(
    camera: RecordingsCamera, segment_id: SegmentId, request: Request, services: ServicesDep
) -> SegmentOut:
    return _segment_out(request, await _segment(services, camera.id, segment_id))


@router.get(
    "/segments/{segment_id}/file",
    name="download_segment",
    response_class=FileResponse,
    responses={200: _MP4, **problem_responses(401, 403, 404, 422)},
)
async def download_segment(
    camera: RecordingsMedia, segment_id: SegmentId, request: Request, services: ServicesDep
) -> Response:
    """The segment's MP4 file (fragmented; plays as it downloads; Range supported)."""
    segment = await _segment(services, camera.id, segment_id)
    response = await _file(services, segment, request.headers.get("range"))
    if "range" not in request.headers:  # a download, not a player's byte-range reads
        await services.auth.audit.record(
            actor_of(request), "recording.download", target=f"segment:{segment_id}"
        )
    return response


@router.get(
    "/files/{path:path}",
    response_class=FileResponse,
    responses={200: _MP4, **problem_responses(401, 403, 404, 422)},
)
async def download_file(
    camera: RecordingsMedia,
    path: StorageKey,
    request: Request,
    services: ServicesDep,
    shift: Annotated[
        int,
        Query(
            ge=-(2**53),
            le=2**53,
            description="µs to move the file's decode times by: where a VOD playlist lays it "
            "on one timeline (vigil/playback/retime.py)",
        ),
    ] = 0,
) -> Response:
    """A recorded file by its storage key (a segment's ``path``); only indexed keys are served."""
    if len(path) > _MAX_KEY_LENGTH or "\x00" in path:
        raise RecordingNotFound
    seg = await services.segments.by_path(camera.id, path)
    if seg is None:
        raise RecordingNotFound
    return await _file(services, seg, request.headers.get("range"), shift)


@router.patch("/segments/{segment_id}", responses=problem_responses(400, 401, 403, 404, 422))
async def change_segment(
    camera: ProtectRecordings,
    segment_id: SegmentId,
    body: SegmentChange,
    request: Request,
    services: ServicesDep,
) -> SegmentOut:
    """Protect (evidence-lock) or release one segment; retention never deletes protected ones."""
    if not await services.segments.set_segment_protected(camera.id, segment_id, body.protected):
        raise RecordingNotFound
    await services.auth.audit.record(
        actor_of(request),
        "recording.protect" if body.protected else "recording.unprotect",
        target=f"segment:{segment_id}",
    )
    log.info("camera %s: segment %s protected=%s", camera.id, segment_id, body.protected)
    return _segment_out(request, await _segment(services, camera.id, segment_id))


@router.post("/recordings/protect", responses=problem_responses(400, 401, 403, 404, 422))
async def protect_range(
    camera: ProtectRecordings, body: TimeRange, request: Request, services: ServicesDep
) -> ProtectedCount:
    """Protect every segment overlapping [start, end) from retention and deletion."""
    count = await services.segments.set_protected(camera.id, body.start, body.end, True)
    await _audit_range(request, services, "recording.protect", camera.id, body, count)
    log.info("camera %s: %d segments protected", camera.id, count)
    return ProtectedCount(segments=count)


@router.post("/recordings/unprotect", responses=problem_responses(400, 401, 403, 404, 422))
async def unprotect_range(
    camera: ProtectRecordings, body: TimeRange, request: Request, services: ServicesDep
) -> ProtectedCount:
    """Release every segment overlapping [start, end); retention may then delete them."""
    count = await services.segments.set_protected(camera.id, body.start, body.end, False)
    await _audit_range(request, services, "recording.unprotect", camera.id, body, count)
    log.info("camera %s: %d segments released", camera.id, count)
    return ProtectedCount(segments=count)


async def _audit_range(
    request: Request,
    services: Services,
    action: str,
    camera_id: int,
    body: TimeRange,
    count: int,
) -> None:
    await services.auth.audit.record(
        actor_of(request),
        action,
        target=f"camera:{camera_id}",
        start=iso(body.start),
        end=iso(body.end),
        segments=count,
    )
