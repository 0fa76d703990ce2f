"""Throttling guesses at a secret: a password, a second-factor or recovery code, a share
link's password.

Each guess is counted *before* it is checked, so guesses sent all at once are held back as
surely as guesses sent one by one: the first ``free`` guesses for a key (an account, an
address, a share link) go through, and once that many have been spent the key is locked
out for a time that doubles with each further guess. A guess that turns out right is given
back: the account's (or link's) count starts again, the address's and the global count lose
the one guess. Across all keys a token bucket bounds how many guesses the whole server will
check in a minute, whoever sends them from wherever.

Kept in memory: a restart forgives, which is acceptable for a delay whose job is to make
guessing slow.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from vigil.auth.errors import Throttled
from vigil.settings import AuthSettings

# Guesses older than this are forgotten (after the last lockout has run out).
FORGET_SECONDS = 3600.0
# Past this many keys, forgotten ones are swept out at the next guess.
_SWEEP_AT = 10_000


@dataclass(slots=True)
class _Record:
    guesses: int = 0
    locked_until: float = 0.0
    last_guess: float = 0.0


@dataclass(frozen=True, slots=True)
class Limits:
    """Free guesses per kind of key (e.g. ``{"account": 5, "address": 20}``), the first
    lockout, its ceiling, and the guesses the server checks per minute in all."""

    free: Mapping[str, int]
    base_seconds: float
    max_seconds: float
    per_minute: int


class Attempt:
    """One guess, already counted. Call ``succeeded()`` if it was right."""

    def __init__(self, throttle: Throttle, keys: list[tuple[str, str]]) -> None:
        self._throttle = throttle
        self._keys = keys
        self._settled = False

    def succeeded(self) -> None:
        if not self._settled:
            self._settled = True
            self._throttle._give_back(self._keys)


class Throttle:
    def __init__(
        self, limits: Limits, forgiven: frozenset[str], clock: Callable[[], float] = time.monotonic
    ) -> None:
        """``forgiven``: the kinds of key whose count a right guess wipes out (the account or
        link guessed at); other kinds (addresses) only get the one guess back."""
        self._limits = limits
        self._forgiven = forgiven
        self._clock = clock
        self._records: dict[tuple[str, str], _Record] = {}
        self._tokens = float(limits.per_minute)
        self._filled_at = clock()

    @classmethod
    def of_guesses_at(cls, target: str, settings: AuthSettings) -> Throttle:
        """Guesses at one kind of secret (``target``: an account, a share link) from
        addresses, held back by the sign-in settings; a right guess forgives the target."""
        limits = Limits(
            {target: settings.free_login_failures, "address": settings.free_address_failures},
            settings.lockout_base_seconds,
            settings.lockout_max_seconds,
            settings.guesses_per_minute,
        )
        return cls(limits, forgiven=frozenset({target}))

    def attempt(self, **keys: str | None) -> Attempt:
        """Count a guess against every key given (None: not known, not counted); raise
        Throttled, counting nothing, while any of them or the server as a whole is held."""
        now = self._clock()
        named = [(kind, value) for kind, value in keys.items() if value]
        for kind, _ in named:
            if kind not in self._limits.free:
                raise ValueError(f"no limit for {kind!r} guesses")
        waits = [0.0]
        for key in named:
            record = self._records.get(key)
            if record is not None:
                waits.append(record.locked_until - now)
        self._refill(now)
        if self._tokens < 1:
            waits.append((1 - self._tokens) * 60 / self._limits.per_minute)
        wait = max(waits)
        if wait > 0:
            raise Throttled(wait)
        self._tokens -= 1
        self._sweep(now)
        for key in named:
            self._count(key, now)
        return Attempt(self, named)

    def _count(self, key: tuple[str, str], now: float) -> None:
        record = self._records.get(key)
        if record is None:
            record = self._records[key] = _Record()
        elif now - record.last_guess > FORGET_SECONDS and now >= record.locked_until:
            record.guesses = 0
        record.guesses += 1
        record.last_guess = now
        over = record.guesses - self._limits.free[key[0]] + 1
        if over > 0:
            lock = min(self._limits.base_seconds * 2 ** (over - 1), self._limits.max_seconds)
            record.locked_until = now + lock

    def _give_back(self, keys: list[tuple[str, str]]) -> None:
        self._tokens = min(self._tokens + 1, float(self._limits.per_minute))
        for key in keys:
            if key[0] in self._forgiven:
                self._records.pop(key, None)
                continue
            record = self._records.get(key)
            if record is None:
                continue
            record.guesses = max(0, record.guesses - 1)
            if record.guesses < self._limits.free[key[0]]:
                record.locked_until = 0.0

    def _refill(self, now: float) -> None:
        rate = self._limits.per_minute / 60
        self._tokens = min(
            float(self._limits.per_minute), self._tokens + (now - self._filled_at) * rate
        )
        self._filled_at = now

    def _sweep(self, now: float) -> None:
        if len(self._records) < _SWEEP_AT:
            return
        stale = [
            key
            for key, record in self._records.items()
            if now - max(record.last_guess, record.locked_until) > FORGET_SECONDS
        ]
        for key in stale:
            del self._records[key]
