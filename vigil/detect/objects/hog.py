"""The fallback detector: OpenCV's HOG + linear SVM people detector, no model file needed."""

from __future__ import annotations

import math

import cv2
import numpy as np

from vigil.detect.types import Bgr, Box, Detection


class HogPeopleDetector:
    """Upright people (Dalal-Triggs HOG); finds only "person", slower and less sure than SSD.

    The SVM gives a margin, not a probability; the score is the logistic of the margin, so a
    window on the decision boundary scores 0.5; the default floor of 0.6 drops the weakest
    windows, which are mostly upright things that are not people.
    """

    name = "hog"
    max_batch = 1

    def __init__(
        self,
        *,
        min_score: float = 0.6,
        max_width: int = 640,
        scale: float = 1.05,
        nms_threshold: float = 0.45,
    ) -> None:
        self.min_score = min_score
        self.max_width = max_width
        self.scale = scale
        self.nms_threshold = nms_threshold
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(
            np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), np.float32)
        )

    def detect(self, image: Bgr) -> list[Detection]:
        """People in `image`, best first."""
        height, width = image.shape[:2]
        # HOG's cost grows with the pixel count; a person must still be >= 128 px tall after this.
        factor = min(1.0, self.max_width / width)
        small = image if factor == 1.0 else cv2.resize(image, None, fx=factor, fy=factor)
        rects, weights = self._hog.detectMultiScale(
            small, winStride=(8, 8), padding=(8, 8), scale=self.scale
        )
        if len(rects) == 0:
            return []
        margins = np.asarray(weights, dtype=np.float64).reshape(-1)
        scores = [1.0 / (1.0 + math.exp(-float(m))) for m in margins]
        boxes = [[int(v) for v in r] for r in rects]
        keep = cv2.dnn.NMSBoxes(boxes, scores, self.min_score, self.nms_threshold)
        sw, sh = width * factor, height * factor
        found = []
        for i in np.asarray(keep, dtype=np.int64).reshape(-1):
            x, y, w, h = boxes[int(i)]
            box = Box(
                max(0.0, x / sw), max(0.0, y / sh), min(1.0, (x + w) / sw), min(1.0, (y + h) / sh)
            )
            found.append(Detection("person", scores[int(i)], box))
        found.sort(key=lambda d: d.score, reverse=True)
        return found

    def close(self) -> None:
        """Nothing to free."""
