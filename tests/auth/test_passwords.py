"""Passwords: argon2id round trip, corrupt hashes, the dummy verify and the policy."""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib import resources

import pytest

from vigil.auth.passwords import (
    WeakPassword,
    check_password,
    common_passwords,
    hash_password,
    hash_password_async,
    needs_rehash,
    verify_dummy,
    verify_dummy_async,
    verify_password,
    verify_password_async,
)

GOOD = "correct horse battery staple"


def test_hash_is_argon2id_and_verifies() -> None:
    stored = hash_password(GOOD)
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, GOOD)
    assert not needs_rehash(stored)


def test_same_password_hashes_differently() -> None:
    assert hash_password(GOOD) != hash_password(GOOD)


def test_wrong_password_is_refused() -> None:
    stored = hash_password(GOOD)
    assert not verify_password(stored, GOOD + "!")
    assert not verify_password(stored, "")


@pytest.mark.parametrize(
    "corrupt",
    [
        "",
        "not a hash",
        "$argon2id$v=19$m=19456,t=3,p=1$",
        "$argon2id$v=19$m=19456,t=3,p=1$c2FsdHNhbHQ$AAAA",
        "$2b$12$abcdefghijklmnopqrstuuQ2jqrdIlD8y5nvWqJo1Z3Jm1ukC2j9a",
        "$argon2id$v=19$m=19456,t=3,p=1$€€€$€€€",
    ],
)
def test_corrupt_hash_is_false_not_an_error(corrupt: str) -> None:
    assert not verify_password(corrupt, GOOD)
    assert needs_rehash(corrupt)


def test_truncated_real_hash_is_false() -> None:
    stored = hash_password(GOOD)
    assert not verify_password(stored[:-5], GOOD)
    assert not verify_password(stored.replace("$argon2id$", "$argon2i$"), GOOD)


def test_other_parameters_need_rehash() -> None:
    from argon2 import PasswordHasher

    old = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(GOOD)
    assert verify_password(old, GOOD)
    assert needs_rehash(old)


def test_dummy_verify_takes_as_long_as_a_real_one() -> None:
    stored = hash_password(GOOD)
    verify_dummy(GOOD)  # makes its hash once

    def best(fn: Callable[[], object]) -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    real = best(lambda: verify_password(stored, "wrong password"))
    dummy = best(lambda: verify_dummy("wrong password"))
    assert 0.5 < dummy / real < 2


async def test_async_versions() -> None:
    stored = await hash_password_async(GOOD)
    assert await verify_password_async(stored, GOOD)
    assert not await verify_password_async(stored, "nope")
    await verify_dummy_async(GOOD)


def test_list_has_10000_unique_lowercase_lines() -> None:
    text = (
        resources.files("vigil.auth")
        .joinpath("data/common-passwords.txt")
        .read_text(encoding="utf-8")
    )
    lines = text.splitlines()
    assert len(lines) == 10_000
    assert len(set(lines)) == 10_000
    assert all(line and line == line.lower() for line in lines)
    assert lines[:2] == ["123456", "password"]
    assert len(common_passwords()) == 10_000


def test_good_password_is_accepted() -> None:
    check_password(GOOD, username="alice")
    check_password("x" * 1024)


def test_short_password_says_the_minimum() -> None:
    with pytest.raises(WeakPassword, match="at least 10 characters"):
        check_password("abc12345!")
    with pytest.raises(WeakPassword, match="at least 14 characters"):
        check_password("abcdefgh12345", min_length=14)


def test_too_long_password_is_refused() -> None:
    with pytest.raises(WeakPassword, match="at most 1024"):
        check_password("x" * 1025)


@pytest.mark.parametrize("password", ["qwertyuiop", "1234567890", "password123", "PassWord123"])
def test_common_password_is_refused(password: str) -> None:
    with pytest.raises(WeakPassword, match="is one of the 10,000 most common passwords"):
        check_password(password)


def test_password_equal_to_username_is_refused() -> None:
    with pytest.raises(WeakPassword, match="same as the username"):
        check_password("Camera-Operator", username="camera-operator")
    check_password("Camera-Operator", username="someone-else")


def test_weak_password_is_a_value_error() -> None:
    assert issubclass(WeakPassword, ValueError)
