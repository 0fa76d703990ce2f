"""How a call crosses the bus: a request of JSON arguments, a reply of bytes, and failures
named in a header so that the caller raises what the callee raised.

``call`` is the asking end, ``Responder`` the answering one. Every way the bus can fail a
call (no one answering, no reply in time, the connection down) is ``LinkUnavailable``: the
caller keeps what it was sending and tries again, as with the in-process link.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NoReturn

import pydantic_core
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import ConnectionClosedError, NoRespondersError, TimeoutError
from nats.errors import Error as NatsError

from vigil.link.messages import ProbeFailure
from vigil.link.protocol import LinkUnavailable, MediaNotFound, ProbeFailed
from vigil.node.transcode import TranscodeLimit
from vigil.playback.transcode import ConversionFailed

log = logging.getLogger(__name__)

ERROR = "Vigil-Error"  # the kind of failure; the body says it in words
PROBE = "Vigil-Probe"  # a ProbeFailed's kind
LIMIT = "Vigil-Limit"  # a TranscodeLimit's limit
# Calls one responder runs at once; more wait in the client library's queue.
CONCURRENCY = 32

# A call's subject (which names the caller, for calls from nodes) and arguments.
Handler = Callable[[str, Mapping[str, Any]], Awaitable[bytes]]


class RemoteError(Exception):
    """The other side failed in a way it did not expect (its log says more)."""


_KINDS: list[tuple[type[BaseException], str]] = [
    (MediaNotFound, "not-found"),
    (ProbeFailed, "probe-failed"),
    (ConversionFailed, "conversion-failed"),
    (TranscodeLimit, "transcode-limit"),
    (LinkUnavailable, "unavailable"),
    (ValueError, "invalid"),
]


def encode(value: Any) -> bytes:
    """JSON of plain values and pydantic messages."""
    return pydantic_core.to_json(value)


def failure(exc: BaseException) -> tuple[dict[str, str], bytes]:
    """The headers and body that say ``exc`` to the caller."""
    for kind, name in _KINDS:
        if isinstance(exc, kind):
            headers = {ERROR: name}
            if isinstance(exc, ProbeFailed):
                headers[PROBE] = exc.kind.value
            if isinstance(exc, TranscodeLimit):
                headers[LIMIT] = str(exc.limit)
            return headers, str(exc).encode()
    return {ERROR: "internal"}, f"{type(exc).__name__} on the other side".encode()


def raise_failure(headers: Mapping[str, str], data: bytes) -> NoReturn:
    message = data.decode(errors="replace")
    kind = headers.get(ERROR)
    if kind == "not-found":
        raise MediaNotFound(message)
    if kind == "probe-failed":
        raise ProbeFailed(ProbeFailure(headers.get(PROBE, "unreachable")), message)
    if kind == "conversion-failed":
        raise ConversionFailed(message)
    if kind == "transcode-limit":
        raise TranscodeLimit(int(headers.get(LIMIT, "0")))
    if kind == "unavailable":
        raise LinkUnavailable(message)
    if kind == "invalid":
        raise ValueError(message)
    raise RemoteError(message)


async def call(client: Client, subject: str, args: Mapping[str, Any], seconds: float) -> bytes:
    """Ask ``subject`` with ``args``; the reply's body, or what the other side raised."""
    try:
        reply = await client.request(subject, encode(args), timeout=seconds)
    except NoRespondersError as exc:
        raise LinkUnavailable(f"no one answers {subject}") from exc
    except TimeoutError as exc:
        raise LinkUnavailable(f"no answer from {subject} in {seconds:g} s") from exc
    except ConnectionClosedError as exc:
        raise LinkUnavailable("the bus connection is closed") from exc
    if reply.headers and ERROR in reply.headers:
        raise_failure(reply.headers, reply.data)
    return reply.data


class Responder:
    """Answers ``<prefix>.<method>`` with ``handlers[method]`` (``prefix`` may hold ``*``
    wildcards, to answer every node's calls), each call in its own task
    (a slow read does not hold up the others), at most ``CONCURRENCY`` at once."""

    def __init__(
        self, client: Client, prefix: str, handlers: Mapping[str, Handler], queue: str = ""
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._handlers = dict(handlers)
        self._queue = queue
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._tasks: set[asyncio.Task[None]] = set()
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        self._subscription = await self._client.subscribe(
            f"{self._prefix}.*", queue=self._queue, cb=self._received
        )
        await self._client.flush()  # answering once start() returns: the server has it

    async def stop(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(NatsError):  # the connection closed already
                await self._subscription.unsubscribe()
            self._subscription = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _received(self, msg: Msg) -> None:
        await self._slots.acquire()
        task = asyncio.create_task(self._answer(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, msg: Msg) -> None:
        try:
            method = msg.subject.rpartition(".")[2]
            headers: dict[str, str] | None = None
            try:
                handler = self._handlers.get(method)
                if handler is None:
                    raise ValueError(f"no call named {method!r}")
                body = await handler(msg.subject, pydantic_core.from_json(msg.data or b"{}"))
            except Exception as exc:
                if failure(exc)[0][ERROR] == "internal":
                    log.exception("%s failed", msg.subject)
                headers, body = failure(exc)
            if msg.reply:
                try:
                    await self._client.publish(msg.reply, body, headers=headers)
                except Exception as exc:  # the bus went away meanwhile: the caller times out
                    log.warning("could not answer %s: %s", msg.subject, exc)
        finally:
            self._slots.release()
