"""Tracking: ids that follow objects, stationary objects, zones entered after their time."""

from __future__ import annotations

import random

from vigil.detect.tracker import TrackChange, Tracker, TrackerSettings
from vigil.detect.types import Box, Detection
from vigil.detect.zones import Zone

FRAME_MS = 200  # 5 fps, the detect stream's usual rate


def person(x: float, y: float = 0.4, score: float = 0.8, label: str = "person") -> Detection:
    """A person-shaped box whose left edge is at x."""
    return Detection(label, score, Box(x, y, x + 0.08, y + 0.3))


def run(tracker: Tracker, frames: list[list[Detection]], start_ms: int = 0) -> list[TrackChange]:
    changes = []
    for index, detections in enumerate(frames):
        changes += tracker.update(detections, start_ms + index * FRAME_MS)
    return changes


def test_a_person_walking_across_keeps_one_id() -> None:
    tracker = Tracker()
    frames = [[person(0.02 * i)] for i in range(46)]
    changes = run(tracker, frames)
    assert {c.obj.id for c in changes} == {1}
    assert changes[0].kind == "new"
    updates = [c for c in changes if c.kind == "update"]
    # Reported as it moves, but not on every frame: about every 0.05 of the frame.
    assert 10 <= len(updates) <= 25
    assert all("moved" in c.reasons for c in updates)
    # Gone once it has been missing long enough.
    end = 46 * FRAME_MS
    assert tracker.update([], end + 1000) == []
    gone = tracker.update([], end + 3000)
    assert [(c.kind, c.obj.id) for c in gone] == [("gone", 1)]
    assert len(gone[0].obj.path) == 46  # the boxes it went through


def test_a_fast_walker_keeps_its_id() -> None:
    # 0.07 of the frame a frame: consecutive boxes barely overlap.
    tracker = Tracker()
    changes = run(tracker, [[person(0.07 * i)] for i in range(13)])
    assert {c.obj.id for c in changes} == {1}


def test_two_people_crossing_keep_their_ids() -> None:
    tracker = Tracker()
    steps = 40
    right_ids, left_ids = [], []
    for i in range(steps):
        walking_right = person(0.05 + 0.02 * i, y=0.40)
        walking_left = person(0.85 - 0.02 * i, y=0.43)
        tracker.update([walking_left, walking_right], i * FRAME_MS)
        by_box = {obj.box: obj.id for obj in tracker.tracked()}
        right_ids.append(by_box[walking_right.box])
        left_ids.append(by_box[walking_left.box])
    assert set(right_ids) == {right_ids[0]}
    assert set(left_ids) == {left_ids[0]}
    assert right_ids[0] != left_ids[0]


def test_an_object_that_stops_becomes_stationary_and_goes_quiet() -> None:
    settings = TrackerSettings(stationary_ms=5000)
    tracker = Tracker(settings)
    jitter = random.Random(5)
    walk = [[person(0.02 * i)] for i in range(10)]
    # Then it stands still for 20 s, its box jittering as detector boxes do.
    stand = [[person(0.18 + jitter.uniform(-0.004, 0.004))] for _ in range(100)]
    changes = run(tracker, walk + stand)
    standing = [c for c in changes if c.obj.last_seen_ms >= 10 * FRAME_MS]
    assert [(c.kind, c.reasons) for c in standing] == [("update", frozenset({"stationary"}))]
    became = standing[0].obj
    assert became.stationary
    assert 5000 <= became.last_seen_ms - 9 * FRAME_MS <= 5000 + 2 * FRAME_MS
    # Walking off again is reported at once.
    later = tracker.update([person(0.25)], 111 * FRAME_MS)
    assert [(c.kind, c.reasons, c.obj.stationary) for c in later] == [
        ("update", frozenset({"moved"}), False)
    ]


def test_a_stationary_object_not_looked_at_is_kept() -> None:
    tracker = Tracker(TrackerSettings(stationary_ms=1000, max_missing_ms=1000))
    run(tracker, [[person(0.5)] for _ in range(10)])
    assert tracker.tracked()[0].stationary
    elsewhere = [Box(0.0, 0.0, 0.2, 0.2)]
    # Detection ran only where something moved, far from it: it is not missing.
    assert tracker.update([], 10_000, searched=elsewhere) == []
    assert len(tracker.tracked()) == 1
    # Looked at its place and not found: gone.
    gone = tracker.update([], 10_200, searched=[Box(0.4, 0.3, 0.7, 0.8)])
    assert [c.kind for c in gone] == ["gone"]


def test_score_improvements_are_reported() -> None:
    tracker = Tracker()
    changes = run(tracker, [[person(0.3, score=s)] for s in (0.6, 0.62, 0.7, 0.69, 0.9)])
    assert [(c.kind, c.reasons, c.obj.best_score) for c in changes] == [
        ("new", frozenset(), 0.6),
        ("update", frozenset({"score"}), 0.7),
        ("update", frozenset({"score"}), 0.9),
    ]


DRIVEWAY = Zone(
    name="driveway",
    polygon=[(0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)],
    labels={"person"},
    min_score=0.6,
    min_seconds=2,
)


def zone_entries(changes: list[TrackChange]) -> list[tuple[int, int]]:
    """(object id, time) of each change that reports a zone entered."""
    return [(c.obj.id, c.obj.last_seen_ms) for c in changes if "zone" in c.reasons]


def walk_into_driveway(label: str = "person", score: float = 0.8) -> list[list[Detection]]:
    # Crosses x = 0.5 (anchor at x + 0.04) at frame 12, i.e. 2.4 s, then stays 4 s.
    walk = [[person(0.04 * i, label=label, score=score)] for i in range(16)]
    return walk + [[person(0.6, label=label, score=score)] for _ in range(20)]


def test_entering_a_zone_counts_after_its_minimum_time() -> None:
    tracker = Tracker(zones=[DRIVEWAY])
    changes = run(tracker, walk_into_driveway())
    assert zone_entries(changes) == [(1, 12 * FRAME_MS + 2000)]
    entered = next(c for c in changes if "zone" in c.reasons)
    assert entered.obj.zones == {"driveway"}
    assert all(not c.obj.zones for c in changes[: changes.index(entered)])


def test_a_brief_visit_to_a_zone_does_not_count() -> None:
    tracker = Tracker(zones=[DRIVEWAY])
    # Steps in for 1 s, out again, in again for 1 s: never 2 s at a time.
    step_in = [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6]
    path = step_in + [0.6] * 3 + step_in[::-1] + step_in + [0.6] * 3 + step_in[::-1]
    changes = run(tracker, [[person(x)] for x in path])
    assert zone_entries(changes) == []
    assert tracker.tracked()[0].zones == set()


def test_zone_label_and_score_filters_are_honoured() -> None:
    dog = Tracker(zones=[DRIVEWAY])
    assert zone_entries(run(dog, walk_into_driveway(label="dog"))) == []
    unsure = Tracker(zones=[DRIVEWAY])
    assert zone_entries(run(unsure, walk_into_driveway(score=0.5))) == []
    anyone = Zone(name="all", polygon=DRIVEWAY.polygon)
    both = Tracker(zones=[DRIVEWAY, anyone])
    changes = run(both, walk_into_driveway(label="dog"))
    assert zone_entries(changes) == [(1, 12 * FRAME_MS)]
    assert changes[-1].obj.zones == {"all"}


def test_a_stationary_object_still_enters_a_zone() -> None:
    # Parked in the zone and unseen since (nothing moves there): its time still runs.
    tracker = Tracker(TrackerSettings(stationary_ms=400), zones=[DRIVEWAY])
    run(tracker, [[person(0.6)] for _ in range(4)])
    assert tracker.tracked()[0].stationary
    assert tracker.tracked()[0].zones == set()
    changes = tracker.update([], 2000, searched=[Box(0.0, 0.0, 0.1, 0.1)])
    assert [(c.kind, c.reasons) for c in changes] == [("update", frozenset({"zone"}))]
