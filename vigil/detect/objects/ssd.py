"""The default detector: SSD MobileNet v2 COCO (quantised) on LiteRT, vendored in the package."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vigil.detect.objects.base import ModelError, check_model_file, read_labels
from vigil.detect.types import Bgr, Box, Detection

MODELS = Path(__file__).resolve().parent.parent / "models"
MODEL_FILE = MODELS / "mobilenet_ssd_v2_coco_quant_postprocess.tflite"
LABEL_FILE = MODELS / "coco_labels.txt"
# Checked at every load: a truncated or swapped file fails loudly instead of detecting nonsense.
MODEL_SHA256 = "7046f31a72ec0045a57b94199144c96cf5840c7dc106b808b64a1ed5559aa0cd"
LABELS_SHA256 = "93f235896748537fc71325a070ee32e9a0afda2481ceb943559325619763fa6d"


class SsdMobileNetDetector:
    """SSD MobileNet v2 COCO, uint8 300x300 input, with the TFLite post-processing op built in.

    The model takes one image a call (its detection post-processing op has batch 1), so
    `max_batch` is 1: throughput comes from more worker processes, not batches.
    """

    name = "ssd"
    max_batch = 1

    def __init__(
        self,
        *,
        min_score: float = 0.5,
        num_threads: int = 1,
        model_path: Path = MODEL_FILE,
        labels_path: Path = LABEL_FILE,
        model_sha256: str | None = MODEL_SHA256,
        labels_sha256: str | None = LABELS_SHA256,
    ) -> None:
        from ai_edge_litert.interpreter import Interpreter

        check_model_file(Path(model_path), model_sha256)
        check_model_file(Path(labels_path), labels_sha256)
        self.labels = read_labels(Path(labels_path))
        self.min_score = min_score
        try:
            self._interpreter: Any = Interpreter(
                model_path=str(model_path), num_threads=num_threads
            )
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise ModelError(f"model file {model_path} does not load: {e}") from e
        inp = self._interpreter.get_input_details()[0]
        outputs = self._interpreter.get_output_details()
        if len(outputs) != 4 or inp["dtype"] != np.uint8:
            raise ModelError(
                f"model file {model_path} is not an SSD with TFLite post-processing "
                "(uint8 input; boxes, classes, scores, count outputs)"
            )
        self._input = int(inp["index"])
        _, self.height, self.width, _ = (int(d) for d in inp["shape"])
        self._outputs = [int(o["index"]) for o in outputs]

    def preprocess(self, image: Bgr) -> Bgr:
        """The model's input for `image`: resized (not letterboxed: it was trained so), RGB."""
        resized = cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
        return np.asarray(cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)[np.newaxis], dtype=np.uint8)

    def detect(self, image: Bgr) -> list[Detection]:
        """Objects in `image`, best first."""
        self._interpreter.set_tensor(self._input, self.preprocess(image))
        self._interpreter.invoke()
        boxes, classes, scores, count = (self._interpreter.get_tensor(i) for i in self._outputs)
        found: list[Detection] = []
        for k in range(int(count[0])):
            score = float(scores[0, k])
            label = self.labels.get(int(classes[0, k]))
            if score < self.min_score or label is None:
                continue
            # The op's boxes are (ymin, xmin, ymax, xmax), normalised: the resize keeps them so.
            y1, x1, y2, x2 = (float(np.clip(v, 0.0, 1.0)) for v in boxes[0, k])
            found.append(Detection(label, score, Box(x1, y1, x2, y2)))
        found.sort(key=lambda d: d.score, reverse=True)
        return found

    def close(self) -> None:
        """Drop the interpreter."""
        self._interpreter = None
