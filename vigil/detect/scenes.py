"""Synthetic labelled camera scenes: a background, moving things, noise, compression and light
changes, each frame with its ground truth (boxes of moving things, whether it is motion).

Everything is drawn from a seed, in normalised coordinates, so one scene renders the same at any
size and nothing needs to be stored. Used by the detection tests and benchmarks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

from vigil.detect.motion import polygon_mask
from vigil.detect.types import Bgr, Box, Gray

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Mover:
    """A thing moving along ``path`` (centres, normalised) from frame ``start`` to ``end``
    (exclusive), at an even speed: the path's points are evenly spaced in time.

    It is a filled shape of ``color``, or ``patch`` (a BGR image, e.g. a photo of a person)
    resized to ``size`` and pasted where ``alpha`` (0..255, same H x W) is non-zero.
    """

    path: Sequence[Point]
    size: tuple[float, float]  # width, height as fractions of the frame
    start: int
    end: int
    shape: Literal["rect", "circle"] = "rect"
    color: tuple[int, int, int] = (40, 40, 200)
    patch: Bgr | None = None
    alpha: Gray | None = None
    label: str = "object"

    def center(self, index: int) -> Point | None:
        """Where it is at frame ``index``, or None when it is not in the scene."""
        if not self.start <= index < self.end:
            return None
        if len(self.path) == 1 or self.end - self.start <= 1:
            return self.path[0]
        # Even speed along the path's legs over the frames it is visible.
        t = (index - self.start) / (self.end - self.start - 1) * (len(self.path) - 1)
        leg = min(int(t), len(self.path) - 2)
        f = t - leg
        (x0, y0), (x1, y1) = self.path[leg], self.path[leg + 1]
        return (x0 + (x1 - x0) * f, y0 + (y1 - y0) * f)

    def box(self, index: int) -> Box | None:
        """Its box at frame ``index``, clipped to the frame; None when it is out of sight."""
        c = self.center(index)
        if c is None:
            return None
        w, h = self.size
        b = Box(max(0.0, c[0] - w / 2), max(0.0, c[1] - h / 2), min(1.0, c[0] + w / 2),
                min(1.0, c[1] + h / 2))  # fmt: skip
        return b if b.area > 0 else None


@dataclass(frozen=True, slots=True)
class LightRamp:
    """Brightness gain going from ``gain_from`` to ``gain_to`` over frames ``start``..``end``."""

    start: int
    end: int
    gain_from: float = 1.0
    gain_to: float = 0.6

    def gain(self, index: int) -> float:
        f = min(1.0, max(0.0, (index - self.start) / max(1, self.end - self.start)))
        return self.gain_from + (self.gain_to - self.gain_from) * f


@dataclass(frozen=True, slots=True)
class GlobalChange:
    """From frame ``at`` on, the whole picture changes at once: lights on (gain, offset) and,
    with ``infrared``, the camera's switch to a grey picture lit by its own IR lamps."""

    at: int
    gain: float = 1.5
    offset: float = 30.0
    infrared: bool = False


@dataclass(frozen=True, slots=True)
class Scene:
    """A labelled clip: what to draw, how many frames, and which polygons are masked."""

    name: str
    frames: int
    seed: int = 0
    fps: float = 5.0
    movers: Sequence[Mover] = ()
    noise: float = 3.0  # standard deviation of per-pixel sensor noise, grey levels
    jpeg_quality: int | None = None
    ramp: LightRamp | None = None
    change: GlobalChange | None = None
    masks: Sequence[Sequence[Point]] = ()
    background: Bgr | None = None  # drawn from the seed when None


@dataclass(frozen=True, slots=True)
class SceneFrame:
    """One rendered frame and its ground truth."""

    index: int
    at: float  # seconds from the scene's start
    image: Bgr
    gray: Gray  # the luma plane, what the detect stream gives motion detection
    boxes: list[Box] = field(default_factory=list)  # moving things outside the masks
    motion: bool = False  # a detector should report motion on this frame
    global_change: bool = False  # this is the frame where the whole picture changed


def make_background(width: int, height: int, seed: int) -> Bgr:
    """A textured outdoor-ish background: sky and ground gradients, blocks, blurred grain."""
    rng = np.random.default_rng(seed)
    ys = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    top = rng.uniform(120, 200, 3).astype(np.float32)
    bottom = rng.uniform(50, 120, 3).astype(np.float32)
    image = np.broadcast_to(top + (bottom - top) * ys, (height, width, 3)).copy()
    for _ in range(12):
        x1, y1 = rng.uniform(0, 0.9), rng.uniform(0.2, 0.9)
        w, h = rng.uniform(0.05, 0.3), rng.uniform(0.05, 0.3)
        p1 = (int(x1 * width), int(y1 * height))
        p2 = (int((x1 + w) * width), int((y1 + h) * height))
        cv2.rectangle(image, p1, p2, rng.uniform(30, 220, 3).tolist(), -1)
    grain = rng.normal(0, 12, (height // 4 + 1, width // 4 + 1, 3)).astype(np.float32)
    image += np.asarray(
        cv2.resize(grain, (width, height), interpolation=cv2.INTER_LINEAR), np.float32
    )
    return np.asarray(np.clip(image, 0, 255), np.uint8)


def render(scene: Scene, width: int, height: int) -> Iterator[SceneFrame]:
    """The scene's frames at ``width`` x ``height``, the same for the same scene and size."""
    rng = np.random.default_rng(scene.seed + 1)
    if scene.background is None:
        background = make_background(width, height, scene.seed)
    else:
        background = np.asarray(
            cv2.resize(scene.background, (width, height), interpolation=cv2.INTER_AREA), np.uint8
        )
    mask = polygon_mask(scene.masks, width, height) if scene.masks else None
    previous: dict[int, Box | None] = {}
    for index in range(scene.frames):
        image = background.copy()
        boxes: list[Box] = []
        for n, mover in enumerate(scene.movers):
            box = mover.box(index)
            if box is not None:
                _draw(image, mover, index, width, height)
                moved = index > 0 and previous.get(n) != box
                if moved and not _masked(box, mask, width, height):
                    boxes.append(box)
            previous[n] = box
        light = _lighting(image.astype(np.float32), scene, index)
        if scene.noise > 0:
            light += rng.normal(0.0, scene.noise, light.shape).astype(np.float32)
        image = np.clip(light, 0, 255).astype(np.uint8)
        if scene.jpeg_quality is not None:
            ok, encoded = cv2.imencode(
                ".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, scene.jpeg_quality]
            )
            assert ok
            image = np.asarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR), np.uint8)
        yield SceneFrame(
            index=index,
            at=index / scene.fps,
            image=image,
            gray=np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), np.uint8),
            boxes=boxes,
            motion=bool(boxes),
            global_change=scene.change is not None and scene.change.at == index,
        )


def _draw(image: Bgr, mover: Mover, index: int, width: int, height: int) -> None:
    c = mover.center(index)
    assert c is not None
    w, h = max(1, round(mover.size[0] * width)), max(1, round(mover.size[1] * height))
    x1, y1 = round(c[0] * width - w / 2), round(c[1] * height - h / 2)
    if mover.patch is not None:
        patch = cv2.resize(mover.patch, (w, h), interpolation=cv2.INTER_AREA)
        alpha = np.full((h, w), 255, np.uint8) if mover.alpha is None else mover.alpha
        alpha = np.asarray(cv2.resize(alpha, (w, h), interpolation=cv2.INTER_NEAREST), np.uint8)
        # Clip the paste to the frame: movers may enter from beyond an edge.
        fx1, fy1, fx2, fy2 = max(0, x1), max(0, y1), min(width, x1 + w), min(height, y1 + h)
        if fx1 >= fx2 or fy1 >= fy2:
            return
        src = patch[fy1 - y1 : fy2 - y1, fx1 - x1 : fx2 - x1]
        a = alpha[fy1 - y1 : fy2 - y1, fx1 - x1 : fx2 - x1, None].astype(np.float32) / 255
        dst = image[fy1:fy2, fx1:fx2].astype(np.float32)
        image[fy1:fy2, fx1:fx2] = (src * a + dst * (1 - a)).astype(np.uint8)
    elif mover.shape == "circle":
        cv2.ellipse(image, (x1 + w // 2, y1 + h // 2), (w // 2, h // 2), 0, 0, 360, mover.color, -1)
    else:
        cv2.rectangle(image, (x1, y1), (x1 + w - 1, y1 + h - 1), mover.color, -1)


def _masked(box: Box, mask: Gray | None, width: int, height: int) -> bool:
    """True when most of ``box`` lies in the scene's masks, so no motion is expected there."""
    if mask is None:
        return False
    x1, y1 = int(box.x1 * width), int(box.y1 * height)
    x2, y2 = max(x1 + 1, int(box.x2 * width)), max(y1 + 1, int(box.y2 * height))
    return float(np.mean(mask[y1:y2, x1:x2] == 0)) > 0.9


def _lighting(image: np.ndarray, scene: Scene, index: int) -> np.ndarray:
    if scene.ramp is not None:
        image *= scene.ramp.gain(index)
    change = scene.change
    if change is not None and index >= change.at:
        if change.infrared:
            # Under IR, reflectance follows red-ish weights, not luma's: regions shift unevenly.
            ir = image[..., 0] * 0.1 + image[..., 1] * 0.3 + image[..., 2] * 0.6
            image = np.repeat(ir[..., None], 3, axis=2)
        image = image * change.gain + change.offset
    return image


def evaluation_set(seed: int = 7) -> list[Scene]:
    """The motion evaluation scenes: each hard case named, about 100 frames each at 5 fps."""
    rng = np.random.default_rng(seed)

    def s(k: int) -> int:
        return seed * 100 + k

    def blob(w: int, h: int) -> tuple[Bgr, Gray]:
        # A textured, person-shaped stand-in for a photo: ellipse alpha over coloured noise.
        # Dark clothes with some texture: contrast like a person's, not a flat grey.
        texture = rng.normal(0, 25, (h, w, 3)).astype(np.float32)
        base = rng.uniform(20, 70, 3).astype(np.float32)
        patch = np.clip(cv2.GaussianBlur(texture, (0, 0), 1.5) + base, 0, 255).astype(np.uint8)
        alpha = np.zeros((h, w), np.uint8)
        cv2.ellipse(alpha, (w // 2, h // 2), (w // 2 - 1, h // 2 - 1), 0, 0, 360, 255, -1)
        return patch, alpha

    person, person_alpha = blob(40, 100)
    return [
        Scene("static noise", 100, seed=s(1), noise=6.0),
        Scene(
            "moving shapes",
            100,
            seed=s(2),
            movers=(
                Mover([(-0.1, 0.6), (1.1, 0.7)], (0.12, 0.18), start=10, end=60),
                Mover(
                    [(0.8, -0.1), (0.2, 0.6)],
                    (0.08, 0.14),
                    start=50,
                    end=100,
                    shape="circle",
                    color=(220, 200, 40),
                ),
            ),
        ),
        Scene(
            "pasted patch",
            80,
            seed=s(3),
            movers=(
                Mover(
                    [(0.2, 0.5), (1.1, 0.55)],
                    (0.07, 0.3),
                    start=10,
                    end=80,
                    patch=person,
                    alpha=person_alpha,
                    label="person",
                ),
            ),
        ),
        Scene("slow light ramp", 120, seed=s(4), noise=4.0, ramp=LightRamp(5, 115, 1.0, 0.55)),
        Scene(
            "lights on",
            100,
            seed=s(5),
            change=GlobalChange(30, gain=1.4, offset=35),
            movers=(Mover([(0.1, 0.4), (1.1, 0.5)], (0.1, 0.2), start=50, end=100),),
        ),
        Scene(
            "infrared switch",
            100,
            seed=s(6),
            change=GlobalChange(30, 1.2, 20, infrared=True),
            movers=(
                Mover(
                    [(0.9, 0.5), (-0.1, 0.45)], (0.1, 0.2), start=50, end=100, color=(210, 210, 230)
                ),
            ),
        ),
        Scene(
            "jpeg quality 30",
            100,
            seed=s(7),
            noise=4.0,
            jpeg_quality=30,
            movers=(
                Mover([(0.1, 0.3), (1.1, 0.8)], (0.1, 0.16), start=20, end=100, color=(30, 40, 30)),
            ),
        ),
        Scene(
            "small far object",
            100,
            seed=s(8),
            movers=(
                Mover(
                    [(0.3, 0.35), (0.7, 0.35)],
                    (0.03, 0.06),
                    start=10,
                    end=100,
                    color=(230, 230, 230),
                ),
            ),
        ),
        Scene(
            "masked region",
            100,
            seed=s(9),
            masks=[[(0.0, 0.0), (0.4, 0.0), (0.4, 0.5), (0.0, 0.5)]],
            movers=(
                # A branch swaying inside the mask: never motion.
                Mover(
                    [(0.15, 0.2), (0.25, 0.25)] * 10,
                    (0.1, 0.12),
                    start=0,
                    end=100,
                    color=(40, 120, 40),
                ),
                Mover([(0.6, 1.1), (0.8, 0.5)], (0.08, 0.2), start=40, end=100),
            ),
        ),
    ]
