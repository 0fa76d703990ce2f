"""Testing a camera's stream before adding it, and a stored camera's: what it sends, or why not."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.api.conftest import AddCamera
from tests.backends import SQLITE_ONLY
from tests.conftest import AUTH_SIM_CREDENTIALS, SecretWatch
from vigil.sim.runner import SimulatedCameras

# A stream's probe reads no database but the camera's row.
pytestmark = SQLITE_ONLY

USER, PASSWORD = AUTH_SIM_CREDENTIALS.split(":")


async def test_a_camera_says_what_it_sends(
    client: httpx.AsyncClient, sim: SimulatedCameras
) -> None:
    response = await client.post("/api/cameras/probe", json={"main_url": sim.url("cam1")})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "video": {"codec": "h264", "profile": "Main", "width": 320, "height": 240, "fps": 10.0},
        "audio": {"codec": "aac", "sample_rate": 48000, "channels": 1},
    }


async def test_a_silent_camera_has_no_audio(
    client: httpx.AsyncClient, silent_sim: SimulatedCameras
) -> None:
    response = await client.post("/api/cameras/probe", json={"main_url": silent_sim.url("cam1")})
    assert response.status_code == 200, response.text
    assert response.json()["audio"] is None
    assert response.json()["video"]["width"] == 320


async def test_credentials_open_a_protected_camera(
    client: httpx.AsyncClient, auth_sim: SimulatedCameras, secret_watch: SecretWatch
) -> None:
    secret_watch.add(PASSWORD)
    body = {"main_url": auth_sim.url("cam1"), "username": USER, "password": PASSWORD}
    response = await client.post("/api/cameras/probe", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["video"]["codec"] == "h264"
    # In the URL, as people paste them, credentials work as well.
    in_url = {"main_url": auth_sim.url("cam1", credentials=True)}
    assert (await client.post("/api/cameras/probe", json=in_url)).status_code == 200


async def test_a_wrong_password_is_unauthorised_and_never_repeated(
    client: httpx.AsyncClient, auth_sim: SimulatedCameras, secret_watch: SecretWatch
) -> None:
    wrong = "not-the-Pa55word"
    secret_watch.add(wrong, PASSWORD)
    body = {"main_url": auth_sim.url("cam1"), "username": USER, "password": wrong}
    response = await client.post("/api/cameras/probe", json=body)
    assert response.status_code == 502, response.text
    problem = response.json()
    assert problem["type"] == "urn:vigil:problem:camera-unauthorised"
    assert "user name or password" in problem["detail"]
    assert wrong not in response.text
    audit = await client.get("/api/audit", params={"action": "camera.probe"})
    [entry] = audit.json()["entries"]
    assert entry["outcome"] == "failure"
    assert entry["detail"] == {"reason": "unauthorised"}
    assert wrong not in audit.text


async def test_a_closed_port_is_unreachable(client: httpx.AsyncClient, dead_url: str) -> None:
    response = await client.post("/api/cameras/probe", json={"main_url": dead_url})
    assert response.status_code == 502, response.text
    assert response.json()["type"] == "urn:vigil:problem:camera-unreachable"
    assert "connection refused" in response.json()["detail"]


async def test_a_path_the_camera_does_not_have(
    client: httpx.AsyncClient, sim: SimulatedCameras
) -> None:
    url = sim.url("cam1").rsplit("/", 1)[0] + "/no-such-stream"
    response = await client.post("/api/cameras/probe", json={"main_url": url})
    assert response.status_code == 502, response.text
    assert response.json()["type"] == "urn:vigil:problem:camera-refused"
    assert "no stream at this path" in response.json()["detail"]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says a word."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        held: list[socket.socket] = []
        stop = threading.Event()

        def accept() -> None:
            server.settimeout(0.2)
            while not stop.is_set():
                try:
                    held.append(server.accept()[0])
                except TimeoutError:
                    continue

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        yield server.getsockname()[1]
        stop.set()
        thread.join()
        for connection in held:
            connection.close()


async def test_a_camera_that_never_answers_times_out(
    client: httpx.AsyncClient, silent_port: int
) -> None:
    url = f"rtsp://127.0.0.1:{silent_port}/stream"
    response = await client.post("/api/cameras/probe", json={"main_url": url})
    assert response.status_code == 504, response.text
    assert response.json()["type"] == "urn:vigil:problem:camera-timeout"


async def test_a_bad_url_is_refused_before_anything_is_dialled(client: httpx.AsyncClient) -> None:
    for url in ("ftp://camera/stream", "rtsp://", "rtsp://host:0/x"):
        response = await client.post("/api/cameras/probe", json={"main_url": url})
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["location"].startswith("body")


async def test_a_stored_camera_is_tested_with_its_stored_credentials(
    client: httpx.AsyncClient,
    add_camera: AddCamera,
    auth_sim: SimulatedCameras,
    secret_watch: SecretWatch,
) -> None:
    secret_watch.add(PASSWORD)
    camera = await add_camera(
        main_url=auth_sim.url("cam1"), username=USER, password=PASSWORD, enabled=False
    )
    response = await client.post(f"/api/cameras/{camera['id']}/probe")
    assert response.status_code == 200, response.text
    assert response.json()["video"]["height"] == 240
    # Another URL (a sub stream, say), still with the stored credentials.
    other = auth_sim.url("cam1").rsplit("/", 1)[0] + "/elsewhere"
    response = await client.post(f"/api/cameras/{camera['id']}/probe", json={"main_url": other})
    assert response.json()["type"] == "urn:vigil:problem:camera-refused"
    # A new password given in the body is the one tried.
    wrong = {"password": "not-the-Pa55word"}
    secret_watch.add(wrong["password"])
    response = await client.post(f"/api/cameras/{camera['id']}/probe", json=wrong)
    assert response.json()["type"] == "urn:vigil:problem:camera-unauthorised"
    audit = (await client.get("/api/audit", params={"action": "camera.probe"})).json()
    assert {e["target"] for e in audit["entries"]} == {f"camera:{camera['id']}"}
