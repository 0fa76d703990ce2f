"""Running the HTTP server around started services, and stopping both in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from vigil import allocator
from vigil.app import Services, start_services, stop_services
from vigil.logs import install_redaction
from vigil.settings import Settings

log = logging.getLogger(__name__)


class HttpServer(uvicorn.Server):
    """uvicorn's server, woken once a second rather than ten times (the wakeups alone cost an
    idle node about 0.15 % of a core), and stopped at once by :meth:`stop`.

    uvicorn re-raises SIGTERM once it has stopped, which would end the process before the
    recorders finish their segments; Vigil takes the signals itself instead."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._exit = asyncio.Event()

    async def main_loop(self) -> None:
        # uvicorn's own loop sleeps 0.1 s between ticks and does its once-a-second work (the
        # Date header, the notify callback) when the counter is a multiple of ten.
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exit.wait(), 1.0)

    def stop(self) -> None:
        """Begin the graceful shutdown now (setting ``should_exit`` alone is seen within a
        second)."""
        self.should_exit = True
        self._exit.set()

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
        self.stop()


async def serve_http(settings: Settings, services: Services, app: FastAPI | None = None) -> None:
    """Serve the API until SIGINT/SIGTERM; the caller stops the services afterwards.
    ``app``: the API already made (making it holds the event loop for a moment)."""
    from vigil.api.app import create_app

    # Access lines (when a log configuration turns them on) and websockets' debug lines
    # carry link tokens and credentials: redacted, whoever set up logging.
    install_redaction()
    config = uvicorn.Config(
        app if app is not None else create_app(settings, services),
        host=settings.server.host,
        port=settings.server.port,
        log_config=None,
        access_log=False,
        # Whose X-Forwarded-For to believe is Vigil's setting (server.trusted_proxies,
        # applied in create_app), not uvicorn's default of any local process.
        proxy_headers=False,
        # Live video is compressed already: deflating it again for each WebSocket viewer
        # would cost the node about a core per 100 Mbit/s of viewers, for nothing.
        ws_per_message_deflate=False,
    )
    # Long runs hand freed C memory back to the system (see vigil.allocator).
    trimming = asyncio.create_task(allocator.trim_every())
    try:
        await HttpServer(config).serve()
    finally:
        trimming.cancel()


async def run_server(settings: Settings) -> None:
    services = await start_services(settings)
    try:
        log.info("Vigil at http://%s:%d/", settings.server.host, settings.server.port)
        await serve_http(settings, services)
    finally:
        # Recorders finish the segments they are writing before the process ends.
        await stop_services(services)
