"""What converting H.265 to H.264 costs, for browsers that cannot decode H.265.

Live: one transcode as the node runs it (``vigil.node.transcode.transcode_args``: the camera
decoded, libx264 veryfast zerolatency, AAC) on a simulated H.265 camera, its ffmpeg's CPU
over a steady window. Recorded: one recorded H.265 file converted as playback does it
(``vigil.playback.transcode.convert_args``), its CPU time and wall time per second of
footage. Per picture size; prints a table and writes a JSON result to ``bench/results/``.

    .venv/bin/python -m bench.transcode                       # 720p and 1080p, 20 s a phase
    .venv/bin/python -m bench.transcode --sizes 320x240 --seconds 3 --warmup 1   # smoke
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

import psutil

from bench.output import write_result
from vigil.link.messages import CameraConfig
from vigil.media.ffmpeg import find_ffmpeg
from vigil.node.transcode import transcode_args
from vigil.playback.transcode import convert_args
from vigil.settings import NodeSettings
from vigil.sim.runner import SimulatedCameras

FPS = 15
RECORDED_SECONDS = 10


def _drain(stream: IO[bytes], counted: list[int]) -> None:
    while chunk := stream.read(65536):
        counted[0] += len(chunk)


def _progress(stream: IO[bytes], media_us: list[int]) -> None:
    for line in stream:
        key, _, value = line.decode(errors="replace").strip().partition("=")
        if key == "out_time_us" and value.isdigit():
            media_us[0] = int(value)


def live_cost(ffmpeg: str, url: str, seconds: float, warmup: float) -> dict[str, float]:
    """One live transcode of ``url``: CPU per second of video converted (% of one core:
    what it needs, even on a box too busy to give it that), how fast it runs against real
    time, and its output rate."""
    args = transcode_args(ffmpeg, NodeSettings(), CameraConfig(id=1, name="bench", main_url=url))
    args[1:1] = ["-progress", "pipe:2", "-stats_period", "0.5"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stderr is not None
    counted, media_us = [0], [0]
    readers = [
        threading.Thread(target=_drain, args=(proc.stdout, counted), daemon=True),
        threading.Thread(target=_progress, args=(proc.stderr, media_us), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        time.sleep(warmup)
        watched = psutil.Process(proc.pid)
        cpu0, bytes0, media0 = sum(watched.cpu_times()[:2]), counted[0], media_us[0]
        t0 = time.monotonic()
        time.sleep(seconds)
        cpu1, bytes1, media1 = sum(watched.cpu_times()[:2]), counted[0], media_us[0]
        t1 = time.monotonic()
    finally:
        proc.terminate()
        proc.wait(10)
        for reader in readers:
            reader.join(10)
    media_s = (media1 - media0) / 1e6
    if bytes1 == bytes0 or media_s <= 0:
        raise SystemExit("the transcode wrote nothing: is the camera up?")
    return {
        "cpu_pct": 100 * (cpu1 - cpu0) / media_s,
        "speed": media_s / (t1 - t0),
        "kbit_s": 8 * (bytes1 - bytes0) / media_s / 1000,
    }


def recorded_cost(ffmpeg: str, url: str, work: Path) -> dict[str, float]:
    """CPU and wall seconds to convert one recorded file, per second of footage."""
    recorded = work / "recorded.mp4"
    subprocess.run(
        [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-rtsp_transport", "tcp", "-i", url, "-t", str(RECORDED_SECONDS), "-c", "copy",
         "-f", "mp4", "-movflags", "+frag_keyframe+empty_moov+default_base_moof",
         str(recorded)],
        check=True,
    )  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run(convert_args(ffmpeg, recorded, "hevc", work / "converted.mp4"), check=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "cpu_s_per_s": cpu / RECORDED_SECONDS,
        "wall_s_per_s": wall / RECORDED_SECONDS,
    }


def measure(size: str, seconds: float, warmup: float) -> dict[str, Any]:
    width, height = (int(n) for n in size.split("x"))
    ffmpeg = find_ffmpeg()
    # Bitrates of typical cameras: 2 Mbit/s at 720p, 4 at 1080p.
    kbps = max(300, width * height * 2000 // (1280 * 720))
    sim = SimulatedCameras(
        cameras=1,
        width=width,
        height=height,
        fps=FPS,
        bitrate_kbps=kbps,
        loop_seconds=RECORDED_SECONDS,
        codec="h265",
    )
    with sim, tempfile.TemporaryDirectory(prefix="vigil-bench-transcode-") as work:
        live = live_cost(ffmpeg, sim.urls[0], seconds, warmup)
        recorded = recorded_cost(ffmpeg, sim.urls[0], Path(work))
    return {"size": size, "fps": FPS, "source_kbps": kbps, "live": live, "recorded": recorded}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1280x720,1920x1080", help="WxH,WxH...")
    parser.add_argument("--seconds", type=float, default=20.0, help="live: measured window")
    parser.add_argument("--warmup", type=float, default=5.0, help="live: before measuring")
    parser.add_argument("--out", type=Path, default=None, help="JSON result file")
    args = parser.parse_args()
    rows = [measure(size, args.seconds, args.warmup) for size in args.sizes.split(",")]
    cores = psutil.cpu_count() or 1
    print(f"H.265 -> H.264, {FPS} fps, ffmpeg {find_ffmpeg()}, {cores} cores")
    print(f"box load average at the end: {os.getloadavg()[0]:.1f}")
    print(
        f"{'size':>10} {'source':>9} {'live CPU':>9} {'speed':>6} {'live out':>10} "
        f"{'file CPU s/s':>13} {'file wall s/s':>14}"
    )
    for row in rows:
        live, recorded = row["live"], row["recorded"]
        print(
            f"{row['size']:>10} {row['source_kbps']:>6} kb {live['cpu_pct']:>8.0f}% "
            f"{live['speed']:>5.2f}x {live['kbit_s']:>7.0f} kb {recorded['cpu_s_per_s']:>13.2f} "
            f"{recorded['wall_s_per_s']:>14.2f}"
        )
    out = write_result(
        {"cores": cores, "rows": rows}, args.out, f"transcode-{time.strftime('%Y%m%dT%H%M%S')}.json"
    )
    print(f"written to {out}")


if __name__ == "__main__":
    main()
