"""Time in Vigil: integer milliseconds since the epoch inside, ISO 8601 UTC outside."""

from __future__ import annotations

import math
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


# Instants Vigil accepts: from the epoch to the end of year 9999.
MAX_MS = 253_402_300_799_999


def parse_instant(text: str) -> int:
    """Parse ISO 8601 (naive means UTC) or epoch seconds into epoch milliseconds."""
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            value = datetime_to_ms(datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            raise ValueError(f"not an ISO 8601 time or epoch seconds: {text!r}") from None
    else:
        if not math.isfinite(seconds) or not 0 <= seconds * 1000 <= MAX_MS:
            raise ValueError(f"not an ISO 8601 time or epoch seconds from 1970 to 9999: {text!r}")
        value = round(seconds * 1000)
    if not 0 <= value <= MAX_MS:
        raise ValueError(f"not an ISO 8601 time or epoch seconds from 1970 to 9999: {text!r}")
    return value


def iso(ms: int) -> str:
    return ms_to_datetime(ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")
