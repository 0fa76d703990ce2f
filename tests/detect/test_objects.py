"""Object detectors on real photos, real model files, a real HTTP server and real worker processes."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from vigil.detect.objects import (
    DetectorError,
    DetectorPool,
    DetectorSpec,
    ModelError,
    ServiceError,
    UnknownDetectorError,
    WorkerDiedError,
    available_detectors,
    create_detector,
)
from vigil.detect.objects.base import read_labels
from vigil.detect.objects.onnx import decode_yolo
from vigil.detect.objects.ssd import LABEL_FILE, MODEL_FILE
from vigil.detect.types import Bgr, Box, Detection

DATA = Path(__file__).parent / "data"
# Drawn by hand around the subjects of the darknet photos (normalised x1, y1, x2, y2).
PERSON = Box(0.30, 0.24, 0.425, 0.885)  # person.jpg: the man in the blue jacket
DOG = Box(0.175, 0.39, 0.40, 0.94)  # dog.jpg: the dog sitting on the porch


def photo(name: str) -> Bgr:
    image = cv2.imread(str(DATA / name))
    assert image is not None, name
    return np.asarray(image, dtype=np.uint8)


def best(found: list[Detection], label: str) -> Detection:
    matches = [d for d in found if d.label == label]
    assert matches, f"no {label} in {found}"
    return max(matches, key=lambda d: d.score)


# --- the default detector ---------------------------------------------------------------


def test_default_detector_finds_the_person_and_the_dog() -> None:
    detector = create_detector()
    assert detector.name == "ssd"
    assert detector.max_batch == 1

    person = best(detector.detect(photo("person.jpg")), "person")
    assert person.score >= 0.5
    assert person.box.iou(PERSON) >= 0.6

    found = detector.detect(photo("dog.jpg"))
    dog = best(found, "dog")
    assert dog.score >= 0.5
    assert dog.box.iou(DOG) >= 0.6
    assert "bicycle" in {d.label for d in found}
    assert "person" not in {d.label for d in found}
    assert all(d.score >= 0.5 for d in found)
    detector.close()


def test_a_corrupt_model_file_is_refused(tmp_path: Path) -> None:
    corrupt = tmp_path / MODEL_FILE.name
    shutil.copyfile(MODEL_FILE, corrupt)
    with corrupt.open("r+b") as f:
        f.seek(4096)
        byte = f.read(1)
        f.seek(4096)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelError, match=r"model file .* does not match its sha256"):
        create_detector("ssd", model_path=corrupt)
    with pytest.raises(ModelError, match="not found"):
        create_detector("ssd", model_path=tmp_path / "missing.tflite")


def test_unknown_detector_and_bad_options_are_detector_errors() -> None:
    assert {"ssd", "hog", "onnx", "remote"} <= set(available_detectors())
    with pytest.raises(UnknownDetectorError, match="unknown object detector 'yolo9000'"):
        create_detector("yolo9000")
    with pytest.raises(DetectorError, match="'hog'"):
        create_detector("hog", colour="blue")


# --- HOG ------------------------------------------------------------------------------------


def test_hog_finds_the_person() -> None:
    detector = create_detector("hog")
    found = detector.detect(photo("person.jpg"))
    assert {d.label for d in found} == {"person"}
    person = found[0]
    assert person.score >= 0.6
    cx, cy = PERSON.center
    assert person.box.x1 <= cx <= person.box.x2
    assert person.box.y1 <= cy <= person.box.y2
    assert person.box.iou(PERSON) >= 0.25


# --- ONNX -------------------------------------------------------------------------------------
# No YOLO model can be downloaded here and the `onnx` package is not a dependency, so the test
# writes a tiny ONNX file by hand (protobuf wire format): a graph whose output is a constant
# YOLOv8-shaped tensor. ONNX Runtime loads and runs it, so loading, letterboxing, decoding,
# NMS and box mapping are all exercised for real.


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _bytes(field: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _value_info(name: str, shape: tuple[int, ...]) -> bytes:
    dims = b"".join(_bytes(1, _int(1, d)) for d in shape)  # Dimension.dim_value
    tensor_type = _int(1, 1) + _bytes(2, dims)  # elem_type FLOAT, shape
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


def constant_onnx_model(output: np.ndarray, input_shape: tuple[int, ...]) -> bytes:
    """An ONNX model with one float input (unused) whose output is always `output`."""
    data = np.ascontiguousarray(output, dtype="<f4")
    tensor = b"".join(_int(1, d) for d in data.shape) + _int(2, 1) + _bytes(9, data.tobytes())
    attribute = _bytes(1, "value") + _bytes(5, tensor) + _int(20, 4)  # type TENSOR
    node = _bytes(2, "output") + _bytes(4, "Constant") + _bytes(5, attribute)
    graph = (
        _bytes(1, node)
        + _bytes(2, "yolo")
        + _bytes(11, _value_info("images", input_shape))
        + _bytes(12, _value_info("output", data.shape))
    )
    opset = _bytes(1, "") + _int(2, 13)
    return _int(1, 7) + _bytes(2, "vigil-test") + _bytes(7, graph) + _bytes(8, opset)


def yolov8_output() -> np.ndarray:
    """(1, 4 + 2, 4) candidates in a 64x64 input: person twice (one suppressed), dog, noise."""
    columns = [
        # cx, cy, w, h, person, dog
        [32, 32, 16, 16, 0.9, 0.1],
        [33, 32, 16, 16, 0.8, 0.1],  # the same person, lower score: NMS drops it
        [32, 32, 16, 16, 0.1, 0.7],  # a dog at the same place: another class, kept
        [10, 10, 4, 4, 0.2, 0.3],  # below min_score
    ]
    return np.asarray(columns, dtype=np.float32).T[np.newaxis]


@pytest.fixture
def yolo_files(tmp_path: Path) -> tuple[Path, Path]:
    model = tmp_path / "tiny.onnx"
    model.write_bytes(constant_onnx_model(yolov8_output(), (1, 3, 64, 64)))
    labels = tmp_path / "labels.txt"
    labels.write_text("person\ndog\n")
    return model, labels


def test_onnx_detector_runs_a_yolov8_model(yolo_files: tuple[Path, Path]) -> None:
    model, labels = yolo_files
    detector = create_detector("onnx", model_path=model, labels_path=labels)
    # 128x64 letterboxed into 64x64: scale 0.5, 16 px of padding above and below.
    image = np.zeros((64, 128, 3), dtype=np.uint8)
    found = detector.detect(image)
    assert [d.label for d in found] == ["person", "dog"]
    assert found[0].score == pytest.approx(0.9)
    assert found[0].box.iou(Box(0.375, 0.25, 0.625, 0.75)) > 0.99
    detector.close()


def test_yolov5_rows_are_decoded() -> None:
    rows = np.asarray(
        [[32, 32, 16, 8, 0.5, 0.9, 0.1], [5, 5, 2, 2, 0.1, 0.9, 0.9]],  # obj x class score
        dtype=np.float32,
    )[np.newaxis]
    boxes, scores, classes = decode_yolo(rows, num_classes=2, min_score=0.4)
    assert boxes.tolist() == [[24, 28, 40, 36]]
    assert scores.tolist() == pytest.approx([0.45])
    assert classes.tolist() == [0]
    with pytest.raises(DetectorError, match="not a YOLOv5/v8 layout for 5 labels"):
        decode_yolo(rows, num_classes=5, min_score=0.4)


def test_onnx_model_errors(tmp_path: Path, yolo_files: tuple[Path, Path]) -> None:
    _, labels = yolo_files
    with pytest.raises(ModelError, match="not found"):
        create_detector("onnx", model_path=tmp_path / "none.onnx", labels_path=labels)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"this is not a model" * 100)
    with pytest.raises(ModelError, match=r"model file .*garbage.onnx does not load"):
        create_detector("onnx", model_path=garbage, labels_path=labels)


# --- remote service ---------------------------------------------------------------------------


class _Service(BaseHTTPRequestHandler):
    """DeepStack-shaped service: /good answers, /garbage does not, /slow is too slow."""

    seen: list[dict[str, object]] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Service.seen.append(
            {
                "path": self.path,
                "multipart": self.headers["Content-Type"].startswith("multipart/form-data"),
                "jpeg": b'name="image"' in body and b"\xff\xd8\xff" in body,
                "min_confidence": b'name="min_confidence"\r\n\r\n0.5' in body,
            }
        )
        if self.path.startswith("/slow"):
            time.sleep(1.5)
        if self.path.startswith("/garbage"):
            payload = b"<html>502 Bad Gateway</html>"
        else:
            answer = {
                "success": True,
                "predictions": [
                    {"label": "person", "confidence": 0.91, "x_min": 64, "y_min": 24,
                     "x_max": 128, "y_max": 120},
                    {"label": "cat", "confidence": 0.2, "x_min": 0, "y_min": 0,
                     "x_max": 10, "y_max": 10},
                ],
            }  # fmt: skip
            payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def service() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Service)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Service.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_remote_detector_posts_a_jpeg_and_reads_predictions(service: str) -> None:
    detector = create_detector("remote", url=f"{service}/good", timeout=5)
    found = detector.detect(np.zeros((240, 320, 3), dtype=np.uint8))
    assert found == [Detection("person", 0.91, Box(0.2, 0.1, 0.4, 0.5))]
    assert _Service.seen == [
        {"path": "/good/v1/vision/detection", "multipart": True, "jpeg": True,
         "min_confidence": True}
    ]  # fmt: skip
    detector.close()


def test_remote_detector_garbage_and_timeouts_are_service_errors(service: str) -> None:
    frame = np.zeros((240, 320, 3), dtype=np.uint8)
    garbage = create_detector("remote", url=f"{service}/garbage")
    with pytest.raises(ServiceError, match="returned garbage"):
        garbage.detect(frame)
    slow = create_detector("remote", url=f"{service}/slow", timeout=0.3)
    with pytest.raises(ServiceError, match=r"timed out after 0\.3 s"):
        slow.detect(frame)
    down = create_detector("remote", url="http://127.0.0.1:9", timeout=1)
    with pytest.raises(ServiceError, match="unreachable"):
        down.detect(frame)
    for d in (garbage, slow, down):
        d.close()


# --- the worker pool --------------------------------------------------------------------------


async def test_pool_detects_in_workers_and_replaces_a_killed_one() -> None:
    person, dog = photo("person.jpg"), photo("dog.jpg")
    async with DetectorPool(DetectorSpec("ssd"), workers=2) as pool:
        results = await asyncio.gather(*(pool.detect(img) for img in (person, dog) * 3))
        for found, (label, expected) in zip(
            results, [("person", PERSON), ("dog", DOG)] * 3, strict=True
        ):
            assert best(found, label).box.iou(expected) >= 0.6
        pids = pool.worker_pids
        assert len(pids) == 2
        assert os.getpid() not in pids

        os.kill(pids[0], signal.SIGKILL)
        outcomes = await asyncio.gather(
            *(pool.detect(person) for _ in range(4)), return_exceptions=True
        )
        died = [o for o in outcomes if isinstance(o, BaseException)]
        assert all(isinstance(o, WorkerDiedError) for o in died)
        assert len(died) == 1  # only the call that met the killed worker

        for _ in range(200):  # the replacement loads its model in a second or two
            if len(pool.worker_pids) == 2 and pids[0] not in pool.worker_pids:
                break
            await asyncio.sleep(0.05)
        assert len(pool.worker_pids) == 2
        assert pids[0] not in pool.worker_pids
        assert best(await pool.detect(person), "person").box.iou(PERSON) >= 0.6
    assert pool.worker_pids == []
    with pytest.raises(DetectorError, match="closed"):
        await pool.detect(person)


async def test_pool_serves_cameras_in_turn() -> None:
    # One worker, three cameras asking as fast as they can: none is starved by the others.
    frame = photo("person.jpg")
    served = {camera: 0 for camera in range(3)}
    async with DetectorPool(workers=1) as pool:

        async def camera(k: int) -> None:
            while sum(served.values()) < 15:
                await pool.detect(frame)
                served[k] += 1

        await asyncio.gather(*(camera(k) for k in served))
    assert min(served.values()) >= 4, served


async def test_pool_reports_a_detector_that_cannot_load() -> None:
    pool = DetectorPool(DetectorSpec("no-such-detector"), workers=1)
    with pytest.raises(UnknownDetectorError, match="no-such-detector"):
        await pool.start()
    assert pool.worker_pids == []


def test_vendored_labels_map_model_ids_to_coco_names() -> None:
    # Coral's "id label" layout: ids as the model outputs them (no off-by-one), COCO's gaps kept.
    labels = read_labels(LABEL_FILE)
    assert (labels[0], labels[17]) == ("person", "dog")
    assert 11 not in labels
    assert len(labels) == 80
