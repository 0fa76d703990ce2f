"""Types the API shares, declared once: every schema field and every path, query and header
parameter takes a value from outside through one of these, so it is bounded and checked the
same way wherever it comes in.

- Ids: 1 to 2**31 - 1 (an INTEGER key), or to 2**63 - 1 where the table's key is a BIGINT.
- Names (one line): stripped, not empty, bounded, no control characters at all.
- Free text: stripped, bounded, no control characters but newline and tab.
- Tokens and cursors: bounded, URL-safe characters only.
- Passwords: write-only, bounded, never a NUL.
- Instants in (ISO 8601 or epoch seconds, 1970 to 9999) and out (ISO 8601).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainSerializer,
    SecretStr,
    StringConstraints,
    WithJsonSchema,
)

from vigil.timeutil import MAX_MS, datetime_to_ms, iso, parse_instant

# -- ids
ID_MAX = 2**31 - 1  # an INTEGER primary key
BIG_ID_MAX = 2**63 - 1  # a BIGINT one: segments, detection events, media items, audit entries

CameraId = Annotated[int, Field(ge=1, le=ID_MAX, description="a camera's id")]
SiteId = Annotated[int, Field(ge=1, le=ID_MAX, description="a site's id")]
UserId = Annotated[int, Field(ge=1, le=ID_MAX, description="a user's id")]
GroupId = Annotated[int, Field(ge=1, le=ID_MAX, description="a user group's or camera group's id")]
GrantId = Annotated[int, Field(ge=1, le=ID_MAX, description="a grant's id")]
SessionId = Annotated[int, Field(ge=1, le=ID_MAX, description="a session's id")]
KeyId = Annotated[int, Field(ge=1, le=ID_MAX, description="an API key's id")]
ExportId = Annotated[int, Field(ge=1, le=ID_MAX, description="an export's id")]
LibraryEventId = Annotated[int, Field(ge=1, le=ID_MAX, description="a library event's id")]
ShareId = Annotated[int, Field(ge=1, le=ID_MAX, description="a share link's id")]
SegmentId = Annotated[int, Field(ge=1, le=BIG_ID_MAX, description="a segment's id")]
EventId = Annotated[int, Field(ge=1, le=BIG_ID_MAX, description="a detection event's id")]
ItemId = Annotated[int, Field(ge=1, le=BIG_ID_MAX, description="a library item's id")]
AuditId = Annotated[int, Field(ge=1, le=BIG_ID_MAX, description="an audit entry's id")]
UploadId = Annotated[
    str,
    StringConstraints(min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$"),
    Field(description="an upload's id"),
]

# -- text
# C0 controls (NUL to US), DEL, C1 controls, and lone surrogates (not text: PostgreSQL and
# UTF-8 refuse them).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_BUT_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def no_control_characters(text: str) -> str:
    """``text`` if it holds no control character (NUL, line breaks, tabs...); else ValueError."""
    if _CONTROL.search(text):
        raise ValueError("must not contain control characters")
    return text


def _free_text(text: str) -> str:
    """Several lines are fine (CRLF becomes LF); other control characters are not."""
    text = text.replace("\r\n", "\n")
    if _CONTROL_BUT_LINES.search(text):
        raise ValueError("must not contain control characters other than newline and tab")
    return text


def _no_nul(secret: SecretStr) -> SecretStr:
    if "\x00" in secret.get_secret_value():
        raise ValueError("must not contain NUL characters")
    return secret


_ONE_LINE = AfterValidator(no_control_characters)

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), _ONE_LINE
]
"""A name: of a camera, site, group, organisation, API key, zone; a name given at sign-in."""
NodeName = Annotated[str, StringConstraints(max_length=64, pattern=r"^[A-Za-z0-9_-]{1,64}$")]
"""A media node's name (``node.name``)."""
LongName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), _ONE_LINE
]
"""A longer name: a person's display name, a title (library event, item, export), a place."""
Address = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), _ONE_LINE
]
Tag = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), _ONE_LINE
]
Label = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    _ONE_LINE,
    Field(description="what a detector saw", examples=["person"]),
]
Filename = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255), _ONE_LINE
]
Username = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^\s@/\\]+(@[^\s@/\\]+)?$"
    ),
    _ONE_LINE,
    Field(description="letters, digits and punctuation; an email address works", examples=["ada"]),
]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=320, pattern=r"^[^\s@]+@[^\s@]+$"),
    _ONE_LINE,
    Field(examples=["ada@example.org"]),
]
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=5000), AfterValidator(_free_text)
]
"""Free text (a description): several lines, tabs."""
SearchWords = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), _ONE_LINE]
Code = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=64),
    _ONE_LINE,
    Field(description="a 6-digit authenticator code or a recovery code"),
]
Token = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$"
    ),
]
"""A secret handed out by the server (an invitation, a share link): URL-safe characters."""
Cursor = Annotated[
    str,
    StringConstraints(max_length=200, pattern=r"^[A-Za-z0-9_-]*=*$"),
    Field(description="`next_cursor` of the previous page"),
]
Password = Annotated[
    SecretStr,
    Field(min_length=1, max_length=1024, description="write-only"),
    AfterValidator(_no_nul),
]
SharePassword = Annotated[
    SecretStr,
    Field(min_length=8, max_length=200, description="write-only; asked of whoever opens the link"),
    AfterValidator(_no_nul),
]

# -- instants
_EXPECTED = "expected an ISO 8601 time or epoch seconds"
_INSTANT_TEXT_MAX = 64


def _instant_ms(value: object) -> int:
    """Epoch milliseconds from ISO 8601 text (naive means UTC), epoch seconds or a datetime."""
    if isinstance(value, datetime):
        ms = datetime_to_ms(value)
        if not 0 <= ms <= MAX_MS:
            raise ValueError("time out of range (1970 to 9999)")
        return ms
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(_EXPECTED)
    if isinstance(value, str) and len(value) > _INSTANT_TEXT_MAX:
        raise ValueError(f"{_EXPECTED} (at most {_INSTANT_TEXT_MAX} characters)")
    if isinstance(value, int) and not 0 <= value <= MAX_MS // 1000:
        raise ValueError("time out of range (1970 to 9999)")
    return parse_instant(str(value))


Instant = Annotated[
    int,
    BeforeValidator(_instant_ms),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time", "maxLength": _INSTANT_TEXT_MAX},
                {
                    "type": "number",
                    "minimum": 0,
                    "maximum": MAX_MS / 1000,
                    "description": "seconds since the epoch",
                },
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
