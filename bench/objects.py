"""Object detection throughput: the default SSD model through the worker pool vs a bare loop.

Run from the repository root::

    .venv/bin/python -m bench.objects
    .venv/bin/python -m bench.objects --rounds 5 --seconds 5 --in-flight 8

Cases, each for ``--seconds`` after a warm-up, interleaved over ``--rounds``, in one run:

- ``bare interpreter`` (the baseline): LiteRT ``Interpreter`` on one thread, ``set_tensor`` +
  ``invoke`` on an already resized input, nothing else: the model's own cost.
- ``bare interpreter, 2 threads``: the same with ``num_threads=2`` (XNNPACK splits one image).
- ``detector in-process``: ``SsdMobileNetDetector.detect`` (resize, colour, decode) on one thread.
- ``pool, N workers``: ``await DetectorPool.detect`` with ``--in-flight`` calls outstanding (as many
  cameras asking at once), frames pickled to the worker processes and detections back.

Frames are the darknet photos of the tests (640x424 and 768x576, alternating). Figures, never
assertions: the table is printed and a JSON result written to bench/results/objects.json.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench.output import write_result
from vigil.detect.objects import DetectorPool, DetectorSpec
from vigil.detect.objects.ssd import MODEL_FILE, SsdMobileNetDetector
from vigil.detect.types import Bgr

PHOTOS = Path(__file__).parent.parent / "tests" / "detect" / "data"


def frames() -> list[Bgr]:
    return [
        np.asarray(cv2.imread(str(PHOTOS / n)), dtype=np.uint8) for n in ("person.jpg", "dog.jpg")
    ]


Sample = tuple[list[float], float]  # call times, wall time


def loop(call: Callable[[int], object], seconds: float) -> Sample:
    """Times of ``call(i)`` called for ``seconds`` on this thread, after a warm-up."""
    for i in range(5):
        call(i)
    times: list[float] = []
    end = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < end:
        start = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - start)
        i += 1
    return times, sum(times)


def summary(samples: list[Sample]) -> dict[str, float]:
    times = [t for ts, _ in samples for t in ts]
    wall = sum(w for _, w in samples)
    ordered = sorted(times)
    return {
        "per_second": round(len(times) / wall, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[int(len(ordered) * 0.95)] * 1000, 2),
        "count": len(times),
    }


def bare(threads: int, seconds: float) -> Sample:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(MODEL_FILE), num_threads=threads)
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]
    inputs = [
        cv2.cvtColor(cv2.resize(f, (300, 300)), cv2.COLOR_BGR2RGB)[np.newaxis] for f in frames()
    ]

    def call(i: int) -> None:
        interpreter.set_tensor(index, inputs[i % 2])
        interpreter.invoke()

    return loop(call, seconds)


def in_process(seconds: float) -> Sample:
    detector = SsdMobileNetDetector()
    images = frames()
    return loop(lambda i: detector.detect(images[i % 2]), seconds)


async def pooled(workers: int, in_flight: int, seconds: float) -> Sample:
    images = frames()
    async with DetectorPool(DetectorSpec("ssd"), workers=workers) as pool:
        await asyncio.gather(*(pool.detect(images[i % 2]) for i in range(workers * 4)))
        times: list[float] = []
        end = time.perf_counter() + seconds

        async def camera(k: int) -> None:
            i = k
            while time.perf_counter() < end:
                start = time.perf_counter()
                await pool.detect(images[i % 2])
                times.append(time.perf_counter() - start)
                i += 1

        start = time.perf_counter()
        await asyncio.gather(*(camera(k) for k in range(in_flight)))
        return times, time.perf_counter() - start


def run_pool(workers: int, in_flight: int, seconds: float) -> Sample:
    return asyncio.run(pooled(workers, in_flight, seconds))


def run(args: argparse.Namespace) -> dict[str, Any]:
    runs: dict[str, Callable[[], Sample]] = {
        "bare interpreter (baseline)": lambda: bare(1, args.seconds),
        "bare interpreter, 2 threads": lambda: bare(2, args.seconds),
        "detector in-process": lambda: in_process(args.seconds),
    }
    for workers in args.workers:
        name = f"pool, {workers} worker{'s' if workers > 1 else ''}"
        runs[name] = functools.partial(run_pool, workers, args.in_flight, args.seconds)
    # Rounds interleave the cases, so load from elsewhere on the box falls on all of them.
    samples: dict[str, list[Sample]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, case in runs.items():
            samples[name].append(case())
    cases = {name: summary(s) for name, s in samples.items()}
    return {
        "seconds": args.seconds,
        "rounds": args.rounds,
        "in_flight": args.in_flight,
        "cases": cases,
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0, help="per case and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--in-flight", type=int, default=4, help="pool calls outstanding")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, help="JSON result path (bench/results/objects.json)")
    args = parser.parse_args()
    result = run(args)
    base = next(iter(result["cases"].values()))["per_second"]
    print(
        f"SSD MobileNet v2 COCO quant, {result['rounds']} rounds of {result['seconds']} s a "
        f"case, {result['in_flight']} "
        f"pool calls in flight, {result['cpus']} CPUs, load {result['load_average']}"
    )
    print(f"{'case':30} {'inf/s':>8} {'vs base':>8} {'p50 ms':>8} {'p95 ms':>8}")
    for name, c in result["cases"].items():
        print(
            f"{name:30} {c['per_second']:>8.1f} {c['per_second'] / base:>7.2f}x "
            f"{c['p50_ms']:>8.2f} {c['p95_ms']:>8.2f}"
        )
    out = write_result(result, args.out, "objects.json")
    print(f"written {out}")


if __name__ == "__main__":
    main()
