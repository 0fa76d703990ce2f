"""Signed media links' tokens never reach uvicorn's access log."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from uvicorn.logging import AccessFormatter

from vigil.server import RedactTokens, install_access_log_filter

TOKEN = "eyJ1IjozLCJrIjoibGl2ZSJ9.c2lnbmF0dXJlLXRoYXQtbXVzdC1ub3QtbGVhaw"


def access_record(full_path: str) -> logging.LogRecord:
    """A record as uvicorn's HTTP protocols log each request."""
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:50312", "GET", full_path, "1.1", 200),
        None,
    )


def test_the_token_of_a_signed_link_is_redacted() -> None:
    record = access_record(f"/api/cameras/3/live/index.m3u8?token={TOKEN}&part=2")
    assert RedactTokens().filter(record)
    message = record.getMessage()
    assert TOKEN not in message
    assert message == (
        '127.0.0.1:50312 - "GET /api/cameras/3/live/index.m3u8?token=[redacted]&part=2'
        ' HTTP/1.1" 200'
    )


def test_uvicorns_formatter_still_reads_the_redacted_record() -> None:
    record = access_record(f"/api/exports/9/files/a.mp4?download=1&token={TOKEN}")
    RedactTokens().filter(record)
    line = AccessFormatter('%(client_addr)s "%(request_line)s" %(status_code)s').format(record)
    assert line == (
        '127.0.0.1:50312 "GET /api/exports/9/files/a.mp4?download=1&token=[redacted] HTTP/1.1"'
        " 200 OK"
    )


def test_paths_without_a_token_are_untouched() -> None:
    record = access_record("/api/cameras?limit=5&tokenizer=x")
    RedactTokens().filter(record)
    assert record.args == ("127.0.0.1:50312", "GET", "/api/cameras?limit=5&tokenizer=x", "1.1", 200)


def test_a_token_in_the_message_itself_is_redacted() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, f"GET /x?TOKEN={TOKEN}", None, None
    )
    RedactTokens().filter(record)
    assert record.getMessage() == "GET /x?TOKEN=[redacted]"


@pytest.fixture
def access_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("uvicorn.access")
    before = list(logger.filters)
    yield logger
    logger.filters[:] = before


def test_installed_once_on_uvicorns_access_logger(
    access_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    install_access_log_filter()
    install_access_log_filter()
    assert sum(isinstance(f, RedactTokens) for f in access_logger.filters) == 1
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        access_logger.info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", f"/api/live?token={TOKEN}", "1.1", 200
        )
    assert caplog.messages == ['127.0.0.1:1 - "GET /api/live?token=[redacted] HTTP/1.1" 200']
