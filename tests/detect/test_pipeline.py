"""One camera's pipeline on rendered scenes with the real SSD model in a real worker process."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from vigil.detect.objects import DetectorPool, DetectorSpec
from vigil.detect.pipeline import (
    CameraPipeline,
    FrameResult,
    MotionInterval,
    MotionLog,
    suppress_duplicates,
    to_frame,
)
from vigil.detect.scenes import Mover, Scene, SceneFrame, render
from vigil.detect.settings import PipelineSettings
from vigil.detect.types import Bgr, Box, Detection
from vigil.detect.zones import Zone
from vigil.link.messages import DetectConfig
from vigil.node.detect_stream import DetectStream

DATA = Path(__file__).parent / "data"
WIDTH, HEIGHT = 320, 180  # the detect stream's default size
STEP_MS = 200  # 5 fps


def person_patch() -> Bgr:
    """The man in the blue jacket from the darknet photo, with a little of the street."""
    image = cv2.imread(str(DATA / "person.jpg"))
    assert image is not None
    h, w = image.shape[:2]
    return np.ascontiguousarray(image[int(0.20 * h) : int(0.92 * h), int(0.27 * w) : int(0.45 * w)])


def walker_scene(frames: int = 45, start: int = 5, end: int = 35) -> Scene:
    """A person walking left to right across the frame, in sight from ``start`` to ``end``."""
    patch = person_patch()
    height = 0.6  # of the frame
    width = height * patch.shape[1] / patch.shape[0] * HEIGHT / WIDTH
    walker = Mover(
        [(-0.05, 0.55), (1.1, 0.6)], (width, height), start, end, patch=patch, label="person"
    )
    return Scene("walker", frames, seed=3, movers=(walker,))


async def play(pipeline: CameraPipeline, scene: Scene) -> list[tuple[SceneFrame, FrameResult]]:
    """Each frame of the scene, in the detect stream's grey, through the pipeline."""
    out = []
    for frame in render(scene, WIDTH, HEIGHT):
        out.append((frame, await pipeline.process(frame.gray, None, frame.index * STEP_MS)))
    return out


@pytest.fixture
async def ssd_pool() -> AsyncIterator[DetectorPool]:
    async with DetectorPool(DetectorSpec("ssd"), workers=1) as pool:
        yield pool


async def test_a_person_walking_through_is_seen_tracked_and_gone(ssd_pool: DetectorPool) -> None:
    pipeline = CameraPipeline(PipelineSettings(), ssd_pool)
    results = await play(pipeline, walker_scene())
    changes = [(frame.index, change) for frame, result in results for change in result.changes]

    first_motion = next(f.index for f, r in results if r.motion.motion)
    assert 5 <= first_motion <= 6
    new = [(i, c) for i, c in changes if c.kind == "new"]
    assert len(new) == 1, new  # one person, one track: no duplicates from overlapping crops
    new_at, track = new[0]
    assert first_motion <= new_at <= 12
    assert track.obj.label == "person"
    assert track.obj.best_score >= 0.6
    assert {c.obj.id for _, c in changes} == {track.obj.id}
    gone = [(i, c) for i, c in changes if c.kind == "gone"]
    assert len(gone) == 1
    assert gone[0][0] > 35  # only after it left
    assert pipeline.tracked() == []
    # The detector looked only where something moved: a region for each frame it ran.
    for frame, result in results:
        if result.detections:
            assert result.regions
            (person,) = result.detections
            assert frame.boxes, frame.index
            assert person.box.iou(frame.boxes[0]) >= 0.4, (frame.index, person)
    assert pipeline.skipped >= 5  # the frames before it came in
    assert pipeline.errors == 0


async def test_a_still_noisy_scene_never_calls_the_detector(ssd_pool: DetectorPool) -> None:
    pipeline = CameraPipeline(PipelineSettings(), ssd_pool)
    results = await play(pipeline, Scene("still", 30, seed=11, noise=6.0))
    assert not any(r.motion.motion or r.regions or r.changes for _, r in results)
    assert pipeline.detector_calls == 0
    assert pipeline.skipped == pipeline.frames == 30
    assert pipeline.motion_intervals(0) == []


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_a_failing_detector_is_counted_and_motion_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = DetectorSpec("remote", {"url": f"http://127.0.0.1:{closed_port()}", "timeout": 2.0})
    async with DetectorPool(spec, workers=1) as pool:
        pipeline = CameraPipeline(PipelineSettings(), pool)
        with caplog.at_level(logging.WARNING, logger="vigil.detect.pipeline"):
            results = await play(pipeline, walker_scene(frames=20, end=20))
    moving = [r for _, r in results if r.motion.motion]
    assert len(moving) >= 10  # motion is still reported
    assert all(r.error and "unreachable" in r.error for r in moving)
    assert not any(r.detections or r.changes for _, r in results)
    assert pipeline.errors == len(moving)
    assert pipeline.last_error is not None
    assert "unreachable" in pipeline.last_error
    warnings = [r for r in caplog.records if r.name == "vigil.detect.pipeline"]
    assert len(warnings) == 1  # the same error is logged once, not every frame
    assert pipeline.motion_intervals(0)


async def test_the_person_entering_a_zone_shows_on_its_track(ssd_pool: DetectorPool) -> None:
    right = Zone(name="driveway", polygon=[(0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)])
    cars = Zone(name="parking", polygon=right.polygon, labels={"car"})
    pipeline = CameraPipeline(PipelineSettings(zones=[right, cars]), ssd_pool)
    results = await play(pipeline, walker_scene())
    changes = [c for _, r in results for c in r.changes]
    assert changes[0].kind == "new"
    assert changes[0].obj.zones == set()
    entered = [c for c in changes if "zone" in c.reasons]
    assert len(entered) == 1
    assert entered[0].obj.zones == {"driveway"}  # not "parking": that is for cars
    assert entered[0].obj.box.center[0] > 0.4
    assert changes[-1].kind == "gone"
    assert changes[-1].obj.zones == {"driveway"}


def test_crop_boxes_map_back_and_duplicates_across_crops_collapse() -> None:
    right_half = Box(0.5, 0.0, 1.0, 1.0)
    assert to_frame(Box(0.0, 0.5, 0.5, 1.0), right_half) == Box(0.5, 0.5, 0.75, 1.0)
    a = Detection("person", 0.9, Box(0.40, 0.2, 0.60, 0.9))  # found in one crop
    b = Detection("person", 0.7, Box(0.42, 0.2, 0.61, 0.9))  # the same person in the next
    dog = Detection("dog", 0.6, Box(0.41, 0.2, 0.60, 0.9))
    other = Detection("person", 0.8, Box(0.70, 0.2, 0.90, 0.9))
    assert suppress_duplicates([b, dog, a, other], iou=0.5) == [a, other, dog]


def test_motion_intervals_merge_frames_less_than_a_second_apart() -> None:
    log = MotionLog(merge_ms=1000)
    for t in [1000, 1200, 1400, 2400, 5000, 5200, 9000]:
        log.add(t)
    assert log.since(0) == [
        MotionInterval(1000, 2401),  # 1400 → 2400 is 1 s: still one interval
        MotionInterval(5000, 5201),
        MotionInterval(9000, 9001),
    ]
    assert log.since(5201) == [MotionInterval(9000, 9001)]
    assert log.since(5200) == [MotionInterval(5000, 5201), MotionInterval(9000, 9001)]
    log.add(9500)
    assert log.since(9000) == [MotionInterval(9000, 9501)]  # the last one grows
    log.forget(6000)
    assert log.since(0) == [MotionInterval(9000, 9501)]


def test_motion_that_never_pauses_is_reported_while_it_lasts() -> None:
    """A busy scene (motion in every frame for 25 s) is reported in 10 s pieces as it goes,
    each following the last exactly; what is left goes once the motion stops."""
    log = MotionLog(merge_ms=1000)
    reported: list[MotionInterval] = []
    for t in range(0, 25_000, 200):
        log.add(t)
        reported += log.take_ready(t, longest_ms=10_000)
    assert [(i.start_ms, i.end_ms) for i in reported] == [(0, 10_001), (10_001, 20_001)]
    assert log.take_ready(25_000, longest_ms=10_000) == []  # it may still go on
    assert log.take_ready(25_900, longest_ms=10_000) == [MotionInterval(20_001, 24_801)]
    assert log.take_ready(60_000, longest_ms=10_000) == []
    # Stopped mid-motion: the open piece goes as it is, an empty one never.
    log.add(61_000)
    assert log.take_all() == [MotionInterval(61_000, 61_001)]
    assert log.take_all() == []


async def test_two_walkers_apart_make_two_motion_intervals() -> None:
    scene = walker_scene(frames=60, start=5, end=20)
    second = replace(scene.movers[0], start=35, end=50)
    pipeline = CameraPipeline(PipelineSettings(object_detection=False), None)
    results = await play(pipeline, Scene("two", 60, seed=3, movers=(scene.movers[0], second)))
    truth = [f.index * STEP_MS for f, _ in results if f.motion]
    intervals = pipeline.motion_intervals(0)
    assert len(intervals) == 2, intervals
    first, last = intervals
    assert first.start_ms == min(truth)
    assert last.end_ms >= max(truth)
    assert first.end_ms <= 21 * STEP_MS + 1
    assert last.start_ms >= 35 * STEP_MS
    assert pipeline.motion_intervals(first.end_ms) == [last]
    assert pipeline.detector_calls == pipeline.skipped == 0  # motion only


async def test_run_follows_a_detect_stream_and_survives_a_failing_handler() -> None:
    config = DetectConfig(fps=5, width=WIDTH, height=HEIGHT)
    clock = iter(range(0, 10**9, STEP_MS))
    stream = DetectStream(1, clock_ms=lambda: next(clock))
    pipeline = CameraPipeline(PipelineSettings(object_detection=False), None)
    seen: list[FrameResult] = []

    async def handle(result: FrameResult) -> None:
        seen.append(result)
        if len(seen) == 3:
            raise RuntimeError("a broken events stage")

    task = asyncio.create_task(pipeline.run(stream, handle, queue_frames=100))
    await asyncio.sleep(0)  # subscribed
    pipe = asyncio.StreamReader()
    chroma = np.full(WIDTH * HEIGHT // 2, 128, np.uint8).tobytes()
    for frame in render(walker_scene(frames=25, end=25), WIDTH, HEIGHT):
        pipe.feed_data(frame.gray.tobytes() + chroma)
    pipe.feed_eof()
    await stream.consume(pipe, config)
    async with asyncio.timeout(10):
        while len(seen) < 25:
            await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert stream.subscribers == 0
    assert [r.time_ms for r in seen] == [i * STEP_MS for i in range(25)]
    assert any(r.motion.motion for r in seen[5:])
    assert pipeline.motion_intervals(0)[0].start_ms in (5 * STEP_MS, 6 * STEP_MS)
