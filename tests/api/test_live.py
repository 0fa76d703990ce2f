"""Live view through the API: WebSocket viewers, the HLS window, snapshots, on a real port."""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
from collections.abc import AsyncIterator

import av
import httpx
import psutil
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.api.conftest import AddCamera, Json
from tests.backends import SQLITE_ONLY
from tests.conftest import SecretWatch
from tests.node.helpers import eventually
from tests.people import api_key
from tests.serve import serving
from vigil.api.app import create_app
from vigil.app import Services
from vigil.auth.tokens import MediaKind
from vigil.media.ffmpeg import find_ffmpeg
from vigil.media.fmp4 import parse_fragment, parse_init
from vigil.media.mp4 import boxes
from vigil.settings import Settings
from vigil.sim.runner import SimulatedCameras
from vigil.store.models import User

# Live media does not touch the database: these run on SQLite only, to keep the suite short.


@pytest.fixture
async def base_url(settings: Settings, services: Services) -> AsyncIterator[str]:
    async with serving(create_app(settings, services)) as url:
        yield url


async def ws_url(
    client: httpx.AsyncClient, base_url: str, camera_id: int, stream: str = "main"
) -> str:
    """The WebSocket URL the API hands out: it carries a signed link, no cookie needed."""
    info = await client.get(f"/api/cameras/{camera_id}/live/info", params={"stream": stream})
    return base_url.replace("http://", "ws://") + info.json()["websocket"]


async def read_start(socket: ClientConnection, fragments: int) -> tuple[Json, bytes, list[bytes]]:
    """The stream message, the init segment and the first ``fragments`` fragments."""
    stream = json.loads(await socket.recv())
    init = await socket.recv()
    assert isinstance(init, bytes)
    received = []
    for _ in range(fragments):
        fragment = await socket.recv()
        assert isinstance(fragment, bytes)
        received.append(fragment)
    return stream, init, received


async def viewers(client: httpx.AsyncClient, camera_id: int) -> int:
    return int((await client.get(f"/api/cameras/{camera_id}/live/info")).json()["viewers"])


@SQLITE_ONLY
async def test_twenty_viewers_share_one_live_connection(
    base_url: str, client: httpx.AsyncClient, add_camera: AddCamera, sim: SimulatedCameras
) -> None:
    """Unwatched, a recorded camera has one connection (the recording's); its viewers, 20 of
    them, share one more (node.live = "on_demand", the default), which ends once they left."""
    camera = await add_camera(main_url=sim.urls[0])

    async def live_says() -> Json:
        return (await client.get(f"/api/cameras/{camera['id']}/live/info")).json()

    await eventually(live_says, lambda info: info["live"], 30, "the camera to stream")
    assert sim.clients("cam1") == 1, "unwatched: the recording's connection only"
    url = await ws_url(client, base_url, camera["id"])
    sockets = [await connect(url, max_size=None) for _ in range(20)]
    try:
        starts = await asyncio.wait_for(
            asyncio.gather(*(read_start(s, 8) for s in sockets)), timeout=30
        )
        assert await viewers(client, camera["id"]) == 20
        assert sim.clients("cam1") == 2, "the recording's, and one for every viewer"
        for stream, init, fragments in starts:
            assert stream["type"] == "stream"
            assert stream["codecs"] == "avc1.4d400c,mp4a.40.2"
            assert (stream["width"], stream["height"]) == (320, 240)
            info = parse_init(init)
            assert info.mime == stream["mime"]
            assert info.video is not None
            assert [b[0] for b in boxes(fragments[0])] == ["moof", "mdat"]
            assert parse_fragment(fragments[0], info.video).keyframe, (
                "a viewer starts on a keyframe"
            )
        info = (await client.get(f"/api/cameras/{camera['id']}/live/info")).json()
        assert info["live"] is True
        assert info["codecs"] == "avc1.4d400c,mp4a.40.2"
    finally:
        await asyncio.gather(*(s.close() for s in sockets))
    await eventually(
        lambda: viewers(client, camera["id"]), lambda n: n == 0, 10, "viewers to leave"
    )

    async def connections() -> int:
        return sim.clients("cam1")

    await eventually(connections, lambda n: n == 1, 30, "live view's connection to end")


@SQLITE_ONLY
async def test_viewers_that_vanish_mid_stream_leak_nothing(
    base_url: str, client: httpx.AsyncClient, add_camera: AddCamera, sim: SimulatedCameras
) -> None:
    camera = await add_camera(main_url=sim.urls[1])
    me = psutil.Process()

    async def watch_then_vanish(abrupt: bool) -> None:
        socket = await connect(await ws_url(client, base_url, camera["id"]), max_size=None)
        await read_start(socket, 3)
        if abrupt:  # the connection drops: no close handshake
            socket.transport.abort()
        else:
            await socket.close()

    async def crowd() -> None:
        await asyncio.gather(*(watch_then_vanish(abrupt=i % 2 == 0) for i in range(10)))
        await eventually(lambda: viewers(client, camera["id"]), lambda n: n == 0, 10, "no viewers")

    async def leaks() -> tuple[int, int, int]:
        return len(asyncio.all_tasks()), me.num_fds(), len(me.children(True))

    # The first crowd warms up what is kept on purpose (database pool, lazy imports).
    await crowd()
    before = await leaks()
    await crowd()
    await crowd()
    await eventually(leaks, lambda now: now <= before, 10, "tasks, fds and children as before")

    async def connections() -> int:
        return sim.clients("cam2")

    await eventually(connections, lambda n: n == 1, 30, "live view's connection to end")


@SQLITE_ONLY
async def test_live_hls_playlist_plays_in_ffmpeg(
    base_url: str, client: httpx.AsyncClient, add_camera: AddCamera, sim: SimulatedCameras
) -> None:
    camera = await add_camera(main_url=sim.urls[2])
    info = await client.get(f"/api/cameras/{camera['id']}/live/info")
    playlist_path = info.json()["hls"]
    assert "?token=" in playlist_path

    async def playlist() -> httpx.Response:
        return await client.get(playlist_path)

    answer = await eventually(playlist, lambda r: r.status_code == 200, 20, "a live playlist")
    assert answer.headers["content-type"] == "application/vnd.apple.mpegurl"
    text = answer.text
    assert "#EXT-X-VERSION:7" in text
    # Media URIs carry the playlist's signed link, so players need no cookie.
    assert re.search(r'#EXT-X-MAP:URI="live/init/1\.mp4\?token=[^"]+"', text)
    # ffmpeg as a player: it follows the live playlist for 3 s and decodes every segment.
    read = await asyncio.to_thread(
        subprocess.run,
        [find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-i", base_url + playlist_path,
         "-t", "3", "-f", "null", "-"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert read.returncode == 0, read.stderr
    assert read.stderr.strip() == ""


@SQLITE_ONLY
async def test_snapshot_is_the_latest_frame(
    client: httpx.AsyncClient, add_camera: AddCamera, sim: SimulatedCameras
) -> None:
    camera = await add_camera(main_url=sim.urls[3])
    url = f"/api/cameras/{camera['id']}/snapshot.jpg"

    async def snapshot() -> httpx.Response:
        return await client.get(url)

    first = await eventually(snapshot, lambda r: r.status_code == 200, 20, "a first picture")
    assert first.headers["content-type"] == "image/jpeg"
    with av.open(io.BytesIO(first.content)) as image:
        frame = next(image.decode(video=0))
        assert (frame.width, frame.height) == (320, 240)
    # The simulator's clock moves: a later keyframe is another picture.
    await eventually(snapshot, lambda r: r.content != first.content, 10, "a newer picture")


async def test_snapshot_problems(client: httpx.AsyncClient, add_camera: AddCamera) -> None:
    waiting = await add_camera()  # nothing listens at its address: no picture, ever
    answer = await client.get(f"/api/cameras/{waiting['id']}/snapshot.jpg")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert "no live picture yet" in answer.json()["detail"]
    assert (await client.get(f"/api/cameras/{waiting['id']}/live.m3u8")).status_code == 503

    disabled = await add_camera(enabled=False)
    answer = await client.get(f"/api/cameras/{disabled['id']}/snapshot.jpg")
    assert answer.status_code == 503
    assert "disabled" in answer.json()["detail"]

    answer = await client.get("/api/cameras/999999/snapshot.jpg")
    assert answer.status_code == 404
    assert answer.json()["type"] == "urn:vigil:problem:camera-not-found"
    assert (await client.get(f"/api/cameras/{waiting['id']}/live/0.m4s")).status_code == 404


@SQLITE_ONLY
async def test_a_script_watches_with_an_api_key_and_no_log_line_shows_it(
    base_url: str,
    client: httpx.AsyncClient,
    add_camera: AddCamera,
    sim: SimulatedCameras,
    services: Services,
    admin: User,
    secret_watch: SecretWatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A key in the handshake's Authorization header (no link) opens the stream; the
    websockets library prints every handshake header at debug level, which this module
    logs (see VERBOSE_MODULES), and the key never appears (secret_watch checks each line)."""
    camera = await add_camera(main_url=sim.urls[0])
    key = await api_key(services, admin, ["live"], secret_watch)
    url = base_url.replace("http://", "ws://") + f"/api/cameras/{camera['id']}/live"
    headers = {"Authorization": f"Bearer {key}"}
    async with connect(url, max_size=None, additional_headers=headers) as socket:
        stream, _, fragments = await asyncio.wait_for(read_start(socket, 1), timeout=30)
    assert stream["type"] == "stream"
    assert fragments
    handshake = [r.getMessage() for r in caplog.records if r.getMessage().startswith("< ")]
    assert "< authorization: [redacted]" in handshake


@SQLITE_ONLY
async def test_websocket_for_an_unknown_camera_is_refused(
    base_url: str, services: Services, admin: User
) -> None:
    token = services.auth.signer.sign(admin.id, MediaKind.LIVE, 999999)
    url = base_url.replace("http://", "ws://") + f"/api/cameras/999999/live?token={token}"
    with pytest.raises(InvalidStatus) as refused:
        await connect(url)
    assert refused.value.response.status_code == 404
    assert b"camera-not-found" in refused.value.response.body


@SQLITE_ONLY
async def test_websocket_needs_a_valid_link_or_session(
    base_url: str, client: httpx.AsyncClient, add_camera: AddCamera, sim: SimulatedCameras
) -> None:
    camera = await add_camera(main_url=sim.urls[0])
    signed = await ws_url(client, base_url, camera["id"])
    bare, _, token = signed.partition("?token=")
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for url, why in ((bare, "no credential"), (f"{bare}?token={tampered}", "tampered link")):
        with pytest.raises(InvalidStatus) as refused:
            await connect(url)
        assert refused.value.response.status_code == 401, why
        assert b"not-authenticated" in refused.value.response.body


@SQLITE_ONLY
async def test_sub_stream_runs_only_while_watched(
    base_url: str,
    client: httpx.AsyncClient,
    add_camera: AddCamera,
    sim: SimulatedCameras,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("vigil.node.live.IDLE_SECONDS", 0.5)
    camera = await add_camera(main_url=sim.urls[2], sub_url=sim.urls[3])
    main = await connect(await ws_url(client, base_url, camera["id"]), max_size=None)
    await read_start(main, 1)
    assert sim.clients("cam4") == 0, "nobody watches the sub stream: no connection to it"

    sub = await connect(await ws_url(client, base_url, camera["id"], "sub"), max_size=None)
    stream, init, _ = await asyncio.wait_for(read_start(sub, 2), 30)
    assert parse_init(init).codecs == stream["codecs"]
    assert sim.clients("cam4") == 1
    info = await client.get(f"/api/cameras/{camera['id']}/live/info", params={"stream": "sub"})
    assert info.json()["viewers"] == 1
    assert info.json()["websocket"].endswith("&stream=sub")
    await sub.close()

    async def sub_connections() -> int:
        return sim.clients("cam4")

    await eventually(sub_connections, lambda n: n == 0, 15, "the sub stream to stop")
    assert sim.clients("cam3") == 2, "the main stream carries on (recording and live view)"
    await main.close()


@SQLITE_ONLY
async def test_sub_streams_kept_running_play_at_once_and_stop_with_their_camera(
    base_url: str,
    client: httpx.AsyncClient,
    add_camera: AddCamera,
    settings: Settings,
    sim: SimulatedCameras,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With node.sub_streams = "always" a camera's sub stream runs with nobody watching, so a
    grid's first viewer gets its picture from the fragments already there; disabling the
    camera ends it."""
    monkeypatch.setattr("vigil.node.live.IDLE_SECONDS", 0.5)
    settings.node.sub_streams = "always"
    camera = await add_camera(main_url=sim.urls[2], sub_url=sim.urls[3])

    async def sub_connections() -> int:
        return sim.clients("cam4")

    await eventually(sub_connections, lambda n: n == 1, 30, "the sub stream to run unwatched")
    info = await client.get(f"/api/cameras/{camera['id']}/live/info", params={"stream": "sub"})
    assert info.json()["viewers"] == 0

    async def sub_live() -> bool:
        answer = await client.get(
            f"/api/cameras/{camera['id']}/live/info", params={"stream": "sub"}
        )
        return bool(answer.json()["live"])

    await eventually(sub_live, bool, 30, "the sub stream's first fragments")
    sub = await connect(await ws_url(client, base_url, camera["id"], "sub"), max_size=None)
    await asyncio.wait_for(read_start(sub, 2), 30)
    await sub.close()
    await asyncio.sleep(1.5)  # three times the idle delay: on demand, it would have stopped
    assert sim.clients("cam4") == 1, "kept running after its viewer left"

    await client.patch(f"/api/cameras/{camera['id']}", json={"enabled": False})
    await eventually(sub_connections, lambda n: n == 0, 15, "the sub stream to stop")
