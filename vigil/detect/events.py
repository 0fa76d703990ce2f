"""Events from what one camera's pipeline reports: they open, update and end.

An object event follows one tracked object of a wanted label. It opens when the object
qualifies (the pipeline's label filters passed, and on a camera with zones, the object has
entered one), gets updates while it moves, enters zones or is seen more surely, and ends
``quiet_seconds`` after its last activity once the object is gone or stands still (a parked
car is not an event all night: it opens a new one when it moves again). A motion event (on
cameras set to ``motion_events``) lasts while motion goes on, with the same quiet period.
An event longer than ``max_event_seconds`` is ended; its object opens a new one.

The builder decides; the caller writes snapshots and sends the records it returns.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from vigil.detect.pipeline import FrameResult
from vigil.detect.settings import DetectionSettings
from vigil.detect.tracker import TrackChange, TrackedObject
from vigil.detect.types import Box
from vigil.link.messages import (
    BoxAt,
    EventKind,
    EventRecord,
    EventSnapshot,
    EventStage,
)

# The path kept per event: past this, every other point is dropped (the path stays whole).
MAX_BOXES = 240
# Updates of one event go out at most this often, unless it entered a zone.
UPDATE_INTERVAL_MS = 1000
# A snapshot is retaken when the score rises this much, at most once a second.
SNAPSHOT_SCORE_STEP = 0.03
SNAPSHOT_INTERVAL_MS = 1000


@dataclass(frozen=True, slots=True)
class SnapshotWanted:
    """Take the current frame as the event's snapshot; ``box`` is the object's."""

    uid: str
    time_ms: int
    score: float
    box: Box | None


@dataclass(slots=True)
class _Open:
    uid: str
    kind: EventKind
    label: str
    score: float
    start_ms: int
    last_ms: int
    track_id: int | None = None
    zones: list[str] = field(default_factory=list)
    boxes: list[BoxAt] = field(default_factory=list)
    idle: bool = False  # the object is gone or stands still: the quiet period runs
    snapshot: EventSnapshot | None = None
    snapshot_score: float = -1.0
    snapshot_at: int = -(10**12)
    sent_at: int = -(10**12)


@dataclass(frozen=True, slots=True)
class Step:
    """What one frame changed: records to send, and snapshots to take from this frame."""

    records: list[EventRecord] = field(default_factory=list)
    snapshots: list[SnapshotWanted] = field(default_factory=list)


def _box_at(time_ms: int, box: Box) -> BoxAt:
    return BoxAt(time_ms=time_ms, x1=box.x1, y1=box.y1, x2=box.x2, y2=box.y2)


class EventBuilder:
    """One camera's events, frame by frame."""

    def __init__(
        self,
        camera_id: int,
        settings: DetectionSettings,
        new_uid: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.camera_id = camera_id
        self.settings = settings
        self._new_uid = new_uid
        self._open: dict[str, _Open] = {}  # by uid
        self._by_track: dict[int, str] = {}
        self._motion: str | None = None  # uid of the open motion event
        # Tracks whose event ended while they stood still: a new one opens when they move.
        self._resting: set[int] = set()

    @property
    def open_events(self) -> int:
        return len(self._open)

    def step(self, result: FrameResult) -> Step:
        now = result.time_ms
        records: list[EventRecord] = []
        snapshots: list[SnapshotWanted] = []
        for change in result.changes:
            self._object(change, now, records, snapshots)
        if self.settings.motion_events:
            self._motion_step(result, now, records, snapshots)
        self._close_quiet(now, records)
        return Step(records, snapshots)

    def set_snapshot(self, wanted: SnapshotWanted, path: str) -> EventRecord | None:
        """Note the snapshot written for ``wanted``; the record to send, if the event lasts."""
        event = self._open.get(wanted.uid)
        if event is None:
            return None
        box = _box_at(wanted.time_ms, wanted.box) if wanted.box is not None else None
        event.snapshot = EventSnapshot(
            path=path, time_ms=wanted.time_ms, score=wanted.score, box=box
        )
        return self._record(event, EventStage.UPDATE)

    def end_all(self, now_ms: int) -> list[EventRecord]:
        """End every open event now (detection stops or changes)."""
        ended = [self._end(event) for event in list(self._open.values())]
        self._resting.clear()
        return ended

    # -- objects
    def _qualifies(self, obj: TrackedObject) -> bool:
        if obj.label not in self.settings.labels:
            return False
        return not self.settings.zones or bool(obj.zones)

    def _object(
        self,
        change: TrackChange,
        now: int,
        records: list[EventRecord],
        snapshots: list[SnapshotWanted],
    ) -> None:
        obj = change.obj
        uid = self._by_track.get(obj.id)
        event = self._open.get(uid) if uid is not None else None
        if change.kind == "gone":
            self._resting.discard(obj.id)
            if event is not None:
                event.idle = True
                if not obj.stationary and obj.last_seen_ms > event.last_ms:
                    # Its last sighting, which moved too little to be reported.
                    event.last_ms = obj.last_seen_ms
                    event.boxes.append(_box_at(obj.last_seen_ms, obj.box))
            return
        if event is None:
            if not self._qualifies(obj) or obj.stationary:
                return
            if obj.id in self._resting and "moved" not in change.reasons:
                return
            self._resting.discard(obj.id)
            event = _Open(
                uid=self._new_uid(),
                kind=EventKind.OBJECT,
                label=obj.label,
                score=obj.best_score,
                start_ms=min(obj.first_seen_ms, now) if change.kind == "new" else now,
                last_ms=now,
                track_id=obj.id,
                zones=sorted(obj.zones),
                boxes=[_box_at(now, obj.box)],
            )
            self._open[event.uid] = event
            self._by_track[obj.id] = event.uid
            records.append(self._record(event, EventStage.NEW))
            self._want_snapshot(event, now, obj.best_score, obj.box, snapshots)
            return
        event.boxes.append(_box_at(now, obj.box))
        if len(event.boxes) > MAX_BOXES:
            event.boxes = event.boxes[::2]
        new_zones = [z for z in sorted(obj.zones) if z not in event.zones]
        event.zones += new_zones
        event.score = max(event.score, obj.best_score)
        if obj.stationary:
            event.idle = True  # its quiet period runs from the last time it moved
        else:
            event.idle = False
            event.last_ms = now
        self._want_snapshot(event, now, obj.score, obj.box, snapshots)
        if new_zones or now - event.sent_at >= UPDATE_INTERVAL_MS:
            records.append(self._record(event, EventStage.UPDATE))

    def _want_snapshot(
        self,
        event: _Open,
        now: int,
        score: float,
        box: Box | None,
        snapshots: list[SnapshotWanted],
    ) -> None:
        if score < event.snapshot_score + SNAPSHOT_SCORE_STEP:
            return
        if now - event.snapshot_at < SNAPSHOT_INTERVAL_MS:
            return
        event.snapshot_score = score
        event.snapshot_at = now
        snapshots.append(SnapshotWanted(event.uid, now, score, box))

    # -- motion
    def _motion_step(
        self,
        result: FrameResult,
        now: int,
        records: list[EventRecord],
        snapshots: list[SnapshotWanted],
    ) -> None:
        motion = result.motion
        event = self._open.get(self._motion) if self._motion is not None else None
        if not motion.motion:
            if event is not None:
                event.idle = True
            return
        box = _union(motion.boxes)
        if event is None:
            event = _Open(
                uid=self._new_uid(),
                kind=EventKind.MOTION,
                label="motion",
                score=motion.score,
                start_ms=now,
                last_ms=now,
                boxes=[_box_at(now, box)],
            )
            self._open[event.uid] = event
            self._motion = event.uid
            records.append(self._record(event, EventStage.NEW))
            self._want_snapshot(event, now, motion.score, None, snapshots)
            return
        event.idle = False
        event.last_ms = now
        event.score = max(event.score, motion.score)
        event.boxes.append(_box_at(now, box))
        if len(event.boxes) > MAX_BOXES:
            event.boxes = event.boxes[::2]
        if now - event.sent_at >= UPDATE_INTERVAL_MS * 5:
            records.append(self._record(event, EventStage.UPDATE))

    # -- ending
    def _close_quiet(self, now: int, records: list[EventRecord]) -> None:
        quiet_ms = round(self.settings.quiet_seconds * 1000)
        longest_ms = round(self.settings.max_event_seconds * 1000)
        for event in list(self._open.values()):
            if event.idle and now - event.last_ms >= quiet_ms:
                records.append(self._end(event))
            elif now - event.start_ms >= longest_ms:
                records.append(self._end(event))
                if event.track_id is not None:
                    # Still there: it opens a new event when it next moves.
                    self._resting.add(event.track_id)

    def _end(self, event: _Open) -> EventRecord:
        del self._open[event.uid]
        if event.track_id is not None:
            self._by_track.pop(event.track_id, None)
            if event.idle:
                self._resting.add(event.track_id)
        if self._motion == event.uid:
            self._motion = None
        return self._record(event, EventStage.END)

    def _record(self, event: _Open, stage: EventStage) -> EventRecord:
        event.sent_at = event.boxes[-1].time_ms if event.boxes else event.last_ms
        return EventRecord(
            uid=event.uid,
            camera_id=self.camera_id,
            stage=stage,
            kind=event.kind,
            label=event.label,
            score=round(event.score, 4),
            zones=list(event.zones),
            start_ms=event.start_ms,
            end_ms=event.last_ms if stage is EventStage.END else None,
            last_ms=event.last_ms,
            pre_ms=round(self.settings.pre_seconds * 1000),
            post_ms=round(self.settings.post_seconds * 1000),
            boxes=list(event.boxes),
            snapshot=event.snapshot,
        )


def _union(boxes: list[Box]) -> Box:
    return Box(
        min(b.x1 for b in boxes),
        min(b.y1 for b in boxes),
        max(b.x2 for b in boxes),
        max(b.y2 for b in boxes),
    )
