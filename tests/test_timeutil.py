"""Instants on the wire: ISO 8601 UTC to the millisecond, read back to the same instant."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from vigil.timeutil import MAX_MS, iso, parse_instant


def test_iso_writes_what_datetime_writes_and_reads_back() -> None:
    rng = random.Random(7)
    instants = [0, 1, 999, 86_399_999, 86_400_000, 951_782_400_000, MAX_MS]  # leap day 2000
    instants += [rng.randrange(MAX_MS) for _ in range(20_000)]
    for ms in instants:
        expected = datetime.fromtimestamp(ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
        assert iso(ms) == f"{expected}.{ms % 1000:03d}Z"
        assert parse_instant(iso(ms)) == ms
