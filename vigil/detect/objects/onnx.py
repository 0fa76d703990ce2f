"""User-supplied YOLO-style models (YOLOv5 / YOLOv8 ONNX exports) on ONNX Runtime."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from vigil.detect.objects.base import DetectorError, ModelError, check_model_file, read_labels
from vigil.detect.types import Bgr, Box, Detection

Floats = npt.NDArray[np.float32]
PAD_GRAY = 114  # what YOLO's own letterbox pads with; the models were trained on it


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How an image was fitted into the model's input: scale, then centred padding."""

    scale: float
    pad_x: float
    pad_y: float


def letterbox(image: Bgr, width: int, height: int) -> tuple[Bgr, Letterbox]:
    """`image` scaled to fit width x height, keeping its aspect, padded with grey."""
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = round(w * scale), round(h * scale)
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    pad_x, pad_y = (width - nw) // 2, (height - nh) // 2
    out = np.full((height, width, 3), PAD_GRAY, dtype=np.uint8)
    out[pad_y : pad_y + nh, pad_x : pad_x + nw] = resized
    return out, Letterbox(scale, float(pad_x), float(pad_y))


def decode_yolo(
    output: Floats, num_classes: int, min_score: float
) -> tuple[Floats, Floats, npt.NDArray[np.int64]]:
    """Candidate boxes (x1, y1, x2, y2 in input pixels), scores and class ids of one image.

    Layouts: YOLOv5 (N, 5 + C) rows of cx, cy, w, h, objectness, class scores; YOLOv8
    (4 + C, N), columns of cx, cy, w, h, class scores, often exported transposed. A leading
    batch axis of 1 is dropped.
    """
    out = np.asarray(output, dtype=np.float32)
    if out.ndim == 3 and out.shape[0] == 1:
        out = out[0]
    widths = (num_classes + 4, num_classes + 5)
    if out.ndim != 2 or (out.shape[1] not in widths and out.shape[0] not in widths):
        raise DetectorError(
            f"model output of shape {tuple(output.shape)} is not a YOLOv5/v8 layout for "
            f"{num_classes} labels (expected (N, {num_classes + 5}) or ({num_classes + 4}, N))"
        )
    if out.shape[1] not in widths:
        out = out.T  # YOLOv8's (4 + C, N)
    yolov5 = out.shape[1] == num_classes + 5
    # YOLOv5 scores a class as objectness times class score; YOLOv8 has no objectness.
    class_scores = out[:, 5:] * out[:, 4:5] if yolov5 else out[:, 4:]
    class_ids = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(out)), class_ids]
    keep = scores >= min_score
    cx, cy, w, h = (out[keep, i] for i in range(4))
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
    return boxes, scores[keep].astype(np.float32), class_ids[keep].astype(np.int64)


class OnnxDetector:
    """A YOLO-style ONNX model file and its label list (one label a line, or "id label")."""

    name = "onnx"

    def __init__(
        self,
        *,
        model_path: Path | str,
        labels_path: Path | str,
        min_score: float = 0.5,
        nms_threshold: float = 0.45,
        model_sha256: str | None = None,
        num_threads: int = 1,
        input_size: int = 640,
    ) -> None:
        import onnxruntime as ort

        path = check_model_file(Path(model_path), model_sha256)
        self.labels = read_labels(Path(labels_path))
        self.num_classes = max(self.labels) + 1
        self.min_score = min_score
        self.nms_threshold = nms_threshold
        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # ORT's warnings go to stderr, not our logs
        try:
            self._session: Any = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # ORT raises its own exception types for every kind of bad file
            raise ModelError(f"model file {path} does not load: {e}") from e
        inp = self._session.get_inputs()[0]
        shape = list(inp.shape)
        if len(shape) != 4:
            raise ModelError(f"model file {path} input {inp.name} is not N x 3 x H x W: {shape}")
        self._input = inp.name
        self._dtype = np.float16 if "float16" in inp.type else np.float32
        # Dynamic axes come as names or None; take the usual export size for those.
        self.height = shape[2] if isinstance(shape[2], int) else input_size
        self.width = shape[3] if isinstance(shape[3], int) else input_size
        batch = shape[0]
        self.max_batch = batch if isinstance(batch, int) else 16

    def detect(self, image: Bgr) -> list[Detection]:
        """Objects in `image`, best first."""
        return self.detect_batch([image])[0]

    def detect_batch(self, images: list[Bgr]) -> list[list[Detection]]:
        """Objects in each image, in one model call when the model's batch axis allows."""
        results: list[list[Detection]] = []
        step = max(1, self.max_batch)
        for start in range(0, len(images), step):
            chunk = images[start : start + step]
            fitted = [letterbox(img, self.width, self.height) for img in chunk]
            tensor = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f, _ in fitted])
            tensor = (tensor.transpose(0, 3, 1, 2) / 255.0).astype(self._dtype)
            try:
                output = self._session.run(None, {self._input: tensor})[0]
            except Exception as e:
                raise DetectorError(f"ONNX model failed on a frame: {e}") from e
            for i, (image, (_, box)) in enumerate(zip(chunk, fitted, strict=True)):
                results.append(self._decode(output[i], image.shape[1], image.shape[0], box))
        return results

    def _decode(self, output: Floats, width: int, height: int, fit: Letterbox) -> list[Detection]:
        boxes, scores, class_ids = decode_yolo(output, self.num_classes, self.min_score)
        if len(boxes) == 0:
            return []
        xywh = [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in boxes]
        keep = cv2.dnn.NMSBoxesBatched(  # per class: a dog does not suppress its person
            xywh, scores.tolist(), class_ids.tolist(), self.min_score, self.nms_threshold
        )
        found = []
        for i in np.asarray(keep, dtype=np.int64).reshape(-1):
            label = self.labels.get(int(class_ids[i]))
            if label is None:
                continue
            x1, y1, x2, y2 = (float(v) for v in boxes[i])
            nx1 = (x1 - fit.pad_x) / fit.scale / width
            ny1 = (y1 - fit.pad_y) / fit.scale / height
            nx2 = (x2 - fit.pad_x) / fit.scale / width
            ny2 = (y2 - fit.pad_y) / fit.scale / height
            box = Box(*(min(1.0, max(0.0, v)) for v in (nx1, ny1, nx2, ny2)))
            found.append(Detection(label, float(scores[i]), box))
        found.sort(key=lambda d: d.score, reverse=True)
        return found

    def close(self) -> None:
        """Drop the session."""
        self._session = None
