"""An external detection service with the DeepStack / CodeProject.AI request shape."""

from __future__ import annotations

import cv2
import httpx
from pydantic import BaseModel, ValidationError

from vigil.detect.objects.base import DetectorError, ServiceError
from vigil.detect.types import Bgr, Box, Detection

DETECTION_PATH = "/v1/vision/detection"


class Prediction(BaseModel):
    """One object in the service's answer; coordinates are pixels of the posted image."""

    label: str
    confidence: float
    x_min: float
    y_min: float
    x_max: float
    y_max: float


class DetectionResponse(BaseModel):
    """The service's answer: `success` false carries an `error` text instead."""

    success: bool
    predictions: list[Prediction] = []
    error: str | None = None


def _box(p: Prediction, width: int, height: int) -> Box:
    """The prediction's pixel box, normalised to the posted image and clipped to it."""
    edges = (p.x_min / width, p.y_min / height, p.x_max / width, p.y_max / height)
    return Box(*(min(1.0, max(0.0, v)) for v in edges))


class RemoteDetector:
    """Posts each frame as a JPEG (multipart field `image`) to `<url>/v1/vision/detection`."""

    name = "remote"
    max_batch = 1

    def __init__(
        self,
        *,
        url: str,
        min_score: float = 0.5,
        timeout: float = 5.0,
        api_key: str | None = None,
        jpeg_quality: int = 90,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise DetectorError(f"detection service URL {url!r} is not http:// or https://")
        self.endpoint = url.rstrip("/") + DETECTION_PATH
        self.min_score = min_score
        self.timeout = timeout
        self.api_key = api_key
        self.jpeg_quality = jpeg_quality
        self._client = httpx.Client(timeout=timeout)

    def detect(self, image: Bgr) -> list[Detection]:
        """Objects the service found in `image`, best first; ServiceError when it fails."""
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise DetectorError("frame could not be encoded as JPEG")
        form = {"min_confidence": str(self.min_score)}
        if self.api_key:
            form["api_key"] = self.api_key
        try:
            response = self._client.post(
                self.endpoint,
                files={"image": ("frame.jpg", jpeg.tobytes(), "image/jpeg")},
                data=form,
            )
        except httpx.TimeoutException as e:
            raise ServiceError(
                f"detection service {self.endpoint} timed out after {self.timeout} s"
            ) from e
        except httpx.HTTPError as e:
            raise ServiceError(f"detection service {self.endpoint} unreachable: {e}") from e
        if response.status_code != 200:
            raise ServiceError(
                f"detection service {self.endpoint} answered HTTP {response.status_code}"
            )
        try:
            answer = DetectionResponse.model_validate_json(response.content)
        except ValidationError as e:
            snippet = response.text[:80]
            raise ServiceError(
                f"detection service {self.endpoint} returned garbage: {snippet!r}"
            ) from e
        if not answer.success:
            raise ServiceError(
                f"detection service {self.endpoint} failed: {answer.error or 'no reason given'}"
            )
        height, width = image.shape[:2]
        found = [
            Detection(p.label, p.confidence, _box(p, width, height))
            for p in answer.predictions
            if p.confidence >= self.min_score
        ]
        found.sort(key=lambda d: d.score, reverse=True)
        return found

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()
