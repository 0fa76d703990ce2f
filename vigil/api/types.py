"""Types the API shares: instants in (ISO 8601 or epoch seconds), instants out (ISO 8601)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from vigil.timeutil import MAX_MS, datetime_to_ms, iso, parse_instant

_EXPECTED = "expected an ISO 8601 time or epoch seconds"


def _instant_ms(value: object) -> int:
    """Epoch milliseconds from ISO 8601 text (naive means UTC), epoch seconds or a datetime."""
    if isinstance(value, datetime):
        ms = datetime_to_ms(value)
        if not 0 <= ms <= MAX_MS:
            raise ValueError("time out of range (1970 to 9999)")
        return ms
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(_EXPECTED)
    return parse_instant(str(value))


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
