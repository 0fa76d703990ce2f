"""A camera's detection settings through the API: bad zones and an events-only camera
without detection are refused (422) naming what is wrong, before anything runs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import AddCamera

SQUARE = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]


def locations(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "urn:vigil:problem:invalid-request"
    return [e["location"] for e in response.json()["errors"]]


@pytest.mark.parametrize(
    ("polygon", "says"),
    [
        ([[0.1, 0.1], [0.9, 0.9]], "at least 3 points, got 2"),
        ([[0.1, 0.1], [1.2, 0.1], [0.5, 0.9]], "point 1 (1.2, 0.1) is outside the frame"),
        ([[0.1, -0.1], [0.9, 0.1], [0.5, 0.9]], "point 0 (0.1, -0.1) is outside the frame"),
    ],
)
async def test_a_bad_zone_is_refused_on_create_and_update(
    client: httpx.AsyncClient,
    add_camera: AddCamera,
    dead_url: str,
    polygon: list[list[float]],
    says: str,
) -> None:
    zones: list[dict[str, Any]] = [
        {"name": "door", "polygon": SQUARE},
        {"name": "gate", "polygon": polygon},
    ]
    body = {"name": "Yard", "main_url": dead_url, "detection": {"zones": zones}}
    created = await client.post("/api/cameras", json=body)
    assert locations(created) == ["body.detection.zones.1.polygon"]
    assert says in created.json()["detail"]
    assert (await client.get("/api/cameras")).json() == []

    camera = await add_camera(enabled=False, detection={"zones": zones[:1]})
    updated = await client.patch(
        f"/api/cameras/{camera['id']}", json={"detection": body["detection"]}
    )
    assert locations(updated) == ["body.detection.zones.1.polygon"]
    assert says in updated.json()["detail"]
    kept = (await client.get(f"/api/cameras/{camera['id']}")).json()["detection"]
    assert [z["name"] for z in kept["zones"]] == ["door"]


async def test_events_only_recording_needs_detection(
    client: httpx.AsyncClient, add_camera: AddCamera, dead_url: str
) -> None:
    for detection in (None, {"enabled": False}):
        body: dict[str, Any] = {"name": "Yard", "main_url": dead_url, "record_mode": "events"}
        if detection is not None:
            body["detection"] = detection
        response = await client.post("/api/cameras", json=body)
        assert response.status_code == 422, response.text
        assert "record_mode 'events' needs detection enabled" in response.json()["detail"]

    camera = await add_camera(enabled=False)
    url = f"/api/cameras/{camera['id']}"
    response = await client.patch(url, json={"record_mode": "events"})
    assert locations(response) == ["body.record_mode"]
    assert "needs detection enabled" in response.json()["detail"]
    # With detection it is fine; turning detection off again is then refused, naming it.
    response = await client.patch(url, json={"record_mode": "events", "detection": {}})
    assert response.status_code == 200, response.text
    assert response.json()["record_mode"] == "events"
    response = await client.patch(url, json={"detection": None})
    assert locations(response) == ["body.detection"]
    assert (await client.get(url)).json()["record_mode"] == "events"
