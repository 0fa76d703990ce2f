"""Guesses at a secret are counted before they are checked, per key and in all."""

from __future__ import annotations

import pytest

from vigil.auth.errors import Throttled
from vigil.auth.throttle import Attempt, Limits, Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle(clock: Clock, per_minute: int = 1000) -> Throttle:
    limits = Limits({"account": 3, "address": 5}, 2.0, 60.0, per_minute)
    return Throttle(limits, forgiven=frozenset({"account"}), clock=clock)


def test_guesses_in_flight_count_before_any_is_checked() -> None:
    """Three guesses started and not yet answered use up the account's free ones: the
    fourth is held back although none has failed yet."""
    held = throttle(Clock())
    in_flight = [held.attempt(account="ada", address="192.0.2.1") for _ in range(3)]
    with pytest.raises(Throttled) as refused:
        held.attempt(account="ada", address="192.0.2.1")
    assert refused.value.retry_after == pytest.approx(2.0)
    assert len(in_flight) == 3


def test_lockouts_double_and_run_out() -> None:
    clock = Clock()
    held = throttle(clock)
    for _ in range(3):
        held.attempt(account="ada")
    for lockout in (2.0, 4.0, 8.0):
        with pytest.raises(Throttled) as refused:
            held.attempt(account="ada")
        assert refused.value.retry_after == pytest.approx(lockout)
        clock.now += lockout
        held.attempt(account="ada")  # allowed once the lockout has run out; counted


def test_a_right_guess_forgives_the_account_but_not_the_address() -> None:
    held = throttle(Clock())
    for _ in range(2):
        held.attempt(account="ada", address="192.0.2.1")
    right: Attempt = held.attempt(account="ada", address="192.0.2.1")
    right.succeeded()
    right.succeeded()  # settling twice gives back once
    for _ in range(2):  # the account starts afresh; the address has 2 of 5 spent
        held.attempt(account="ada", address="192.0.2.1")
    held.attempt(account="bob", address="192.0.2.1")
    with pytest.raises(Throttled):
        held.attempt(account="carol", address="192.0.2.1")
    held.attempt(account="carol", address="192.0.2.2")


def test_the_server_checks_a_bounded_number_of_guesses_a_minute() -> None:
    clock = Clock()
    held = throttle(clock, per_minute=6)
    for i in range(6):
        held.attempt(account=f"name{i}", address=f"192.0.2.{i}")
    with pytest.raises(Throttled) as refused:
        held.attempt(account="another", address="198.51.100.1")
    assert refused.value.retry_after == pytest.approx(10.0)  # one guess per 10 s comes back
    clock.now += 10
    held.attempt(account="another", address="198.51.100.1")


def test_unknown_kinds_of_key_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="no limit"):
        throttle(Clock()).attempt(link="7")
