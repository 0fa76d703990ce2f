"""Connecting to the bus as one user: replies to its own inbox, reconnecting for ever;
:class:`Bus` for a process that must run before the bus is there."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from pathlib import Path
from typing import Any

from nats.aio.client import Client
from nats.errors import AuthorizationError, NoServersError

from vigil.link.nats.subjects import inbox
from vigil.link.protocol import LinkUnavailable
from vigil.tasks import cancel

log = logging.getLogger(__name__)


class BusRefused(LinkUnavailable):
    """The bus was reached and would not have this client: a wrong user or password, a
    certificate not trusted. Trying again as the same client would not help."""


# The first connection: two tries of at most 5 s each, and a second between.
_FIRST_CONNECT_SECONDS = 12.0


async def connect(
    url: str, user: str, password: str, name: str, ca_file: Path | None = None
) -> Client:
    """A client connected to ``url`` as ``user``. Once connected it reconnects by itself;
    if the bus cannot be reached or refuses the user now, LinkUnavailable says why. With
    ``ca_file`` the connection is TLS, and the server must prove itself with a certificate
    that CA signed for the host in ``url``.
    """
    refused: list[Exception] = []

    async def disconnected() -> None:
        if not (client.is_closed or client.is_draining):  # not when closed on purpose
            log.warning("bus %s: disconnected, reconnecting", url)

    async def reconnected() -> None:
        log.info("bus %s: reconnected", url)

    async def error(exc: Exception) -> None:
        refused.append(exc)
        log.warning("bus %s: %s", url, exc)

    tls: dict[str, Any] = {}
    if ca_file is not None:
        tls["tls"] = ssl.create_default_context(cafile=str(ca_file))
    client = Client()
    try:
        # nats-py can wait for ever after a failed TLS handshake: bounded here.
        async with asyncio.timeout(_FIRST_CONNECT_SECONDS):
            await client.connect(
                servers=[url],
                user=user,
                password=password,
                name=name,
                inbox_prefix=inbox(user),
                allow_reconnect=True,
                max_reconnect_attempts=1,
                reconnect_time_wait=1,
                connect_timeout=5,
                drain_timeout=5,
                disconnected_cb=disconnected,
                reconnected_cb=reconnected,
                error_cb=error,
                **tls,
            )
    except (NoServersError, OSError, TimeoutError, ssl.SSLError) as exc:
        with contextlib.suppress(Exception):
            await client.close()
        # The server may close the socket before its refusal is read: say the refusal if any.
        said = [e for e in refused if _unauthorised(e)] or refused or [exc]
        reason = str(said[-1]) or type(said[-1]).__name__
        if "CERTIFICATE_VERIFY_FAILED" in reason:
            reason += (
                "; the bus speaks TLS: set bus.tls_ca_file to the CA that signed its certificate"
                if ca_file is None
                else f"; {ca_file} did not sign the bus's certificate for this address"
            )
        message = f"bus {url} as {user}: {reason}"
        if any(_unauthorised(e) or isinstance(e, ssl.SSLError) for e in said):
            raise BusRefused(message) from exc
        if any(isinstance(e, ConnectionResetError) for e in said):
            # The server closed on us before its reason could be read: nearly always a
            # user or password it refused.
            raise BusRefused(
                f"{message} (the bus closed the connection: is the user or "
                "password wrong, or does the bus expect TLS?)"
            ) from exc
        raise LinkUnavailable(message) from exc
    # The first connection is tried twice; once made, it is made again for ever.
    client.options["max_reconnect_attempts"] = -1
    return client


class Bus:
    """A process's connection to the bus, kept trying in the background while the bus is
    away, so that a node starts (and records) before the bus is there. Until connected,
    :attr:`client` raises LinkUnavailable, as any call over an unreachable bus does."""

    def __init__(
        self,
        url: str,
        user: str,
        password: str,
        name: str,
        ca_file: Path | None = None,
        retry_seconds: float = 2.0,
    ) -> None:
        self._args = (url, user, password, name, ca_file)
        self._retry = retry_seconds
        self._client: Client | None = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            raise LinkUnavailable(f"not connected to the bus at {self._args[0]} yet")
        return self._client

    async def start(self) -> None:
        """Connect now, or keep trying in the background if the bus is away; a refused
        user or password is raised at once (trying again would not help)."""
        try:
            self._set(await connect(*self._args))
        except BusRefused:
            raise
        except LinkUnavailable as exc:
            log.warning("%s; trying again every %.0f s", exc, self._retry)
            self._task = asyncio.create_task(self._keep_trying(), name="bus-connect")

    async def connected(self) -> Client:
        await self._connected.wait()
        return self.client

    async def close(self) -> None:
        await cancel(self._task)
        if self._client is not None:
            await close_client(self._client)

    def _set(self, client: Client) -> None:
        self._client = client
        self._connected.set()

    async def _keep_trying(self) -> None:
        while True:
            await asyncio.sleep(self._retry)
            try:
                self._set(await connect(*self._args))
                log.info("bus %s: connected", self._args[0])
                return
            except LinkUnavailable as exc:
                log.debug("bus still away: %s", exc)


async def close_client(client: Client) -> None:
    """Let what is in flight finish (a few seconds at most), then close."""
    try:
        await client.drain()
    except Exception as exc:  # the bus is away, or draining timed out
        log.debug("bus: drain ended with %s", exc)
    finally:
        if not client.is_closed:
            await client.close()


def _unauthorised(exc: Exception) -> bool:
    # nats-py says a refused user as a plain error with the server's words.
    return isinstance(exc, AuthorizationError) or "authorization violation" in str(exc).lower()
