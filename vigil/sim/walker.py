"""The walker scene: a person cut from a photo walks left to right across a still background.

Drawn with :mod:`vigil.detect.scenes`, so a test's ground truth (where the walker is on each
frame) comes from the same :class:`~vigil.detect.scenes.Mover` that drew it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from vigil.detect.scenes import Mover, Scene, render
from vigil.detect.types import Bgr
from vigil.sim.clips import ClipError

if TYPE_CHECKING:
    from vigil.sim.clips import ClipParams

PHOTO = Path(__file__).with_name("data") / "person.jpg"  # see data/NOTICE.md
PATH = ((-0.05, 0.55), (1.1, 0.6))  # the walker's centre, normalised: in at the left, out right
HEIGHT = 0.6  # the walker's height, as a fraction of the frame's
SEED = 3  # draws the background


def person_patch() -> Bgr:
    """The man in the blue jacket from the darknet photo, with a little of the street."""
    image = cv2.imread(str(PHOTO))
    if image is None:
        raise ClipError(f"cannot read the walker's photo {PHOTO}")
    h, w = image.shape[:2]
    return np.ascontiguousarray(image[int(0.20 * h) : int(0.92 * h), int(0.27 * w) : int(0.45 * w)])


def walker_scene(params: ClipParams) -> Scene:
    """One loop of the clip: the walker is in sight on the frames shown from ``walk_start``
    until ``walk_end``; its :class:`Mover` says where on each."""
    patch = person_patch()
    width = HEIGHT * patch.shape[1] / patch.shape[0] * params.height / params.width
    walker = Mover(
        PATH,
        (width, HEIGHT),
        start=_first_frame_from(params.walk_start, params.fps),
        end=_first_frame_from(params.walk_end, params.fps),
        patch=patch,
        label="person",
    )
    # No sensor noise: a still background keeps the bitrate for the walker.
    return Scene("walker", params.frames, seed=SEED, fps=params.fps, movers=(walker,), noise=0.0)


def walker_frames(params: ClipParams) -> Iterator[bytes]:
    """The loop's pictures as raw ``bgr24``, rendered one at a time."""
    for frame in render(walker_scene(params), params.width, params.height):
        yield frame.image.tobytes()


def _first_frame_from(seconds: float, fps: int) -> int:
    # Frame i is shown at i/fps; the epsilon keeps 0.1 s * 30 fps on frame 3, not 4.
    return math.ceil(seconds * fps - 1e-6)
