"""Which application instance leads the scheduling (failover, and later the job queues):
the one whose name is under ``LEADER_KEY`` in a key-value bucket whose entries expire.

The leader renews its entry every ``seconds``, each time only if the entry is still the one
it wrote (compare-and-set on the revision); an instance that dies stops renewing, its entry
expires after three periods, and another instance creates its own. Two instances never
both believe they lead for longer than one period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from nats.aio.client import Client
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from vigil.tasks import cancel

log = logging.getLogger(__name__)

LEADER_BUCKET = "vigil-leader"
LEADER_KEY = "scheduling"


class Leadership:
    def __init__(self, client: Client, me: str, seconds: float = 1.0) -> None:
        self._js = client.jetstream()
        self._me = me
        self._seconds = seconds
        self._revision: int | None = None  # of our entry, while we lead
        self._kv: KeyValue | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def leading(self) -> bool:
        return self._revision is not None

    async def start(self) -> None:
        self._kv = await self._js.create_key_value(
            KeyValueConfig(
                bucket=LEADER_BUCKET, history=1, ttl=3 * self._seconds, storage=StorageType.FILE
            )
        )
        await self._try()
        self._task = asyncio.create_task(self._run(), name="leadership")

    async def stop(self) -> None:
        await cancel(self._task)
        if self._kv is not None and self._revision is not None:
            # Hand over at once rather than after the entry expires.
            with contextlib.suppress(Exception):
                await self._kv.delete(LEADER_KEY, last=self._revision)
        self._revision = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._seconds)
            try:
                await self._try()
            except Exception as exc:  # the bus away: we cannot know that we still lead
                if self._revision is not None:
                    log.warning("no longer leading the scheduling: %s", exc)
                self._revision = None

    async def _try(self) -> None:
        assert self._kv is not None
        value = self._me.encode()
        try:
            if self._revision is None:
                self._revision = await self._kv.create(LEADER_KEY, value)
                log.info("%s leads the scheduling", self._me)
            else:
                self._revision = await self._kv.update(LEADER_KEY, value, last=self._revision)
        except KeyWrongLastSequenceError:
            if self._revision is not None:
                log.warning("%s: another instance leads the scheduling now", self._me)
            self._revision = None
