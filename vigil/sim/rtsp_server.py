#!/usr/bin/python3
"""Simulated RTSP cameras: serve pre-encoded looping clips as live H.264 or H.265 (+AAC) streams.

Run by Debian's ``/usr/bin/python3``, where the GStreamer gi bindings live, so it imports only
the stdlib and gi. Each camera is one shared GstRtspServer media fed by ``appsrc`` elements
with the clip's access units; a feeder thread stamps them against the pipeline clock and
wraps around the loop forever, so a camera costs a packetiser and nothing else.

A camera's picture follows its own epoch (the server start), not the moment a client came:
every client of a camera sees the same frame at the same time. A new stream starts at the
latest keyframe, so it lags that epoch by less than one GOP.

Control (JSON over HTTP on 127.0.0.1, ``--control-port``):
  GET  /cameras                       -> [{name, path, url, state, clients}, ...]
  GET  /cameras/NAME                  -> {name, path, url, state, clients}
  POST /cameras/NAME/stall?seconds=S  keep connections, send nothing (S absent: until resume)
  POST /cameras/NAME/drop?seconds=S   close every client, answer 503 to new ones
  POST /cameras/NAME/resume           end a stall or drop now

One JSON line is printed on stdout once serving: {"event": "ready", ...}.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstApp", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstApp, GstRtsp, GstRtspServer  # noqa: E402

SECOND = 1_000_000_000
# Past this much queued in appsrc nothing is pulling (a DESCRIBE whose PLAY never came):
# stop feeding instead of growing the queue, and resync at a keyframe once it drains.
MAX_QUEUED_NS = SECOND
# Further off than this from the pipeline clock (a pause, a suspended process): resync
# rather than burst or sleep.
MAX_SKEW_NS = 2 * SECOND
FOREVER = math.inf
STATUS_UNAVAILABLE = GstRtsp.RTSPStatusCode.SERVICE_UNAVAILABLE
STATUS_OK = GstRtsp.RTSPStatusCode.OK
AUTH_ENV = "VIGIL_SIM_AUTH"
T = TypeVar("T")


def log(message: str) -> None:
    print(f"rtsp-sim: {message}", file=sys.stderr, flush=True)


class Clip:
    """A clip folder loaded into memory: one bytes object per video and audio frame."""

    def __init__(self, folder: Path) -> None:
        index = json.loads((folder / "index.json").read_text())
        video = index["video"]
        self.width: int = video["width"]
        self.height: int = video["height"]
        self.fps: int = video["fps"]
        self.codec: str = video.get("codec", "h264")  # "h264" or "h265"
        self.video = _slice((folder / video["file"]).read_bytes(), video["offsets"])
        self.keyframes: list[int] = video["keyframes"]
        self.is_keyframe = [False] * len(self.video)
        for k in self.keyframes:
            self.is_keyframe[k] = True
        self.loop_ns: int = len(self.video) * SECOND // self.fps
        if len(self.video) * SECOND % self.fps:
            raise ValueError("the loop must last a whole number of nanoseconds")
        audio = index.get("audio")
        self.audio: list[bytes] = []
        self.rate: int = 0
        self.channels: int = 0
        self.samples_per_frame: int = 1024
        if audio:
            self.audio = _slice((folder / audio["file"]).read_bytes(), audio["offsets"])
            self.rate = audio["rate"]
            self.channels = audio["channels"]
            self.samples_per_frame = audio["samples_per_frame"]

    def video_time(self, frame: int) -> int:
        """Content time of global video frame ``frame`` (counting across loops), in ns."""
        loop, i = divmod(frame, len(self.video))
        return loop * self.loop_ns + i * SECOND // self.fps

    def audio_time(self, frame: int) -> int:
        """Content time of global audio frame ``frame``: every loop restarts with the video."""
        loop, i = divmod(frame, len(self.audio))
        return loop * self.loop_ns + i * self.samples_per_frame * SECOND // self.rate

    def keyframe_at_or_before(self, content_ns: int) -> int:
        frame = content_ns * self.fps // SECOND
        loop, i = divmod(frame, len(self.video))
        return loop * len(self.video) + self.keyframes[bisect.bisect_right(self.keyframes, i) - 1]

    def audio_frame_at_or_after(self, content_ns: int) -> int:
        loop, rest = divmod(content_ns, self.loop_ns)
        step = self.samples_per_frame * SECOND
        i = -(-rest * self.rate // step)  # ceil
        if i >= len(self.audio):
            loop, i = loop + 1, 0
        return loop * len(self.audio) + i


def _slice(data: bytes, offsets: list[int]) -> list[bytes]:
    return [data[a:b] for a, b in itertools.pairwise(offsets)]


class Camera:
    """One simulated camera: its clip, epoch, fault state and the media currently serving it."""

    def __init__(self, name: str, clip: Clip, url: str, epoch_ns: int) -> None:
        self.name = name
        self.path = f"/{name}"
        self.url = url
        self.clip = clip
        self.epoch_ns = epoch_ns  # monotonic time at which the loop was at frame 0
        self.lock = threading.Lock()
        self.stall_until = 0.0  # time.monotonic() deadlines; FOREVER until resume
        self.drop_until = 0.0
        self.media: GstRtspServer.RTSPMedia | None = None
        self.feeder: Feeder | None = None

    def dropped(self) -> bool:
        with self.lock:
            return time.monotonic() < self.drop_until

    def quiet_for(self) -> float:
        """Seconds left during which no data may be sent (stall or drop), else 0."""
        with self.lock:
            return max(0.0, max(self.stall_until, self.drop_until) - time.monotonic())

    def state(self) -> str:
        now = time.monotonic()
        with self.lock:
            if now < self.drop_until:
                return "dropped"
            if now < self.stall_until:
                return "stalled"
        return "streaming" if self.media is not None else "idle"

    def set_fault(self, kind: str, seconds: float) -> None:
        with self.lock:
            until = time.monotonic() + seconds
            if kind == "stall":
                self.stall_until = until
            elif kind == "drop":
                self.drop_until = until
            else:
                self.stall_until = self.drop_until = 0.0
        if self.feeder is not None:
            self.feeder.wake()


class Feeder(threading.Thread):
    """Pushes one camera's frames into its media's appsrc elements in real time."""

    def __init__(self, camera: Camera, video: GstApp.AppSrc, audio: GstApp.AppSrc | None) -> None:
        super().__init__(name=f"feed-{camera.name}", daemon=True)
        self.camera = camera
        self.clip = camera.clip
        self.vsrc = video
        self.asrc = audio
        self._stop = threading.Event()
        self._wakeup = threading.Event()
        self._frame = 0  # next global video frame
        self._audio = 0  # next global audio frame
        self._offset = 0  # running time = content time + offset
        self._discont = True

    def wake(self) -> None:
        self._wakeup.set()

    def stop(self) -> None:
        self._stop.set()
        self._wakeup.set()

    def _sleep(self, seconds: float) -> None:
        """Sleep, or less if woken; the loop clears the flag before it looks at the state,
        so a wake-up is never lost."""
        self._wakeup.wait(seconds)

    def _running_time(self) -> int | None:
        clock = self.vsrc.get_clock()
        if clock is None:
            return None
        return int(clock.get_time() - self.vsrc.get_base_time())

    def _sync(self, now: int) -> None:
        """Restart at the latest keyframe of the camera's timeline, due right now."""
        content = time.monotonic_ns() - self.camera.epoch_ns
        self._frame = self.clip.keyframe_at_or_before(content)
        start = self.clip.video_time(self._frame)
        self._offset = now - start
        if self.asrc is not None:
            self._audio = self.clip.audio_frame_at_or_after(start)
        self._discont = True

    def run(self) -> None:
        synced = False
        while not self._stop.is_set():
            self._wakeup.clear()
            quiet = self.camera.quiet_for()
            if quiet > 0:
                synced = False
                self._sleep(min(quiet, 1.0))
                continue
            now = self._running_time()
            queued = self.vsrc.get_property("current-level-time")
            if now is None or queued > MAX_QUEUED_NS:
                synced = False
                self._sleep(0.05)
                continue
            if not synced:
                self._sync(now)
                synced = True
            due = self._offset + self.clip.video_time(self._frame)
            if abs(due - now) > MAX_SKEW_NS:
                synced = False
                continue
            if due > now:
                self._sleep((due - now) / SECOND)
                continue
            self._push_video(due)
            if self.asrc is not None:
                # Audio rides along: whatever is due before the next video frame goes now, at
                # most one frame early, so a camera wakes fps times a second instead of ~60.
                next_frame = self._offset + self.clip.video_time(self._frame)
                while (audio_due := self._offset + self.clip.audio_time(self._audio)) < next_frame:
                    self._push_audio(audio_due)

    def _push_video(self, pts: int) -> None:
        clip = self.clip
        i = self._frame % len(clip.video)
        buf = Gst.Buffer.new_wrapped(clip.video[i])
        buf.pts = buf.dts = pts
        buf.duration = clip.video_time(self._frame + 1) - clip.video_time(self._frame)
        if not clip.is_keyframe[i]:
            buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
        if self._discont:
            buf.set_flags(Gst.BufferFlags.DISCONT)
        self.vsrc.push_buffer(buf)
        self._frame += 1
        self._discont = False

    def _push_audio(self, pts: int) -> None:
        assert self.asrc is not None
        clip = self.clip
        buf = Gst.Buffer.new_wrapped(clip.audio[self._audio % len(clip.audio)])
        buf.pts = buf.dts = pts
        buf.duration = clip.audio_time(self._audio + 1) - clip.audio_time(self._audio)
        if buf.duration > clip.samples_per_frame * SECOND // clip.rate:
            buf.duration = clip.samples_per_frame * SECOND // clip.rate  # the gap at a wrap
        self.asrc.push_buffer(buf)
        self._audio += 1


def launch_line(clip: Clip) -> str:
    """The media pipeline: appsrc into payloaders. Nothing else that is live (a live test
    source next to appsrc makes the media seekable, and a second PLAY then breaks it)."""
    video = (
        "appsrc name=vsrc is-live=true do-timestamp=false format=time min-latency=0 "
        f"! rtp{clip.codec}pay name=pay0 pt=96"
    )
    if not clip.audio:
        return f"( {video} )"
    audio = (
        "appsrc name=asrc is-live=true do-timestamp=false format=time min-latency=0 "
        "! aacparse ! rtpmp4gpay name=pay1 pt=97"
    )
    return f"( {video} {audio} )"


class Simulator:
    """The RTSP server, its cameras and the fault controls."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.host: str = args.host
        self.server = GstRtspServer.RTSPServer()
        self.server.set_address(self.host)
        self.server.set_service(str(args.port))
        self.auth_user: str | None = None
        permissions = None
        if args.auth:
            permissions = self._setup_auth(args.auth, args.auth_method)
        clips = [Clip(Path(c)) for c in args.clip]
        if len(clips) not in (1, args.cameras):
            raise SystemExit("--clip must be given once or once per camera")
        self.cameras: dict[str, Camera] = {}
        # Cameras each connected client asked for, even without a session yet (so a drop
        # can close it). Client callbacks run on the server's client thread, hence the lock.
        self.touched: dict[GstRtspServer.RTSPClient, set[str]] = {}
        self.touched_lock = threading.Lock()
        mounts = self.server.get_mount_points()
        epoch = time.monotonic_ns()
        for n in range(1, args.cameras + 1):
            clip = clips[0] if len(clips) == 1 else clips[n - 1]
            camera = Camera(f"cam{n}", clip, "", epoch)
            factory = GstRtspServer.RTSPMediaFactory()
            factory.set_launch(launch_line(clip))
            factory.set_shared(True)  # one pipeline per camera, whatever the client count
            factory.set_stop_on_disconnect(True)
            if permissions is not None:
                factory.set_permissions(permissions)
            factory.connect("media-configure", self._on_media_configure, camera)
            mounts.add_factory(camera.path, factory)
            self.cameras[camera.name] = camera
        self.server.connect("client-connected", self._on_client_connected)
        if self.server.attach(None) == 0:
            raise SystemExit(f"cannot listen on {self.host}:{args.port}")
        self.port: int = self.server.get_bound_port()
        for camera in self.cameras.values():
            camera.url = f"rtsp://{self.host}:{self.port}{camera.path}"
        # Expired sessions (UDP clients gone without TEARDOWN) are only reaped when asked.
        pool = self.server.get_session_pool()
        GLib.timeout_add_seconds(2, lambda: pool.cleanup() >= 0)

    def _setup_auth(self, credentials: str, method: str) -> GstRtspServer.RTSPPermissions:
        user, sep, password = credentials.partition(":")
        if not sep or not user:
            raise SystemExit("--auth must be USER:PASSWORD")
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", user)
        # One method at a time: the bindings cannot pass BASIC | DIGEST (an enum, not flags).
        if method == "basic":
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
        else:
            auth.add_digest(user, password, token)
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        self.server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role(user, "media.factory.access", True)
        permissions.add_permission_for_role(user, "media.factory.construct", True)
        self.auth_user = user
        return permissions

    # --- media lifecycle (GLib main loop and streaming threads) -------------------------

    def _on_media_configure(
        self,
        _factory: GstRtspServer.RTSPMediaFactory,
        media: GstRtspServer.RTSPMedia,
        camera: Camera,
    ) -> None:
        bin_ = media.get_element()
        clip = camera.clip
        vsrc = bin_.get_by_name("vsrc")
        vsrc.set_property(
            "caps",
            Gst.Caps.from_string(
                f"video/x-{clip.codec},stream-format=byte-stream,alignment=au,"
                f"width={clip.width},height={clip.height},framerate={clip.fps}/1"
            ),
        )
        asrc = bin_.get_by_name("asrc")
        if asrc is not None:
            asrc.set_property(
                "caps",
                Gst.Caps.from_string(
                    "audio/mpeg,mpegversion=4,stream-format=adts,"
                    f"rate={clip.rate},channels={clip.channels}"
                ),
            )
        feeder = Feeder(camera, vsrc, asrc)
        started = threading.Lock()

        def on_need_data(_src: GstApp.AppSrc, _length: int) -> None:
            # The first need-data comes once the live pipeline is PLAYING: clock and base
            # time are set, so timestamps can be computed from then on.
            with started:
                if not feeder.is_alive() and camera.feeder is feeder:
                    feeder.start()

        vsrc.connect("need-data", on_need_data)
        media.connect("unprepared", self._on_unprepared, camera, feeder)
        with camera.lock:
            old = camera.feeder
            camera.media, camera.feeder = media, feeder
        if old is not None:
            old.stop()

    def _on_unprepared(
        self, media: GstRtspServer.RTSPMedia, camera: Camera, feeder: Feeder
    ) -> None:
        feeder.stop()
        with camera.lock:
            if camera.feeder is feeder:
                camera.media, camera.feeder = None, None

    # --- clients ----------------------------------------------------------------------------

    def _on_client_connected(
        self, _server: GstRtspServer.RTSPServer, client: GstRtspServer.RTSPClient
    ) -> None:
        with self.touched_lock:
            self.touched[client] = set()
        for request in ("pre-describe-request", "pre-setup-request", "pre-play-request"):
            client.connect(request, self._on_request)
        client.connect("closed", self._on_closed)

    def _on_request(
        self, client: GstRtspServer.RTSPClient, ctx: GstRtspServer.RTSPContext
    ) -> GstRtsp.RTSPStatusCode:
        camera = self._camera_for_path(ctx.uri.abspath if ctx.uri else "")
        if camera is None:
            return STATUS_OK  # the server answers 404 itself
        with self.touched_lock:
            self.touched.setdefault(client, set()).add(camera.name)
        return STATUS_UNAVAILABLE if camera.dropped() else STATUS_OK

    def _on_closed(self, client: GstRtspServer.RTSPClient) -> None:
        with self.touched_lock:
            self.touched.pop(client, None)

    def _camera_for_path(self, path: str) -> Camera | None:
        return self.cameras.get(path.strip("/").split("/", 1)[0])

    def _clients_by_camera(self) -> dict[str, list[GstRtspServer.RTSPClient]]:
        """Connected RTSP clients holding a session on each camera's current media."""
        result: dict[str, list[GstRtspServer.RTSPClient]] = {n: [] for n in self.cameras}
        by_media = {c.media: c.name for c in self.cameras.values() if c.media is not None}
        connected = self.server.client_filter(None)
        with self.touched_lock:
            for gone in set(self.touched).difference(connected):  # if "closed" never came
                del self.touched[gone]
        for client in connected:
            names = set()
            for session in client.session_filter(None):
                for session_media in session.filter(None):
                    name = by_media.get(session_media.get_media())
                    if name is not None:
                        names.add(name)
            for name in names:
                result[name].append(client)
        return result

    # --- control (called on the main loop) --------------------------------------------------

    def describe(self) -> list[dict[str, object]]:
        clients = self._clients_by_camera()
        return [
            {
                "name": c.name,
                "path": c.path,
                "url": c.url,
                "state": c.state(),
                "clients": len(clients[c.name]),
            }
            for c in self.cameras.values()
        ]

    def fault(self, name: str, kind: str, seconds: float) -> None:
        camera = self.cameras[name]
        camera.set_fault(kind, seconds)
        if kind == "drop":
            holding = set(self._clients_by_camera()[name])
            with self.touched_lock:
                holding.update(c for c, names in self.touched.items() if name in names)
            for client in holding:
                client.close()
        until = (
            "" if kind == "resume" else " until resume" if seconds == FOREVER else f" {seconds:g} s"
        )
        log(f"{name}: {kind}{until}")

    def shutdown(self) -> None:
        for client in self.server.client_filter(None):
            client.close()
        for camera in self.cameras.values():
            if camera.feeder is not None:
                camera.feeder.stop()


def on_main_loop(func: Callable[[], T], timeout: float = 10.0) -> T:
    """Run ``func`` on the GLib main loop (the thread that accepts clients and builds media)
    and return its result; the control endpoint's threads never touch the server directly."""
    done = threading.Event()
    box: dict[str, Any] = {}

    def call() -> bool:
        try:
            box["value"] = func()
        except Exception as exc:  # handed to the caller's thread
            box["error"] = exc
        done.set()
        return False  # GLib.SOURCE_REMOVE

    GLib.idle_add(call)
    if not done.wait(timeout):
        raise TimeoutError("the main loop did not answer")
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


class ControlHandler(BaseHTTPRequestHandler):
    """The JSON control endpoint; every action runs on the GLib main loop."""

    sim: Simulator

    def log_message(self, format: str, *args: object) -> None:
        pass  # stdout/stderr stay quiet; the runner reads stdout

    def _reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _camera(self, cameras: list[dict[str, object]], name: str) -> dict[str, object] | None:
        return next((c for c in cameras if c["name"] == name), None)

    def do_GET(self) -> None:
        self._guarded(self._get)

    def do_POST(self) -> None:
        self._guarded(self._post)

    def _guarded(self, handler: Callable[[], None]) -> None:
        try:
            handler()
        except Exception as exc:  # the endpoint answers, whatever went wrong
            log(f"control request {self.command} {self.path} failed: {exc!r}")
            self._reply(500, {"error": repr(exc)})

    def _get(self) -> None:
        parts = urlsplit(self.path).path.strip("/").split("/")
        cameras = on_main_loop(self.sim.describe)
        if parts == ["cameras"]:
            self._reply(200, cameras)
        elif len(parts) == 2 and parts[0] == "cameras" and self._camera(cameras, parts[1]):
            self._reply(200, self._camera(cameras, parts[1]))
        else:
            self._reply(404, {"error": f"no such resource: {self.path}"})

    def _post(self) -> None:
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "cameras" or parts[2] not in ("stall", "drop", "resume"):
            self._reply(404, {"error": f"no such action: {url.path}"})
            return
        name, kind = parts[1], parts[2]
        if name not in self.sim.cameras:
            self._reply(404, {"error": f"no such camera: {name}"})
            return
        seconds = FOREVER
        if kind != "resume" and "seconds" in (query := parse_qs(url.query)):
            try:
                seconds = float(query["seconds"][0])
            except ValueError:
                seconds = -1.0
            if not 0 < seconds < FOREVER:
                self._reply(400, {"error": "seconds must be a positive number"})
                return
        on_main_loop(lambda: self.sim.fault(name, kind, seconds))
        self._reply(200, self._camera(on_main_loop(self.sim.describe), name))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", action="append", required=True, help="clip folder (index.json)")
    parser.add_argument("--cameras", type=int, default=1)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8554, help="RTSP port; 0 picks a free one")
    parser.add_argument("--control-port", type=int, default=0, help="0 picks a free one")
    parser.add_argument(
        "--auth",
        default=os.environ.get(AUTH_ENV),
        help=f"USER:PASSWORD required on every camera (default: ${AUTH_ENV}, which keeps the "
        "password out of the process list)",
    )
    parser.add_argument("--auth-method", choices=("digest", "basic"), default="digest")
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help="die with the parent")
    args = parser.parse_args(argv)
    if args.cameras < 1:
        parser.error("--cameras must be at least 1")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    Gst.init(None)
    sim = Simulator(args)
    ControlHandler.sim = sim
    try:
        control = ThreadingHTTPServer(("127.0.0.1", args.control_port), ControlHandler)
    except OSError as exc:
        raise SystemExit(f"cannot listen on 127.0.0.1:{args.control_port}: {exc}") from exc
    control.daemon_threads = True
    threading.Thread(
        target=control.serve_forever, args=(0.05,), name="control", daemon=True
    ).start()
    loop = GLib.MainLoop()

    def quit_() -> bool:
        sim.shutdown()
        loop.quit()
        return False  # GLib.SOURCE_REMOVE

    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, quit_)
    if args.exit_on_stdin_eof:

        def on_stdin(fd: int, _condition: GLib.IOCondition) -> bool:
            if os.read(fd, 4096):
                return True  # GLib.SOURCE_CONTINUE
            return quit_()

        GLib.io_add_watch(
            sys.stdin.fileno(), GLib.PRIORITY_DEFAULT, GLib.IO_IN | GLib.IO_HUP, on_stdin
        )
    control_port = control.server_address[1]
    ready = {
        "event": "ready",
        "rtsp_port": sim.port,
        "control_port": control_port,
        "control_url": f"http://127.0.0.1:{control_port}",
        "auth": sim.auth_user is not None,
        "cameras": [{"name": c.name, "url": c.url} for c in sim.cameras.values()],
    }
    print(json.dumps(ready), flush=True)
    try:
        loop.run()
    finally:
        control.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
