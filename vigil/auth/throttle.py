"""Sign-in throttling: free tries, then lockouts that double with each further failure.

Counted per account name (known or not, so the answers tell nothing about which names
exist) and per client address. Kept in memory: a restart forgives, which is acceptable for
a delay whose job is to make guessing slow.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

# Failures older than this are forgotten (after the last lockout has run out).
FORGET_SECONDS = 3600.0


@dataclass(slots=True)
class _Record:
    failures: int = 0
    locked_until: float = 0.0
    last_failure: float = 0.0


class LoginThrottle:
    def __init__(
        self,
        free_account_failures: int,
        free_address_failures: int,
        base_seconds: float,
        max_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._free = {"account": free_account_failures, "address": free_address_failures}
        self._base = base_seconds
        self._max = max_seconds
        self._clock = clock
        self._records: dict[tuple[str, str], _Record] = {}

    def retry_after(self, account: str, address: str | None) -> float:
        """Seconds until either the account or the address may try again; 0: now."""
        now = self._clock()
        waits = [record.locked_until - now for record in self._of(account, address)]
        return max([0.0, *waits])

    def failed(self, account: str, address: str | None) -> None:
        now = self._clock()
        self._forget_old(now)
        for (kind, _), record in self._keyed(account, address, create=True):
            if now - record.last_failure > FORGET_SECONDS and now >= record.locked_until:
                record.failures = 0
            record.failures += 1
            record.last_failure = now
            over = record.failures - self._free[kind] + 1
            if over > 0:
                lock = min(self._base * 2 ** (over - 1), self._max)
                record.locked_until = now + lock

    def succeeded(self, account: str) -> None:
        self._records.pop(("account", account.lower()), None)

    def _of(self, account: str, address: str | None) -> list[_Record]:
        return [record for _, record in self._keyed(account, address, create=False)]

    def _keyed(
        self, account: str, address: str | None, create: bool
    ) -> list[tuple[tuple[str, str], _Record]]:
        keys = [("account", account.lower())]
        if address:
            keys.append(("address", address))
        found = []
        for key in keys:
            record = self._records.get(key)
            if record is None and create:
                record = self._records[key] = _Record()
            if record is not None:
                found.append((key, record))
        return found

    def _forget_old(self, now: float) -> None:
        if len(self._records) < 10_000:
            return
        stale = [
            key
            for key, record in self._records.items()
            if now - max(record.last_failure, record.locked_until) > FORGET_SECONDS
        ]
        for key in stale:
            del self._records[key]
