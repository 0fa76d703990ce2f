"""What each application instance runs on the bus: it answers the nodes' questions and
applies what they report, over the :class:`~vigil.link.protocol.AppSide` it is given (the
``NodeRegistry``).

Questions come to a queue group, so one of several instances answers each. Reports wait on
the ``REPORTS_STREAM`` (a work queue: a report is gone once applied) for one consumer that
every instance shares. It hands out one report at a time, so that reports are applied in
the order the nodes sent them whichever instance applies them: a segment's removal never
overtakes its recording, an event's end never its start. A report that fails because the
database is away comes back after ``retry_seconds``, and those behind it wait, as in a
node's outbox; one that cannot be read is dropped, not retried for ever.

A node names itself by the subject it uses (the bus lets it use only its own), never by the
arguments it sends.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import inspect
import logging
import time
import typing
from collections.abc import Mapping
from typing import Any

import nats.errors
import nats.js.errors
import pydantic_core
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from pydantic import TypeAdapter

from vigil.link.nats import wire
from vigil.link.nats.app_client import HEADROOM, REPORTED, PathsPage
from vigil.link.nats.subjects import REPORTS_STREAM, app_call, check_node_name, report
from vigil.link.protocol import AppSide, LinkUnavailable
from vigil.tasks import cancel

log = logging.getLogger(__name__)

# The queue group that answers questions and the consumer that applies reports: one of each
# for every application instance together.
QUEUE = "vigil-app"
CONSUMER = "vigil-app"
# What a node asks (request/reply) and what it reports (through the stream).
CALLS = (
    "camera_configs",
    "indexed_paths",
    "oldest_segments",
    "camera_bytes",
    "report_status",
    "camera_activity",
)
REPORTS = (
    "segments_recorded",
    "segments_removed",
    "events_reported",
    "events_interrupted",
    "motion_reported",
)
# A report sent again within this long (an outbox retrying after a lost acknowledgement,
# however long the bus was away) is stored once.
DUPLICATE_WINDOW_SECONDS = 600.0
# A report handed out and neither acknowledged nor refused in this long (its instance died)
# goes to another instance; the one applying it says it still is every third of this.
ACK_WAIT_SECONDS = 6.0
RETRY_SECONDS = 2.0  # a report the database could not take comes back after this long
FETCH_SECONDS = 1.0  # how long a fetch waits for a report (and so how long stop() may take)
# How long a question waits for the asking node's earlier reports to be applied (less
# than a call's timeout, so the node hears why).
APPLIED_SECONDS = 2.0

_EVERY_NODES_CALLS = app_call("*", "*").removesuffix(".*")  # the Responder adds the method
_SEQUENCE = TypeAdapter(int)
_AFTER = TypeAdapter(str | None)


def reports_stream() -> StreamConfig:
    return StreamConfig(
        name=REPORTS_STREAM,
        description="What media nodes report (segments, events, motion), until applied",
        subjects=[report("*", ">")],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
    )


def reports_consumer() -> ConsumerConfig:
    return ConsumerConfig(
        name=CONSUMER,
        durable_name=CONSUMER,
        description="The application instances, applying reports in order",
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ACK_WAIT_SECONDS,
        max_deliver=-1,
        max_ack_pending=1,  # one report at a time, across every instance: in order
        filter_subject=report("*", ">"),
    )


async def set_up_reports(js: JetStreamContext) -> None:
    """Create the reports stream and its consumer, or bring them up to this version's."""
    try:
        await js.add_stream(reports_stream())
    except nats.js.errors.BadRequestError:  # there already, set up otherwise
        await js.update_stream(reports_stream())
    await js.add_consumer(REPORTS_STREAM, reports_consumer())


def _parameters(method: str) -> dict[str, tuple[TypeAdapter[Any], Any]]:
    """The arguments ``AppSide.<method>`` takes after the node, as the protocol declares
    them: each one's type and default (``inspect.Parameter.empty`` when it has none)."""
    function = getattr(AppSide, method)
    hints = typing.get_type_hints(function)
    parameters = list(inspect.signature(function).parameters.values())[2:]  # self, node
    return {p.name: (TypeAdapter(hints[p.name]), p.default) for p in parameters}


_PARAMETERS = {method: _parameters(method) for method in CALLS + REPORTS}


def arguments(method: str, raw: object) -> dict[str, Any]:
    """``raw`` (decoded JSON) as the arguments of ``AppSide.<method>``; ValueError if it
    is not that."""
    if not isinstance(raw, dict):
        raise ValueError(f"{method}: the arguments are not an object")
    parameters = _PARAMETERS[method]
    unknown = sorted(set(raw) - set(parameters))
    if unknown:
        raise ValueError(f"{method}: no argument named {', '.join(unknown)}")
    decoded: dict[str, Any] = {}
    for name, (adapter, default) in parameters.items():
        if name in raw:
            decoded[name] = adapter.validate_python(raw[name])
        elif default is not inspect.Parameter.empty:
            decoded[name] = default
        else:
            raise ValueError(f"{method}: {name} is missing")
    return decoded


def _call_of(subject: str) -> tuple[str, str]:
    """The node and method of ``vigil.app.<node>.call.<method>``."""
    parts = subject.split(".")
    return check_node_name(parts[2]), parts[4]


def _report_of(subject: str) -> tuple[str, str]:
    """The node and method of ``vigil.report.<node>.<method>``."""
    parts = subject.split(".")
    if len(parts) != 4 or parts[3] not in REPORTS:
        raise ValueError(f"no report named {parts[-1]!r}")
    return check_node_name(parts[2]), parts[3]


class AppServer:
    """Answers and applies for ``app`` on the bus ``client`` (connected as the application's
    user). ``reply_bytes`` caps an answer that comes in pages (a camera's indexed paths);
    by default, what the bus carries in a message."""

    def __init__(
        self,
        client: Client,
        app: AppSide,
        retry_seconds: float = RETRY_SECONDS,
        reply_bytes: int | None = None,
    ) -> None:
        self._client = client
        self._app = app
        self._retry = retry_seconds
        self._reply_bytes = reply_bytes
        self._js = client.jetstream()
        self._responder = wire.Responder(
            client, _EVERY_NODES_CALLS, dict.fromkeys(CALLS, self._answer), queue=QUEUE
        )
        self._pull: JetStreamContext.PullSubscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._away_since: float | None = None

    async def start(self) -> None:
        """Set up the stream, then apply reports and answer questions; LinkUnavailable if
        the bus cannot have the stream now."""
        try:
            await set_up_reports(self._js)
            self._pull = await self._js.pull_subscribe_bind(CONSUMER, REPORTS_STREAM)
        except nats.errors.Error as exc:
            raise LinkUnavailable(f"cannot set up the {REPORTS_STREAM} stream: {exc}") from exc
        self._stopping.clear()
        self._task = asyncio.create_task(self._consume(), name="nats-reports")
        await self._responder.start()

    async def stop(self) -> None:
        """Stop answering, let the report being applied finish, then stop fetching."""
        await self._responder.stop()
        self._stopping.set()
        if self._task is not None:
            # A fetch cut short could leave a report handed out to no one (the others wait
            # ACK_WAIT_SECONDS for it): let it end.
            done, _ = await asyncio.wait({self._task}, timeout=FETCH_SECONDS + 2)
            if not done:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._pull is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._pull.unsubscribe()
            self._pull = None

    # -- questions
    async def _answer(self, subject: str, raw: Mapping[str, Any]) -> bytes:
        node, method = _call_of(subject)
        args = dict(raw)
        reported = _SEQUENCE.validate_python(args.pop(REPORTED, 0))
        paged = method == "indexed_paths"
        after = _AFTER.validate_python(args.pop("after", None)) if paged else None
        decoded = arguments(method, args)
        if reported:
            await self._applied(node, reported)
        if paged:
            return self._page(await self._app.indexed_paths(node, **decoded), after)
        return wire.encode(await getattr(self._app, method)(node, **decoded))

    async def _applied(self, node: str, sequence: int) -> None:
        """Wait until ``node``'s reports up to ``sequence`` are applied (gone from the
        stream), so that its question sees them."""
        deadline = time.monotonic() + APPLIED_SECONDS
        while True:
            try:
                first = await self._js.get_msg(
                    REPORTS_STREAM, seq=1, subject=report(node, ">"), next=True
                )
            except nats.js.errors.NotFoundError:
                return
            except nats.errors.Error as exc:
                raise LinkUnavailable(f"cannot read the {REPORTS_STREAM} stream: {exc}") from exc
            if first.seq is None or first.seq > sequence:
                return
            if time.monotonic() > deadline:
                raise LinkUnavailable(f"node {node}'s reports are not applied yet")
            await asyncio.sleep(0.02)

    def _page(self, paths: set[str], after: str | None) -> bytes:
        """The paths that follow ``after``, as many as an answer holds."""
        ordered = sorted(paths)
        start = bisect.bisect_right(ordered, after) if after is not None else 0
        budget = self._reply_bytes or self._client.max_payload - HEADROOM
        end, used = start, 0
        while end < len(ordered):
            used += len(ordered[end].encode()) + 4  # its quotes, a comma, an escape
            if used > budget and end > start:  # at least one a page: every page moves on
                break
            end += 1
        page = PathsPage(paths=ordered[start:end], more=end < len(ordered))
        return page.model_dump_json().encode()

    # -- reports
    async def _consume(self) -> None:
        assert self._pull is not None
        while not self._stopping.is_set():
            try:
                messages = await self._pull.fetch(1, timeout=FETCH_SECONDS)
                for msg in messages:
                    await self._apply(msg)
                continue
            except nats.errors.TimeoutError:
                continue  # nothing to apply
            except nats.errors.Error as exc:
                log.warning("cannot take reports from the bus now: %s", exc)
            except Exception:
                log.exception("taking reports from the bus failed")
            with contextlib.suppress(TimeoutError):  # a while before trying again
                await asyncio.wait_for(self._stopping.wait(), self._retry)

    async def _apply(self, msg: Msg) -> None:
        try:
            node, method = _report_of(msg.subject)
            args = arguments(method, pydantic_core.from_json(msg.data))
        except ValueError as exc:
            log.error("dropping a report on %s that cannot be read: %s", msg.subject, exc)
            await msg.term()
            return
        working = asyncio.create_task(_still_applying(msg), name="nats-report-in-progress")
        try:
            await getattr(self._app, method)(node, **args)
        except LinkUnavailable as exc:
            self._away(str(exc))
            await msg.nak(delay=self._retry)
            return
        except asyncio.CancelledError:
            with contextlib.suppress(nats.errors.Error):
                await msg.nak()  # another instance takes it at once
            raise
        except Exception:
            log.exception("applying %s failed; it comes back in %g s", msg.subject, self._retry)
            await msg.nak(delay=self._retry)
            return
        finally:
            await cancel(working)
        await msg.ack()
        self._back()

    def _away(self, reason: str) -> None:
        """Said once an outage, not at every retry."""
        if self._away_since is None:
            self._away_since = time.monotonic()
            log.warning(
                "reports wait on the bus while the application side is unavailable (%s); "
                "retrying every %g s",
                reason,
                self._retry,
            )

    def _back(self) -> None:
        if self._away_since is not None:
            log.info("applying reports again after %.0f s", time.monotonic() - self._away_since)
            self._away_since = None


async def _still_applying(msg: Msg) -> None:
    """Keep ``msg`` handed to this instance while it is being applied (a slow database),
    so that only an instance that died loses it to another."""
    while True:
        await asyncio.sleep(ACK_WAIT_SECONDS / 3)
        with contextlib.suppress(nats.errors.Error):
            await msg.in_progress()
