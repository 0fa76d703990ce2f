"""Types the API shares: instants in (ISO 8601 or epoch seconds), instants out (ISO 8601)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from vigil.timeutil import datetime_to_ms, iso, parse_instant

# Instants outside [1970, 10000) are typos; later they would overflow a date or a column.
_LATEST_MS = 253_402_300_800_000


def _instant_ms(value: object) -> int:
    """Epoch milliseconds from ISO 8601 text (naive means UTC), epoch seconds or a datetime."""
    if isinstance(value, bool):
        raise ValueError("expected an ISO 8601 time or epoch seconds")
    if isinstance(value, datetime):
        ms = datetime_to_ms(value)
    elif isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError("expected an ISO 8601 time or epoch seconds")
        ms = round(value * 1000)
    elif isinstance(value, str):
        if not math.isfinite(_as_float(value)):
            raise ValueError("expected an ISO 8601 time or epoch seconds")
        ms = parse_instant(value)
    else:
        raise ValueError("expected an ISO 8601 time or epoch seconds")
    if not 0 <= ms < _LATEST_MS:
        raise ValueError("time out of range (1970 to 9999)")
    return ms


def _as_float(text: str) -> float:
    # parse_instant reads numbers with float(); "inf" and "nan" must not get that far.
    try:
        return float(text)
    except ValueError:
        return 0.0


Instant = Annotated[
    int,
    BeforeValidator(_instant_ms),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "number", "description": "seconds since the epoch"},
            ],
            "description": "ISO 8601 (UTC if no offset; `Z` accepted) or epoch seconds",
        },
        mode="validation",
    ),
]
"""An instant given by a client, held as epoch milliseconds."""

Timestamp = Annotated[
    int,
    PlainSerializer(iso, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]
"""An instant in a response: epoch milliseconds inside, ISO 8601 UTC on the wire."""
