"""Motion detection: ms per frame and precision/recall on the evaluation set, Vigil vs MOG2.

Run from the repository root::

    .venv/bin/python -m bench.motion
    .venv/bin/python -m bench.motion --sizes 320x180,640x360,1280x720 --repeat 3

Every scene of ``vigil.detect.scenes.evaluation_set()`` is rendered once per size (not timed),
then fed frame by frame to Vigil's ``MotionDetector`` (default settings, the scene's masks) and
to OpenCV's ``createBackgroundSubtractorMOG2()`` (default parameters, a fresh one per scene),
in the same run. MOG2's foreground mask (255 = foreground; 127 = shadow, dropped) goes through
the scene's mask and then the same box extraction as Vigil (``boxes_from_mask``, the same
minimum area), so only the background model differs. Time is the median per frame over all
frames of the best of ``--repeat`` runs; figures, never assertions.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench.output import write_result
from vigil.detect.evaluation import Detect, Tally, vigil_detector
from vigil.detect.motion import MotionSettings, boxes_from_mask, polygon_mask
from vigil.detect.scenes import Scene, SceneFrame, evaluation_set, render
from vigil.detect.types import Box, Gray


def mog2_detector(scene: Scene, width: int, height: int) -> Detect:
    subtractor = cv2.createBackgroundSubtractorMOG2()
    mask = polygon_mask([list(m) for m in scene.masks], width, height)
    min_area = MotionSettings().min_area

    def detect(gray: Gray, at: float) -> list[Box]:
        foreground = subtractor.apply(gray)
        _, fg = cv2.threshold(foreground, 200, 255, cv2.THRESH_BINARY)
        return boxes_from_mask(np.asarray(cv2.bitwise_and(fg, mask), np.uint8), min_area)[0]

    return detect


def measure(
    name: str, scenes: list[tuple[Scene, list[SceneFrame]]], width: int, height: int, repeat: int
) -> dict[str, Any]:
    best: list[float] = []
    tally = Tally()
    for _ in range(repeat):
        times: list[float] = []
        tally = Tally()
        for scene, frames in scenes:
            detect = (
                vigil_detector(scene) if name == "vigil" else mog2_detector(scene, width, height)
            )
            for frame in frames:
                start = time.perf_counter()
                boxes = detect(frame.gray, frame.at)
                times.append((time.perf_counter() - start) * 1000)
                tally.add(frame, boxes)
        if not best or sum(times) < sum(best):
            best = times
    return {
        "frames": len(best),
        "median_ms": round(statistics.median(best), 3),
        "p95_ms": round(sorted(best)[int(0.95 * len(best))], 3),
        "precision": round(tally.precision, 4),
        "recall": round(tally.recall, 4),
        "box_recall": round(tally.box_recall, 4),
        "false_positive_frames": tally.false_positive,
        "missed_frames": tally.false_negative,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="320x180,640x360")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, help="JSON result path (bench/results/motion.json)")
    args = parser.parse_args()
    cv2.setNumThreads(1)  # one camera's detector gets one core's share; compare like with like
    result: dict[str, Any] = {"seed": args.seed, "runs": [], "cpus": os.cpu_count()}
    result["python"] = platform.python_version()
    result["opencv"] = cv2.__version__
    print(f"{'size':>9} {'detector':>8} {'frames':>6} {'ms med':>7} {'ms p95':>7} "
          f"{'prec':>6} {'recall':>6} {'box rec':>7} {'FP':>4} {'FN':>4}")  # fmt: skip
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.split("x"))
        scenes = [(s, list(render(s, width, height))) for s in evaluation_set(args.seed)]
        for name in ("vigil", "mog2"):
            r = measure(name, scenes, width, height, args.repeat)
            result["runs"].append({"size": size, "detector": name, **r})
            print(
                f"{size:>9} {name:>8} {r['frames']:>6} {r['median_ms']:>7.3f} {r['p95_ms']:>7.3f} "
                f"{r['precision']:>6.3f} {r['recall']:>6.3f} {r['box_recall']:>7.3f} "
                f"{r['false_positive_frames']:>4} {r['missed_frames']:>4}"
            )
    out = write_result(result, args.out, "motion.json")
    print(f"written {out}")


if __name__ == "__main__":
    main()
