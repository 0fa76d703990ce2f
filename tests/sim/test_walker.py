"""The walker clip: a real person photo walking across, found by the real object detector."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from vigil.detect.objects import ObjectDetector, create_detector
from vigil.detect.pipeline import to_frame
from vigil.detect.types import Bgr, Box, Detection
from vigil.sim import clips
from vigil.sim.clips import ClipError, ClipParams, ensure_clip
from vigil.sim.framecode import read_frame_code
from vigil.sim.runner import SimulatedCameras
from vigil.sim.walker import walker_scene

# 50 frames; the walker is in sight on frames 10..39 (2 s to 8 s).
WALKER = ClipParams(
    width=640,
    height=360,
    fps=5,
    bitrate_kbps=800,
    loop_seconds=10,
    audio=False,
    scene="walker",
    walk_start=2.0,
    walk_end=8.0,
)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="module")
def clip(cache: Path) -> Path:
    return ensure_clip(WALKER, cache)


@pytest.fixture(scope="module")
def frames(clip: Path) -> list[av.VideoFrame]:
    with av.open(str(clip / "video.h264"), format="h264") as container:
        return list(container.decode(video=0))


@pytest.fixture(scope="module")
def detector() -> Iterator[ObjectDetector]:
    detector = create_detector()
    yield detector
    detector.close()


def bgr(frame: av.VideoFrame) -> Bgr:
    return np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)


def people(detector: ObjectDetector, image: Bgr) -> list[Detection]:
    """People in ``image``, best first, found as the detect pipeline finds them: in squares
    (the model's input is square; a whole 16:9 frame squashed into it hides the walker)."""
    height, width = image.shape[:2]
    squares = math.ceil(width / height) + 1  # overlapping, so someone is whole in one
    found = []
    for n in range(squares):
        x1 = round(n * (width - height) / (squares - 1))
        crop = Box(x1 / width, 0.0, (x1 + height) / width, 1.0)
        answer = detector.detect(image[:, x1 : x1 + height])
        found += [Detection(d.label, d.score, to_frame(d.box, crop)) for d in answer]
    return sorted((d for d in found if d.label == "person"), key=lambda d: -d.score)


def test_walker_clip_is_encoded_once_and_cached(cache: Path, clip: Path) -> None:
    assert "-walker-" in clip.name
    index = json.loads((clip / "index.json").read_text())
    assert len(index["video"]["offsets"]) == 50 + 1
    assert index["video"]["keyframes"] == list(range(0, 50, 5))
    assert "audio" not in index
    written = (clip / "index.json").stat().st_mtime_ns
    assert ensure_clip(WALKER, cache) == clip
    assert (clip / "index.json").stat().st_mtime_ns == written, "encoded once"


@pytest.mark.parametrize("index", [13, 25, 34])  # entering, mid-frame, about to leave
def test_the_person_is_detected_where_the_walker_is(
    frames: list[av.VideoFrame], detector: ObjectDetector, index: int
) -> None:
    expected = walker_scene(WALKER).movers[0].center(index)
    assert expected is not None
    found = people(detector, bgr(frames[index]))
    assert found, f"no person on frame {index}"
    (x, y), score = found[0].box.center, found[0].score
    assert score >= 0.5
    assert abs(x - expected[0]) < 0.04, (x, expected)
    assert abs(y - expected[1]) < 0.05, (y, expected)


@pytest.mark.parametrize("index", [5, 45])  # before and after the walk
def test_no_person_outside_the_walk(
    frames: list[av.VideoFrame], detector: ObjectDetector, index: int
) -> None:
    assert people(detector, bgr(frames[index])) == []


def test_every_frame_carries_its_frame_code(frames: list[av.VideoFrame]) -> None:
    assert [read_frame_code(frame) for frame in frames] == list(range(50))


def test_the_walk_must_fit_the_loop() -> None:
    with pytest.raises(ValueError, match="walk must fit the loop"):
        ClipParams(loop_seconds=10, scene="walker", walk_start=2, walk_end=12)
    with pytest.raises(ValueError, match="walk must fit the loop"):
        ClipParams(loop_seconds=10, scene="walker", walk_start=5, walk_end=5)
    # The test pattern ignores the walk: it neither validates nor keys on it.
    assert ClipParams(loop_seconds=4).key() == ClipParams(loop_seconds=4, walk_end=12).key()
    assert WALKER.key() != dataclasses.replace(WALKER, walk_start=3.0).key()


def test_simulated_cameras_serve_the_walker(cache: Path, clip: Path) -> None:
    cameras = SimulatedCameras(
        1,
        width=WALKER.width,
        height=WALKER.height,
        fps=WALKER.fps,
        bitrate_kbps=WALKER.bitrate_kbps,
        loop_seconds=WALKER.loop_seconds,
        audio=False,
        scene="walker",
        walk_start=WALKER.walk_start,
        walk_end=WALKER.walk_end,
        cache_dir=cache,
    )
    options = {"rtsp_transport": "tcp", "timeout": "5000000", "analyzeduration": "500000"}
    with cameras, av.open(cameras.urls[0], options=options, timeout=(10.0, 5.0)) as container:
        frame = next(container.decode(video=0))
        assert 0 <= read_frame_code(frame) < 50
    # Served from the walker clip already in the cache, not a test pattern encoded anew.
    assert [p for p in cache.iterdir() if not p.name.startswith(".")] == [clip]


def test_an_ffmpeg_failure_mid_walk_is_reported_not_hung(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ffmpeg quits at once, while frames are still being written to its stdin.
    monkeypatch.setattr(clips, "_overlay", lambda params: "no_such_filter")
    with pytest.raises(ClipError, match="no_such_filter"):
        ensure_clip(WALKER, tmp_path)
    assert [p for p in tmp_path.iterdir() if not p.name.startswith(".")] == []
