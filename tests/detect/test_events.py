"""Events from tracked objects and motion: when they open, update and end."""

from __future__ import annotations

import itertools

from vigil.detect.events import EventBuilder, Step
from vigil.detect.motion import MotionResult
from vigil.detect.pipeline import FrameResult
from vigil.detect.settings import DetectionSettings
from vigil.detect.tracker import Tracker, TrackerSettings
from vigil.detect.types import Box, Detection
from vigil.detect.zones import Zone
from vigil.link.messages import EventKind, EventRecord, EventStage

STEP_MS = 200
RIGHT = Zone(name="driveway", polygon=[(0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)])


def person_at(x: float, score: float = 0.8) -> Detection:
    return Detection("person", score, Box(x - 0.05, 0.3, x + 0.05, 0.7))


class Camera:
    """A tracker and an event builder fed frame by frame, as the node does."""

    def __init__(self, settings: DetectionSettings) -> None:
        self.tracker = Tracker(settings.tracker, settings.zones)
        counter = itertools.count(1)
        self.builder = EventBuilder(7, settings, new_uid=lambda: f"e{next(counter)}")
        self.time = 0
        self.records: list[EventRecord] = []

    def frame(self, *detections: Detection, motion: bool | None = None) -> Step:
        self.time += STEP_MS
        changes = self.tracker.update(list(detections), self.time)
        moving = bool(detections) if motion is None else motion
        result = FrameResult(
            self.time,
            MotionResult([Box(0.1, 0.1, 0.3, 0.3)] if moving else [], 0.05 if moving else 0.0),
            changes=changes,
        )
        step = self.builder.step(result)
        self.records += step.records
        return step

    def stages(self, uid: str) -> list[EventStage]:
        return [r.stage for r in self.records if r.uid == uid]


def test_a_person_walking_through_opens_updates_and_ends_one_event() -> None:
    camera = Camera(DetectionSettings(quiet_seconds=1))
    first = camera.frame(person_at(0.1))
    assert [r.stage for r in first.records] == [EventStage.NEW]
    assert first.snapshots
    assert first.snapshots[0].uid == "e1"
    for step in range(1, 20):
        camera.frame(person_at(0.1 + step * 0.04))
    for _ in range(25):  # gone: the tracker lets it go after 2 s, then 1 s of quiet
        camera.frame()
    stages = camera.stages("e1")
    assert stages[0] is EventStage.NEW
    assert stages[-1] is EventStage.END
    assert EventStage.UPDATE in stages
    end = camera.records[-1]
    assert (end.label, end.kind, end.start_ms) == ("person", EventKind.OBJECT, STEP_MS)
    assert end.end_ms == 20 * STEP_MS  # its last sighting, not when it was let go
    assert end.score == 0.8
    # Its path: a point each time it moved enough to be reported, and its last sighting.
    times = [b.time_ms for b in end.boxes]
    assert len(times) >= 8
    assert times == sorted(times)
    assert times[-1] == 20 * STEP_MS
    assert end.boxes[-1].x1 > end.boxes[0].x1
    assert {r.uid for r in camera.records} == {"e1"}


def test_with_zones_only_an_object_that_enters_one_makes_an_event() -> None:
    camera = Camera(DetectionSettings(zones=[RIGHT], quiet_seconds=1))
    for step in range(10):  # the left half only
        camera.frame(person_at(0.1 + step * 0.03))
    assert camera.records == []
    for step in range(10):  # on into the right half
        camera.frame(person_at(0.45 + step * 0.03))
    new = [r for r in camera.records if r.stage is EventStage.NEW]
    assert len(new) == 1
    assert new[0].zones == ["driveway"]
    assert new[0].start_ms > 10 * STEP_MS  # when it entered the zone


def test_unwanted_labels_and_stationary_objects_make_no_new_events() -> None:
    settings = DetectionSettings(
        labels={"person"}, quiet_seconds=1, tracker=TrackerSettings(stationary_ms=1000)
    )
    camera = Camera(settings)
    car = Detection("car", 0.9, Box(0.6, 0.6, 0.8, 0.8))
    for _ in range(10):
        camera.frame(car)
    assert camera.records == []
    # A person who stops: the event ends after the quiet period, and standing there all
    # night makes no more events; walking on opens a new one.
    camera = Camera(settings)
    for step in range(5):
        camera.frame(person_at(0.2 + step * 0.04))
    for _ in range(30):
        camera.frame(person_at(0.36))
    assert camera.stages("e1")[-1] is EventStage.END
    assert camera.records[-1].end_ms is not None
    assert "e2" not in {r.uid for r in camera.records}
    for step in range(5):
        camera.frame(person_at(0.4 + step * 0.06))
    assert camera.stages("e2")[0] is EventStage.NEW


def test_motion_events_last_while_motion_goes_on() -> None:
    camera = Camera(DetectionSettings(motion_events=True, object_detection=False, quiet_seconds=1))
    camera.frame(motion=False)
    for _ in range(10):
        camera.frame(motion=True)
    for _ in range(10):
        camera.frame(motion=False)
    (new, *_, end) = camera.records
    assert (new.stage, new.label, new.kind) == (EventStage.NEW, "motion", EventKind.MOTION)
    assert end.stage is EventStage.END
    assert (end.start_ms, end.end_ms) == (2 * STEP_MS, 11 * STEP_MS)


def test_snapshots_follow_the_best_score_and_end_all_closes_everything() -> None:
    camera = Camera(DetectionSettings())
    snapshots = []
    for step, score in enumerate([0.6, 0.62, 0.7, 0.9, 0.91, 0.95, 0.5]):
        for _ in range(5):  # a second between scores
            snapshots += camera.frame(person_at(0.1 + step * 0.1, score)).snapshots
    assert [round(s.score, 2) for s in snapshots] == [0.6, 0.7, 0.9, 0.95]
    record = camera.builder.set_snapshot(snapshots[-1], "events/7/x/e1.jpg")
    assert record is not None
    assert record.snapshot is not None
    assert record.snapshot.path == "events/7/x/e1.jpg"
    assert record.snapshot.box is not None
    ended = camera.builder.end_all(camera.time)
    assert [(r.uid, r.stage) for r in ended] == [("e1", EventStage.END)]
    assert camera.builder.open_events == 0


def test_an_overlong_event_is_cut() -> None:
    camera = Camera(DetectionSettings(max_event_seconds=10, quiet_seconds=1))
    for step in range(60):  # 12 s of slow walking
        camera.frame(person_at(0.1 + 0.012 * step))
    assert camera.stages("e1")[-1] is EventStage.END
    first = [r for r in camera.records if r.uid == "e1"][-1]
    assert first.end_ms is not None
    assert first.end_ms - first.start_ms <= 10_000
    assert camera.stages("e2")[0] is EventStage.NEW  # the same person, walking on
