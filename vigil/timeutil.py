"""Time in Vigil: integer milliseconds since the epoch inside, ISO 8601 UTC outside."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def datetime_to_ms(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return round(value.timestamp() * 1000)


def parse_instant(text: str) -> int:
    """Parse ISO 8601 (naive means UTC) or epoch seconds into epoch milliseconds."""
    text = text.strip()
    try:
        return round(float(text) * 1000)
    except ValueError:
        pass
    try:
        return datetime_to_ms(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise ValueError(f"not an ISO 8601 time or epoch seconds: {text!r}") from None


def iso(ms: int) -> str:
    return ms_to_datetime(ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")
