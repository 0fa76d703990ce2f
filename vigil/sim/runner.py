"""Start, drive and stop the simulated RTSP cameras from the project's own Python.

The server itself (``rtsp_server.py``) runs under Debian's ``/usr/bin/python3`` because the
GStreamer gi bindings live there; this module prepares its clips, starts it, waits for its
ready line and talks to its JSON control endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import http.client
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any, Literal, Self
from urllib.parse import quote

from vigil.sim.clips import ClipCodec, ClipParams, ClipScene, ensure_clip

log = logging.getLogger(__name__)

SYSTEM_PYTHON = "/usr/bin/python3"
AUTH_ENV = "VIGIL_SIM_AUTH"  # read by rtsp_server.py
SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
APT_PACKAGES = (
    "python3-gi gir1.2-gst-rtsp-server-1.0 "
    "gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad"
)
INSTALL_HINT = f"apt-get install -y {APT_PACKAGES}"
# Elements the server's pipelines are made of: appsrc (base), payloaders, parsers, rtpbin
# and udpsink (good).
_REQUIRED_ELEMENTS = (
    "appsrc", "rtph264pay", "rtph265pay", "aacparse", "rtpmp4gpay", "rtpbin", "udpsink"
)  # fmt: skip
_PROBE = f"""
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstApp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstApp, GstRtspServer
Gst.init(None)
missing = [e for e in {_REQUIRED_ELEMENTS!r} if Gst.ElementFactory.find(e) is None]
print(" ".join(missing))
"""


class SimulatorUnavailable(RuntimeError):
    """The system Python, its gi bindings or a GStreamer plugin the server needs is missing."""


class SimulatorError(RuntimeError):
    """The simulator failed to start, died, or refused a control request."""


@dataclasses.dataclass(frozen=True)
class CameraStatus:
    """One camera as the control endpoint reports it."""

    name: str
    path: str
    url: str
    state: str  # "idle" (nobody watching), "streaming", "stalled" or "dropped"
    clients: int  # RTSP connections holding a session on this camera


@functools.cache
def check_available(python: str = SYSTEM_PYTHON) -> None:
    """Raise :class:`SimulatorUnavailable` unless ``python`` can run the RTSP server."""
    if not Path(python).is_file():
        raise SimulatorUnavailable(f"{python} not found; install it with: {INSTALL_HINT}")
    try:
        probe = subprocess.run(
            [python, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SimulatorUnavailable(f"cannot run {python}: {exc}; {INSTALL_HINT}") from exc
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise SimulatorUnavailable(
            f"GStreamer RTSP server bindings unusable from {python} ({reason}); "
            f"install them with: {INSTALL_HINT}"
        )
    if missing := probe.stdout.strip():
        raise SimulatorUnavailable(f"GStreamer elements missing: {missing}; {INSTALL_HINT}")


class SimulatedCameras:
    """N looping test cameras served over RTSP on 127.0.0.1.

    Use it as a context manager (``with`` or ``async with``) or call :meth:`start` and
    :meth:`stop`. Every method is synchronous and quick except :meth:`start` (which may
    encode clips the first time); async code can call them directly or via a thread.
    """

    def __init__(
        self,
        cameras: int = 2,
        *,
        width: int = 1280,
        height: int = 720,
        fps: int = 15,
        bitrate_kbps: int = 2000,
        loop_seconds: int = 60,
        audio: bool = True,
        audio_rate: int = 48000,
        labels: bool = False,
        scene: ClipScene = "test",
        walk_start: float = 2.0,
        walk_end: float = 8.0,
        codec: ClipCodec = "h264",
        port: int = 0,
        control_port: int = 0,
        auth: str | None = None,
        auth_method: Literal["digest", "basic"] = "digest",
        cache_dir: Path | None = None,
        python: str = SYSTEM_PYTHON,
        ready_timeout: float = 30.0,
    ) -> None:
        """``port``/``control_port`` 0 pick free ones; ``labels`` encodes one clip per
        camera with its name drawn in (slower to prepare); ``scene="walker"`` shows a person
        walking across, in sight from ``walk_start`` to ``walk_end`` seconds into every loop;
        ``auth`` is ``"user:password"``, asked for on every camera with ``auth_method``;
        ``codec="h265"`` sends H.265 (encoded with libx265) instead of H.264."""
        if cameras < 1:
            raise ValueError("at least one camera")
        if auth is not None and (":" not in auth or auth.startswith(":")):
            raise ValueError("auth must be 'user:password'")
        self.count = cameras
        self.names = [f"cam{n}" for n in range(1, cameras + 1)]
        self._clip = ClipParams(
            width=width,
            height=height,
            fps=fps,
            bitrate_kbps=bitrate_kbps,
            loop_seconds=loop_seconds,
            audio=audio,
            audio_rate=audio_rate,
            scene=scene,
            walk_start=walk_start,
            walk_end=walk_end,
            codec=codec,
        )
        self._labels = labels
        self._port = port
        self._control_port = control_port
        self._auth = auth
        self._auth_method = auth_method
        self._cache_dir = cache_dir
        self._python = python
        self._ready_timeout = ready_timeout
        self._process: subprocess.Popen[str] | None = None
        self._stderr_tail: deque[str] = deque(maxlen=40)
        self._pumps: list[threading.Thread] = []
        self.port = 0
        self.control_url = ""
        self.urls: list[str] = []

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> Self:
        """Prepare the clips, start the server and wait until it serves."""
        if self._process is not None:
            raise SimulatorError("already started")
        check_available(self._python)
        clips = self._prepare_clips()
        cmd = [self._python, str(SERVER_SCRIPT), "--cameras", str(self.count)]
        for clip in clips:
            cmd += ["--clip", str(clip)]
        cmd += ["--port", str(self._port), "--control-port", str(self._control_port)]
        cmd += ["--exit-on-stdin-eof"]  # the server dies with us, even on SIGKILL
        env = {k: v for k, v in os.environ.items() if k != AUTH_ENV}
        if self._auth:
            env[AUTH_ENV] = self._auth  # not on the command line, where ps shows it
            cmd += ["--auth-method", self._auth_method]
        self._process = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        lines: queue.Queue[str | None] = queue.Queue()
        assert self._process.stdout is not None
        assert self._process.stderr is not None
        self._pumps = [
            _pump(self._process.stdout, lines.put, "sim-stdout"),
            _pump(self._process.stderr, self._on_stderr, "sim-stderr"),
        ]
        try:
            ready = self._wait_ready(lines)
        except BaseException:
            self.stop()
            raise
        self.port = int(ready["rtsp_port"])
        self.control_url = str(ready["control_url"])
        self.urls = [str(c["url"]) for c in ready["cameras"]]
        log.info("simulated cameras ready: %s", ", ".join(self.urls))
        return self

    def stop(self) -> None:
        """Stop the server; safe to call twice."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log.warning("simulated cameras did not stop on SIGTERM; killing")
            process.kill()
            process.wait()
        for pump in self._pumps:  # they close the pipes once drained
            pump.join(timeout=5)
        self._pumps = []

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # --- addresses -----------------------------------------------------------------------

    def url(self, name: str, *, credentials: bool = False) -> str:
        """The RTSP URL of camera ``name``, with the ``auth`` credentials in it if asked."""
        url = self.urls[self._index(name)]
        if credentials and self._auth:
            user, _, password = self._auth.partition(":")
            userinfo = f"{quote(user, safe='')}:{quote(password, safe='')}@"
            url = url.replace("rtsp://", f"rtsp://{userinfo}", 1)
        return url

    # --- control -------------------------------------------------------------------------

    def cameras(self) -> list[CameraStatus]:
        """Every camera's state and client count."""
        return [CameraStatus(**c) for c in self._control("GET", "/cameras")]

    def status(self, name: str) -> CameraStatus:
        self._index(name)
        return CameraStatus(**self._control("GET", f"/cameras/{name}"))

    def clients(self, name: str) -> int:
        """RTSP connections currently holding a session on camera ``name``."""
        return self.status(name).clients

    def stall(self, name: str, seconds: float | None = None) -> None:
        """Keep the connections open but send nothing for ``seconds`` (None: until resume)."""
        self._fault(name, "stall", seconds)

    def drop(self, name: str, seconds: float | None = None) -> None:
        """Disconnect every client and refuse new ones (503) for ``seconds`` (None: until
        resume)."""
        self._fault(name, "drop", seconds)

    def resume(self, name: str) -> None:
        """End a stall or drop now."""
        self._fault(name, "resume", None)

    # --- internals -----------------------------------------------------------------------

    def _index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no such camera: {name!r} (have {', '.join(self.names)})") from None

    def _prepare_clips(self) -> list[Path]:
        if not self._labels:
            return [ensure_clip(self._clip, self._cache_dir)]
        return [
            ensure_clip(dataclasses.replace(self._clip, label=name), self._cache_dir)
            for name in self.names
        ]

    def _on_stderr(self, line: str | None) -> None:
        if line is None:
            return
        self._stderr_tail.append(line)
        log.debug("%s", line)

    def _wait_ready(self, lines: queue.Queue[str | None]) -> dict[str, Any]:
        while True:
            try:
                line = lines.get(timeout=self._ready_timeout)
            except queue.Empty:
                raise SimulatorError(
                    f"simulator not ready after {self._ready_timeout:g} s{self._tail()}"
                ) from None
            if line is None:
                assert self._process is not None
                code = self._process.wait(timeout=5)
                raise SimulatorError(f"simulator exited with status {code}{self._tail()}")
            with contextlib.suppress(ValueError):
                message = json.loads(line)
                if isinstance(message, dict) and message.get("event") == "ready":
                    return message

    def _tail(self) -> str:
        return (":\n" + "\n".join(self._stderr_tail)) if self._stderr_tail else ""

    def _fault(self, name: str, action: str, seconds: float | None) -> None:
        self._index(name)
        query = "" if seconds is None else f"?seconds={seconds:g}"
        if seconds is not None and not seconds > 0:
            raise ValueError("seconds must be positive")
        self._control("POST", f"/cameras/{name}/{action}{query}")

    def _control(self, method: str, path: str) -> Any:
        if not self.control_url:
            raise SimulatorError("not started")
        host, _, port = self.control_url.removeprefix("http://").partition(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=15)
        try:
            conn.request(method, path)
            response = conn.getresponse()
            body = json.loads(response.read() or b"null")
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise SimulatorError(f"control request {method} {path} failed: {exc}") from exc
        finally:
            conn.close()
        if response.status != 200:
            raise SimulatorError(f"{method} {path}: {response.status} {body}")
        return body


def _pump(stream: IO[str], sink: Callable[[str | None], None], name: str) -> threading.Thread:
    """Read ``stream`` line by line into ``sink`` on a thread; ``None`` marks the end."""

    def run() -> None:
        with stream:
            for line in stream:
                sink(line.rstrip("\n"))
        sink(None)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def run_sim(
    cameras: int,
    port: int,
    width: int,
    height: int,
    fps: int,
    bitrate_kbps: int,
    audio: bool,
    control_port: int | None,
    auth: str | None,
    scene: ClipScene = "test",
    codec: ClipCodec = "h264",
) -> None:
    """``vigil sim``: serve the cameras, print one RTSP URL a line on stdout, block until
    SIGINT/SIGTERM. Everything else goes to stderr."""
    sim = SimulatedCameras(
        cameras,
        width=width,
        height=height,
        fps=fps,
        bitrate_kbps=bitrate_kbps,
        audio=audio,
        port=port,
        control_port=control_port or 0,
        auth=auth,
        scene=scene,
        codec=codec,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        print("preparing clips (encoded once, then cached)...", file=sys.stderr, flush=True)
        with sim:
            for name in sim.names:
                print(sim.url(name, credentials=True), flush=True)
            print(
                f"control: {sim.control_url}/cameras  "
                f"(POST /cameras/NAME/stall|drop|resume?seconds=S); Ctrl-C stops",
                file=sys.stderr,
                flush=True,
            )
            while not stop.wait(0.5):
                if not sim.running:
                    raise SimulatorError(f"simulator exited unexpectedly{sim._tail()}")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
