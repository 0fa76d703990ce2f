"""Running the HTTP server around started services, and stopping both in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
from collections.abc import Iterator

import uvicorn

from vigil.app import Services, start_services, stop_services
from vigil.settings import Settings

log = logging.getLogger(__name__)

# Signed media links carry their credential in the query string (``?token=…``), which an
# access log would otherwise write down for anyone who can read the logs.
_TOKEN_IN_QUERY = re.compile(r"(token=)[^&#\s\"']+", re.IGNORECASE)
REDACTED = "[redacted]"


def redact_tokens(text: str) -> str:
    """``text`` with the value of every ``…token=`` query parameter replaced."""
    return _TOKEN_IN_QUERY.sub(rf"\g<1>{REDACTED}", text)


class RedactTokens(logging.Filter):
    """Takes link tokens out of uvicorn's access log lines. uvicorn logs
    ``(client_addr, method, full_path, http_version, status_code)`` as the record's args and
    its formatter unpacks them, so each text argument is redacted in place, never dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_tokens(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_tokens(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        elif isinstance(record.args, dict):
            record.args = {
                key: redact_tokens(arg) if isinstance(arg, str) else arg
                for key, arg in record.args.items()
            }
        return True


def install_access_log_filter() -> None:
    """Redact link tokens from ``uvicorn.access``. ``serve_http`` keeps that log off, but a
    log configuration may turn it on; the filter survives ``dictConfig``. Idempotent."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in access.filters):
        access.addFilter(RedactTokens())


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM once it has stopped, which would end the process before the
    recorders finish their segments; Vigil takes the signals itself instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop, sig)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    def _stop(self, sig: signal.Signals) -> None:
        log.info("%s: stopping", sig.name)
        self.should_exit = True


async def serve_http(settings: Settings, services: Services) -> None:
    """Serve the API until SIGINT/SIGTERM; the caller stops the services afterwards."""
    from vigil.api.app import create_app

    install_access_log_filter()
    config = uvicorn.Config(
        create_app(settings, services),
        host=settings.server.host,
        port=settings.server.port,
        log_config=None,
        access_log=False,
        # Live video is compressed already: deflating it again for each WebSocket viewer
        # would cost the node about a core per 100 Mbit/s of viewers, for nothing.
        ws_per_message_deflate=False,
    )
    await _Server(config).serve()


async def run_server(settings: Settings) -> None:
    services = await start_services(settings)
    try:
        log.info("Vigil at http://%s:%d/", settings.server.host, settings.server.port)
        await serve_http(settings, services)
    finally:
        # Recorders finish the segments they are writing before the process ends.
        await stop_services(services)
