"""Tracking: detections on successive frames become objects with ids, zones and a path."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vigil.detect.types import Box, Detection
from vigil.detect.zones import Zone

ChangeKind = Literal["new", "update", "gone"]
Reason = Literal["moved", "zone", "score", "stationary"]


class TrackerSettings(BaseModel):
    """How detections are matched and when a change is worth reporting; distances normalised."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    iou_threshold: float = Field(default=0.2, gt=0.0, le=1.0)
    max_center_distance: float = Field(
        default=0.15, ge=0.0, le=2.0, description="centroid fallback when boxes no longer overlap"
    )
    max_missing_ms: int = Field(default=2000, ge=0, le=600_000)
    stationary_threshold: float = Field(
        default=0.02,
        ge=0.0,
        le=1.0,
        description="largest edge movement still counted as standing still",
    )
    stationary_ms: int = Field(default=10_000, ge=0, le=86_400_000)
    move_threshold: float = Field(
        default=0.05, ge=0.0, le=1.0, description="movement worth an update"
    )
    score_step: float = Field(
        default=0.05, ge=0.0, le=1.0, description="best-score rise worth an update"
    )
    path_length: int = Field(default=50, ge=2, le=1000)


@dataclass(slots=True)
class TrackedObject:
    """One object followed across frames; ids count up per camera (per tracker)."""

    id: int
    label: str
    box: Box
    score: float
    best_score: float
    first_seen_ms: int
    last_seen_ms: int
    zones: set[str] = field(default_factory=set)  # zones entered (min_seconds met), ever
    in_zones: dict[str, int] = field(default_factory=dict)  # zones it is in now → since (ms)
    stationary: bool = False
    path: deque[Box] = field(default_factory=deque)
    # Where it last stood still since when, and what was last reported: to decide what changed.
    still_box: Box | None = None
    still_since_ms: int = 0
    reported_box: Box | None = None
    reported_score: float = 0.0
    velocity: tuple[float, float] = (0.0, 0.0)  # centre movement per ms

    def snapshot(self) -> TrackedObject:
        """A copy the tracker will not change afterwards."""
        return replace(
            self, zones=set(self.zones), in_zones=dict(self.in_zones), path=deque(self.path)
        )


@dataclass(frozen=True, slots=True)
class TrackChange:
    """What the tracker reports to the events stage: an object's copy and why."""

    kind: ChangeKind
    obj: TrackedObject
    reasons: frozenset[Reason] = frozenset()


def shift(box: Box, dx: float, dy: float) -> Box:
    return Box(box.x1 + dx, box.y1 + dy, box.x2 + dx, box.y2 + dy)


def displacement(a: Box, b: Box) -> float:
    """The largest movement of any edge between two boxes."""
    return max(abs(a.x1 - b.x1), abs(a.y1 - b.y1), abs(a.x2 - b.x2), abs(a.y2 - b.y2))


def _center_distance(a: Box, b: Box) -> float:
    (ax, ay), (bx, by) = a.center, b.center
    return math.hypot(ax - bx, ay - by)


def _inside_any(box: Box, regions: Sequence[Box]) -> bool:
    x, y = box.center
    return any(r.x1 <= x <= r.x2 and r.y1 <= y <= r.y2 for r in regions)


class Tracker:
    """IoU tracking with a constant-velocity guess, and a centroid fallback, for one camera."""

    def __init__(self, settings: TrackerSettings | None = None, zones: Iterable[Zone] = ()):
        self.settings = settings or TrackerSettings()
        self.zones = list(zones)
        self.objects: dict[int, TrackedObject] = {}
        self._next_id = 1

    def update(
        self,
        detections: Sequence[Detection],
        now_ms: int,
        searched: Sequence[Box] | None = None,
    ) -> list[TrackChange]:
        """Take one frame's detections; ``searched``: the regions detection ran on (None: all).

        An object outside every searched region was not looked for, so it is not missing:
        stationary objects stay tracked while nothing moves near them.
        """
        matches, unmatched = self._match(detections, now_ms)
        changes: list[TrackChange] = []
        for obj, detection in matches:
            reasons = self._follow(obj, detection, now_ms)
            if reasons:
                changes.append(self._report(obj, "update", reasons))
        for detection in unmatched:
            obj = self._start(detection, now_ms)
            changes.append(self._report(obj, "new", frozenset()))
        seen = {obj.id for obj, _ in matches} | {c.obj.id for c in changes if c.kind == "new"}
        for obj in list(self.objects.values()):
            if obj.id in seen:
                continue
            looked = searched is None or _inside_any(obj.box, searched)
            if looked and now_ms - obj.last_seen_ms > self.settings.max_missing_ms:
                del self.objects[obj.id]
                changes.append(TrackChange("gone", obj.snapshot()))
            elif self._enter_zones(obj, now_ms):
                changes.append(self._report(obj, "update", frozenset({"zone"})))
        return changes

    def tracked(self) -> list[TrackedObject]:
        return list(self.objects.values())

    def _predict(self, obj: TrackedObject, now_ms: int) -> Box:
        """Where the object should be now if it keeps its last velocity."""
        ahead = now_ms - obj.last_seen_ms
        return shift(obj.box, obj.velocity[0] * ahead, obj.velocity[1] * ahead)

    def _match(
        self, detections: Sequence[Detection], now_ms: int
    ) -> tuple[list[tuple[TrackedObject, Detection]], list[Detection]]:
        """Greedy matching, same label only: best overlap first, then nearest centre."""
        predicted = {obj.id: self._predict(obj, now_ms) for obj in self.objects.values()}
        by_iou: list[tuple[float, int, int]] = []
        by_distance: list[tuple[float, int, int]] = []
        for d_index, detection in enumerate(detections):
            for obj in self.objects.values():
                if obj.label != detection.label:
                    continue
                # The better of the guess and the last box: a guess can overshoot a stop.
                iou = max(detection.box.iou(predicted[obj.id]), detection.box.iou(obj.box))
                if iou >= self.settings.iou_threshold:
                    by_iou.append((-iou, obj.id, d_index))
                distance = _center_distance(detection.box, predicted[obj.id])
                if distance <= self.settings.max_center_distance:
                    by_distance.append((distance, obj.id, d_index))
        matched_objects: set[int] = set()
        matched_detections: set[int] = set()
        matches: list[tuple[TrackedObject, Detection]] = []
        for _, obj_id, d_index in sorted(by_iou) + sorted(by_distance):
            if obj_id in matched_objects or d_index in matched_detections:
                continue
            matched_objects.add(obj_id)
            matched_detections.add(d_index)
            matches.append((self.objects[obj_id], detections[d_index]))
        unmatched = [d for i, d in enumerate(detections) if i not in matched_detections]
        return matches, unmatched

    def _start(self, detection: Detection, now_ms: int) -> TrackedObject:
        obj = TrackedObject(
            id=self._next_id,
            label=detection.label,
            box=detection.box,
            score=detection.score,
            best_score=detection.score,
            first_seen_ms=now_ms,
            last_seen_ms=now_ms,
            path=deque([detection.box], maxlen=self.settings.path_length),
            still_box=detection.box,
            still_since_ms=now_ms,
        )
        self._next_id += 1
        self.objects[obj.id] = obj
        self._place(obj, now_ms)
        self._enter_zones(obj, now_ms)
        return obj

    def _follow(self, obj: TrackedObject, detection: Detection, now_ms: int) -> set[Reason]:
        """Move a tracked object to its new detection; the reasons worth reporting, if any."""
        settings = self.settings
        dt = now_ms - obj.last_seen_ms
        if dt > 0:
            (px, py), (cx, cy) = obj.box.center, detection.box.center
            # Smoothed, so one jittery box does not throw the next guess off.
            vx, vy = (cx - px) / dt, (cy - py) / dt
            obj.velocity = (0.5 * obj.velocity[0] + 0.5 * vx, 0.5 * obj.velocity[1] + 0.5 * vy)
        obj.box = detection.box
        obj.score = detection.score
        obj.last_seen_ms = now_ms
        obj.path.append(detection.box)
        reasons: set[Reason] = set()
        still = obj.still_box or detection.box
        if displacement(detection.box, still) > settings.stationary_threshold:
            obj.still_box, obj.still_since_ms = detection.box, now_ms
            if obj.stationary:
                obj.stationary = False
                reasons.add("moved")
        elif not obj.stationary and now_ms - obj.still_since_ms >= settings.stationary_ms:
            obj.stationary = True
            obj.velocity = (0.0, 0.0)
            reasons.add("stationary")
        if detection.score > obj.best_score:
            obj.best_score = detection.score
        if not obj.stationary:
            reported = obj.reported_box or detection.box
            if displacement(detection.box, reported) > settings.move_threshold:
                reasons.add("moved")
            gain = obj.best_score - obj.reported_score
            if gain > 0 and gain >= settings.score_step:
                reasons.add("score")
        self._place(obj, now_ms)
        if self._enter_zones(obj, now_ms):
            reasons.add("zone")
        return reasons

    def _place(self, obj: TrackedObject, now_ms: int) -> None:
        """Note which zones the object stands in now, and since when.

        The best score counts, so one unsure frame does not restart a zone's timer.
        """
        here = {
            zone.name
            for zone in self.zones
            if zone.admits(obj.label, obj.best_score) and zone.contains(obj.box)
        }
        for name in list(obj.in_zones):
            if name not in here:
                del obj.in_zones[name]
        for name in here:
            obj.in_zones.setdefault(name, now_ms)

    def _enter_zones(self, obj: TrackedObject, now_ms: int) -> bool:
        """Count zones the object has now stayed in long enough; whether any is new."""
        entered = False
        for zone in self.zones:
            since = obj.in_zones.get(zone.name)
            if since is None or zone.name in obj.zones:
                continue
            if now_ms - since >= zone.min_seconds * 1000:
                obj.zones.add(zone.name)
                entered = True
        return entered

    def _report(
        self, obj: TrackedObject, kind: ChangeKind, reasons: Iterable[Reason]
    ) -> TrackChange:
        obj.reported_box = obj.box
        obj.reported_score = obj.best_score
        return TrackChange(kind, obj.snapshot(), frozenset(reasons))
