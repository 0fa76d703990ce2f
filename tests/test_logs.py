"""No secret reaches a log line: link tokens, bearer keys, session cookies, password hashes
and SQL parameters are redacted as each record is made, whatever handler receives it."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from uvicorn.logging import AccessFormatter

from vigil import cli, logs
from vigil.auth.passwords import hash_password
from vigil.auth.tokens import new_api_key
from vigil.logs import redact, redact_record

TOKEN = "eyJ1IjozLCJrIjoibGl2ZSJ9.c2lnbmF0dXJlLXRoYXQtbXVzdC1ub3QtbGVhaw"


def record(msg: str, *args: object, name: str = "uvicorn.access") -> logging.LogRecord:
    made = logging.LogRecord(name, logging.INFO, __file__, 1, msg, args or None, None)
    redact_record(made)
    return made


def access_record(full_path: str) -> logging.LogRecord:
    """A record as uvicorn's HTTP protocols log each request."""
    return record('%s - "%s %s HTTP/%s" %d', "127.0.0.1:50312", "GET", full_path, "1.1", 200)


def test_the_token_of_a_signed_link_is_redacted() -> None:
    message = access_record(f"/api/cameras/3/live/index.m3u8?token={TOKEN}&part=2").getMessage()
    assert TOKEN not in message
    assert message == (
        '127.0.0.1:50312 - "GET /api/cameras/3/live/index.m3u8?token=[redacted]&part=2'
        ' HTTP/1.1" 200'
    )


def test_uvicorns_formatter_still_reads_the_redacted_record() -> None:
    made = access_record(f"/api/exports/9/files/a.mp4?download=1&token={TOKEN}")
    line = AccessFormatter('%(client_addr)s "%(request_line)s" %(status_code)s').format(made)
    assert line == (
        '127.0.0.1:50312 "GET /api/exports/9/files/a.mp4?download=1&token=[redacted] HTTP/1.1"'
        " 200 OK"
    )


def test_a_share_links_token_in_its_path_is_redacted() -> None:
    """A share link's token is its path, for the API and for the page people open; a file of
    it carries a signature too."""
    share = "Y3GfPN4KNnhAih6_uHiLoDA-qd_33elqlzTGLuV5_mU"
    for path, shown in (
        (f"/s/{share}", "/s/[redacted]"),
        (f"/api/share/{share}", "/api/share/[redacted]"),
        (
            f"/api/share/{share}/items/4/web?sig=1.s.4.1796588233.10vpSZLNj_5T",
            "/api/share/[redacted]/items/4/web?sig=[redacted]",
        ),
    ):
        assert access_record(path).args == ("127.0.0.1:50312", "GET", shown, "1.1", 200)
    assert share not in redact(f"HTTP Request: GET http://test/s/{share} 200")
    assert redact("/api/library/shares/12") == "/api/library/shares/12"


def test_paths_without_a_token_are_untouched() -> None:
    made = access_record("/api/cameras?limit=5&tokenizer=x")
    assert made.args == ("127.0.0.1:50312", "GET", "/api/cameras?limit=5&tokenizer=x", "1.1", 200)


def test_a_websocket_handshakes_headers_are_redacted() -> None:
    """websockets prints each header of a handshake at debug level, name and value apart."""
    key = new_api_key()
    lines = [
        record("< %s: %s", "authorization", f"Bearer {key}", name="uvicorn.error"),
        record("< %s: %s", "Cookie", "vigil_session=abc123secret; vigil_csrf=def456", name="x"),
        record("< %s: %s", "share-password", "correct horse battery", name="x"),
        record("< GET %s HTTP/1.1", f"/api/cameras/1/live/ws?token={TOKEN}", name="x"),
    ]
    messages = [line.getMessage() for line in lines]
    assert messages == [
        "< authorization: [redacted]",
        "< Cookie: [redacted]",
        "< share-password: [redacted]",
        "< GET /api/cameras/1/live/ws?token=[redacted] HTTP/1.1",
    ]


def test_keys_hashes_and_cookies_anywhere_in_a_line() -> None:
    key = new_api_key()
    password_hash = hash_password("amber-lantern-quietly-47")
    text = redact(
        f"user 3 {password_hash!r} key={key} header Authorization=Bearer {key}, "
        "set vigil_session=s3ss10n; Path=/"
    )
    assert "$argon2id$" not in text
    assert key not in text
    assert key.removeprefix("vgl_") not in text
    assert "s3ss10n" not in text


def test_an_objects_repr_is_redacted_in_the_formatted_line() -> None:
    class Request:
        def __repr__(self) -> str:
            return f"<Request headers={{'authorization': 'Bearer {TOKEN}'}}>"

    made = record("got %r", Request(), name="x")
    assert TOKEN not in made.getMessage()


@pytest.fixture
def bare_root() -> Iterator[logging.Logger]:
    """The root logger as a fresh process has it: no handlers, no level, no redaction.
    (Cleared inside the test: pytest adds its capture handlers just before the call.)"""
    root = logging.getLogger()
    handlers, level, factory = list(root.handlers), root.level, logging.getLogRecordFactory()
    logging.setLogRecordFactory(logging.LogRecord)
    yield root
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.setLogRecordFactory(factory)


def test_vigil_serve_verbose_logs_redacted_debug_lines(
    bare_root: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    """`vigil serve -v` sets logging up this way: debug lines from every library, each one
    redacted before it is written."""
    bare_root.handlers.clear()
    cli._begin(verbose=True)
    cli._begin(verbose=True)  # twice: still one redaction
    key = new_api_key()
    logging.getLogger("uvicorn.error").debug("< %s: %s", "authorization", f"Bearer {key}")
    err = capsys.readouterr().err
    assert "DEBUG   uvicorn.error: < authorization: [redacted]" in err
    assert key not in err
    factory = logging.getLogRecordFactory()
    assert isinstance(factory, logs._RedactingFactory)
    assert factory.base is logging.LogRecord
    assert logging.getLogger("aiosqlite").getEffectiveLevel() == logging.INFO
