"""Event snapshots: the node keeps a clean JPEG; the box is drawn when it is asked for."""

from __future__ import annotations

import cv2
import numpy as np

_GREEN = (60, 220, 60)


class BadSnapshot(Exception):
    """The stored file is not a picture (damaged or replaced)."""


def draw_box(jpeg: bytes, box: tuple[float, float, float, float], caption: str) -> bytes:
    """The picture with ``box`` (normalised x1, y1, x2, y2) outlined and captioned."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise BadSnapshot("the snapshot file is not a JPEG picture")
    height, width = image.shape[:2]
    x1, y1 = round(box[0] * width), round(box[1] * height)
    x2, y2 = round(box[2] * width), round(box[3] * height)
    thickness = max(1, round(min(width, height) / 180))
    cv2.rectangle(image, (x1, y1), (x2, y2), _GREEN, thickness)
    scale = max(0.35, min(width, height) / 500)
    (text_w, text_h), base = cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    top = y1 - text_h - base - 2 if y1 - text_h - base - 2 >= 0 else y2 + 1
    cv2.rectangle(image, (x1, top), (x1 + text_w + 4, top + text_h + base + 2), _GREEN, -1)
    cv2.putText(
        image,
        caption,
        (x1 + 2, top + text_h + 1),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        (0, 0, 0),
        1,
        cv2.LINE_AA,
    )
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:  # pragma: no cover - encoding a decoded picture does not fail
        raise BadSnapshot("the snapshot could not be encoded")
    return bytes(encoded)
