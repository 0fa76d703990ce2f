"""Logging for Vigil's commands, with secrets taken out of every line before anyone sees it.

Credentials reach log lines by many roads: a signed media link's ``?token=`` in an access
line, a WebSocket handshake's ``authorization: Bearer vgl_…`` header that the websockets
library prints at debug level, a password hash in a line someone wrote carelessly. Rather
than guard each road, every record is redacted where it is made (a log record factory), so
whichever handler or capture receives it gets the redacted text. SQL parameters are kept
out at their source: the database engine never logs them (``hide_parameters``), and the
drivers' own debug lines, which print them, stay off.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[redacted]"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # A header printed as "name: value" (websockets' debug lines), any secret header.
    (
        re.compile(
            r"\b((?:proxy-)?authorization|cookie|set-cookie|share-password|x-csrf-token)"
            r"(\s*:\s*)\S.*",
            re.IGNORECASE,
        ),
        rf"\1\2{REDACTED}",
    ),
    # Signed media links (?token=…, a shared file's ?sig=…), any other token-named parameter.
    (re.compile(r"((?:token|sig)=)[^&#\s\"']+", re.IGNORECASE), rf"\g<1>{REDACTED}"),
    # Share links carry their token in the path: /api/share/<token>…, the page /s/<token>.
    (re.compile(r"(/(?:api/share|s)/)[\w\-]{20,}"), rf"\g<1>{REDACTED}"),
    (re.compile(r"(\bBearer\s+)[^\s\"',]+", re.IGNORECASE), rf"\g<1>{REDACTED}"),
    (re.compile(r"\bvgl_[\w\-]+"), f"vgl_{REDACTED}"),
    (re.compile(r"(\b(?:vigil_session|vigil_csrf)=)[^;\s\"',]+"), rf"\g<1>{REDACTED}"),
    (re.compile(r"\$argon2(?:id|i|d)\$[^\s\"',)]+"), f"$argon2{REDACTED}"),
)


def redact(text: str) -> str:
    """``text`` with every credential, session cookie, API key and password hash in it
    replaced by ``[redacted]``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_arg(arg: Any) -> Any:
    return redact(arg) if isinstance(arg, str) else arg


def redact_record(record: logging.LogRecord) -> None:
    """Redact a record in place. Text arguments are redacted one by one, so formatters that
    read ``record.args`` (uvicorn's access lines) still can; a secret only the formatted
    line shows (a header name and its value in two arguments, an object's repr) makes the
    record carry the redacted line instead."""
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_redact_arg(arg) for arg in record.args)
    elif isinstance(record.args, dict):
        record.args = {key: _redact_arg(arg) for key, arg in record.args.items()}
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        return  # a malformed call: logging reports it when the line is formatted
    redacted = redact(message)
    if redacted != message:
        record.msg = redacted
        record.args = None


class _RedactingFactory:
    """Wraps the record factory in place: every record is redacted as it is made."""

    def __init__(self, base: Any) -> None:
        self.base = base

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self.base(*args, **kwargs)
        redact_record(record)
        return record


# Database drivers whose debug lines print every statement with the values bound to it
# (password hashes, token hashes, encrypted secrets): held at INFO whatever the root says.
SQL_VALUE_LOGGERS = ("aiosqlite", "psycopg")


def install_redaction() -> None:
    """Redact every log record made from now on, in this process, and keep the drivers'
    debug lines that print SQL values off. Idempotent."""
    factory = logging.getLogRecordFactory()
    if not isinstance(factory, _RedactingFactory):
        logging.setLogRecordFactory(_RedactingFactory(factory))
    for name in SQL_VALUE_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:
            logger.setLevel(logging.INFO)


def configure(verbose: bool) -> None:
    """Logging for a Vigil command: INFO, or DEBUG for everything with ``--verbose``;
    redacted either way."""
    install_redaction()
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
