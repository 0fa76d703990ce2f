"""Password hashing cost: argon2id hash and verify with Vigil's parameters, SHA-256 for scale.

Run from the repository root::

    .venv/bin/python -m bench.passwords
    .venv/bin/python -m bench.passwords --samples 50

Each figure is the median (and min/max) of ``--samples`` calls on one thread, after one
warm-up call; "parallel" is the wall time per verify with ``--threads`` verifies at once
through ``asyncio.to_thread`` (argon2 releases the GIL), i.e. the login throughput of the box.
Figures, never assertions: the table is printed and a JSON result written to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.output import write_result
from vigil.auth import passwords

PASSWORD = "correct horse battery staple"


def timed(fn: Callable[[], object], samples: int) -> dict[str, float]:
    """Median, min and max wall time of ``fn`` in ms."""
    fn()
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return {
        "median_ms": round(statistics.median(times), 4),
        "min_ms": round(min(times), 4),
        "max_ms": round(max(times), 4),
    }


async def parallel(stored: str, threads: int, rounds: int) -> float:
    """Wall ms per verify with ``threads`` verifies in flight at once."""
    start = time.perf_counter()
    for _ in range(rounds):
        await asyncio.gather(
            *(passwords.verify_password_async(stored, PASSWORD) for _ in range(threads))
        )
    return round((time.perf_counter() - start) * 1000 / (rounds * threads), 3)


def run(args: argparse.Namespace) -> dict[str, Any]:
    stored = passwords.hash_password(PASSWORD)
    params = passwords._HASHER  # the parameters in use are the point of this benchmark
    encoded = PASSWORD.encode()
    figures = {
        "argon2id hash": timed(lambda: passwords.hash_password(PASSWORD), args.samples),
        "argon2id verify, right password": timed(
            lambda: passwords.verify_password(stored, PASSWORD), args.samples
        ),
        "argon2id verify, wrong password": timed(
            lambda: passwords.verify_password(stored, PASSWORD + "!"), args.samples
        ),
        "verify_dummy (unknown user)": timed(
            lambda: passwords.verify_dummy(PASSWORD), args.samples
        ),
        "check_password (policy)": timed(
            lambda: passwords.check_password(PASSWORD, username="alice"), args.samples
        ),
        "sha256 (baseline)": timed(lambda: hashlib.sha256(encoded).hexdigest(), args.samples),
    }
    return {
        "parameters": {
            "type": "argon2id",
            "time_cost": params.time_cost,
            "memory_cost_kib": params.memory_cost,
            "parallelism": params.parallelism,
        },
        "samples": args.samples,
        "figures": figures,
        f"parallel_verify_{args.threads}_threads_ms_each": asyncio.run(
            parallel(stored, args.threads, args.samples)
        ),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--out", type=Path, help="JSON result path (bench/results/passwords.json)")
    args = parser.parse_args()
    result = run(args)
    p = result["parameters"]
    print(
        f"argon2id t={p['time_cost']} m={p['memory_cost_kib']} KiB p={p['parallelism']}, "
        f"{result['samples']} samples"
    )
    print(f"{'':34} {'median ms':>10} {'min ms':>9} {'max ms':>9}")
    for name, f in result["figures"].items():
        print(f"{name:34} {f['median_ms']:>10.4f} {f['min_ms']:>9.4f} {f['max_ms']:>9.4f}")
    for key, value in result.items():
        if key.startswith("parallel_verify_"):
            print(f"{key}: {value:.1f} ms per verify")
    out = write_result(result, args.out, "passwords.json")
    print(f"written {out}")


if __name__ == "__main__":
    main()
