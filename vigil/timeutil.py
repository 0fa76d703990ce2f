"""Time in Vigil: integer milliseconds since the epoch inside, ISO 8601 UTC outside."""

from __future__ import annotations

import functools
import math
import time
from datetime import UTC, date, datetime, timedelta


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


_DAY_MS = 86_400_000
_EPOCH = date(1970, 1, 1)


@functools.lru_cache(maxsize=1024)
def _iso_day(days: int) -> str:
    return (_EPOCH + timedelta(days=days)).isoformat()


def iso(ms: int) -> str:
    """``2026-12-06T12:34:56.789Z``. Responses hold thousands of instants (a timeline's
    previews), so this is arithmetic and a cached date, not a datetime each."""
    days, rest = divmod(ms, _DAY_MS)
    seconds, milli = divmod(rest, 1000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return f"{_iso_day(days)}T{hours:02d}:{minutes:02d}:{seconds:02d}.{milli:03d}Z"
