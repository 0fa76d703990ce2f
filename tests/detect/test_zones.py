"""Zones: what a user can draw, and which objects stand in them; per-label filters."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vigil.detect.filters import ObjectFilter, filter_detections
from vigil.detect.regions import regions_to_detect
from vigil.detect.tracker import TrackedObject
from vigil.detect.types import Box, Detection
from vigil.detect.zones import Zone, point_in_polygon, zones_containing

DRIVEWAY = [(0.5, 0.5), (1.0, 0.5), (1.0, 1.0), (0.5, 1.0)]


def errors(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, str]:
    return {".".join(map(str, e["loc"])): e["msg"] for e in exc.value.errors()}


def test_a_zone_needs_three_points() -> None:
    with pytest.raises(ValidationError) as exc:
        Zone(name="driveway", polygon=[(0.1, 0.1), (0.5, 0.5)])
    assert errors(exc) == {"polygon": "Value error, a zone needs at least 3 points, got 2"}


def test_zone_points_must_lie_in_the_frame() -> None:
    with pytest.raises(ValidationError) as exc:
        Zone(name="driveway", polygon=[(0.1, 0.1), (1.2, 0.5), (0.3, 0.9)])
    message = errors(exc)["polygon"]
    assert "point 1 (1.2, 0.5) is outside the frame" in message
    assert "from 0 to 1" in message


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"min_score": 1.5}, "min_score"),
        ({"min_seconds": -1}, "min_seconds"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_zone_fields_are_named(fields: dict[str, object], where: str) -> None:
    data: dict[str, object] = {"name": "driveway", "polygon": DRIVEWAY} | fields
    with pytest.raises(ValidationError) as exc:
        Zone.model_validate(data)
    assert list(errors(exc)) == [where]


def test_an_object_is_in_a_zone_where_it_stands() -> None:
    zone = Zone(name="driveway", polygon=DRIVEWAY)
    # Head above the zone, feet inside: a person standing on the driveway.
    assert zone.contains(Box(0.6, 0.2, 0.7, 0.6))
    # Feet above the zone's top edge: not on it.
    assert not zone.contains(Box(0.6, 0.1, 0.7, 0.45))
    # Overlapping the zone with the feet outside it does not count.
    assert not zone.contains(Box(0.2, 0.6, 0.45, 0.9))
    lawn = Zone(name="lawn", polygon=[(0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (0.0, 1.0)])
    assert [z.name for z in zones_containing(Box(0.6, 0.2, 0.7, 0.6), [zone, lawn])] == ["driveway"]


def test_point_in_a_concave_polygon() -> None:
    # A U shape: the notch between the arms is outside.
    u_shape = [
        (0.0, 0.0),
        (0.3, 0.0),
        (0.3, 0.6),
        (0.6, 0.6),
        (0.6, 0.0),
        (0.9, 0.0),
        (0.9, 1.0),
        (0.0, 1.0),
    ]
    assert point_in_polygon((0.1, 0.3), u_shape)
    assert point_in_polygon((0.8, 0.3), u_shape)
    assert not point_in_polygon((0.45, 0.3), u_shape)
    assert point_in_polygon((0.45, 0.8), u_shape)
    assert point_in_polygon((0.3, 0.3), u_shape)  # on an edge


def test_zone_label_and_score_filters() -> None:
    zone = Zone(name="driveway", polygon=DRIVEWAY, labels={"car"}, min_score=0.6)
    assert zone.admits("car", 0.7)
    assert not zone.admits("car", 0.5)
    assert not zone.admits("person", 0.9)
    assert Zone(name="any", polygon=DRIVEWAY).admits("dog", 0.0)


def test_filters_drop_unsure_small_and_large_detections() -> None:
    filters = {"person": ObjectFilter(min_score=0.6, min_area=0.01, max_area=0.5)}
    person = Box(0.4, 0.4, 0.6, 0.8)  # 0.08 of the frame
    found = [
        Detection("person", 0.9, person),
        Detection("person", 0.5, person),  # unsure
        Detection("person", 0.9, Box(0.5, 0.5, 0.55, 0.55)),  # 0.0025: too small
        Detection("person", 0.9, Box(0.0, 0.0, 0.9, 0.9)),  # 0.81: too large
        Detection("car", 0.55, person),  # the default filter wants 0.5
        Detection("car", 0.45, person),
    ]
    kept = filter_detections(found, filters)
    assert kept == [found[0], found[4]]
    assert filter_detections(found, filters, labels={"person"}) == [found[0]]


def test_filter_ranges_must_make_sense() -> None:
    with pytest.raises(ValidationError, match=r"min_area 0\.5 is above max_area 0\.1"):
        ObjectFilter(min_area=0.5, max_area=0.1)
    with pytest.raises(ValidationError) as exc:
        ObjectFilter(min_score=2)
    assert list(errors(exc)) == ["min_score"]


def moving(box: Box, stationary: bool = False) -> TrackedObject:
    return TrackedObject(1, "person", box, 0.9, 0.9, 0, 0, stationary=stationary)


def is_square(box: Box, aspect: float) -> bool:
    return abs((box.x2 - box.x1) * aspect - (box.y2 - box.y1)) < 1e-9


def test_regions_merge_overlapping_boxes_into_squares() -> None:
    aspect = 16 / 9
    motion = [Box(0.40, 0.40, 0.45, 0.50), Box(0.44, 0.45, 0.50, 0.55), Box(0.05, 0.05, 0.08, 0.1)]
    regions = regions_to_detect(motion, [], aspect, padding=0.0, min_side=0.2)
    assert len(regions) == 2
    for region in regions:
        assert is_square(region, aspect)
    near = next(r for r in regions if r.x1 > 0.2)
    # The merged square covers both overlapping boxes.
    assert near.x1 <= 0.40
    assert near.y1 <= 0.40
    assert near.x2 >= 0.50
    assert near.y2 >= 0.55


def test_regions_are_clamped_to_the_frame_and_skip_stationary_objects() -> None:
    aspect = 16 / 9
    corner = Box(0.9, 0.85, 1.0, 1.0)
    parked = moving(Box(0.1, 0.1, 0.2, 0.3), stationary=True)
    walking = moving(Box(0.45, 0.3, 0.5, 0.5))
    regions = regions_to_detect([corner], [parked, walking], aspect)
    assert len(regions) == 2
    for region in regions:
        assert 0 <= region.x1 < region.x2 <= 1
        assert 0 <= region.y1 < region.y2 <= 1
        assert is_square(region, aspect)
    # Moved in from the corner, not cut: still covers the whole motion box.
    in_corner = max(regions, key=lambda r: r.x2)
    assert (in_corner.x2, in_corner.y2) == (1.0, 1.0)
    assert in_corner.x1 <= 0.9
    assert not any(r.x1 <= 0.15 <= r.x2 and r.y1 <= 0.2 <= r.y2 for r in regions)


def test_a_region_larger_than_the_frame_allows_is_the_frame() -> None:
    regions = regions_to_detect([Box(0.0, 0.1, 1.0, 0.9)], [], 16 / 9)
    assert regions == [Box(0.0, 0.0, 1.0, 1.0)]
