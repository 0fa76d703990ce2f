"""Passwords: argon2id hashing, a constant-time answer for unknown users, and the policy."""

from __future__ import annotations

import asyncio
import functools
import secrets
from importlib import resources

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

MAX_LENGTH = 1024
COMMON_PASSWORDS = "data/common-passwords.txt"

# OWASP's 19 MiB and parallelism 1, with one pass more than its minimum of 2: 33 ms a hash or
# verify (median of 20, `python -m bench.passwords`) on the 2-core development box (AMD EPYC,
# 2.6 GHz), up to 46 ms with other load on it; inside the 30-80 ms aimed at. RFC 9106's 64 MiB
# took 117 ms at 2 passes: too slow for 2 cores that also record. See docs/security.md.
_HASHER = PasswordHasher(
    time_cost=3, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
)


class WeakPassword(ValueError):
    """A password the policy refuses; the message can be shown to the user as it is."""


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (PHC string, ``$argon2id$...``), salted at random."""
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``; False too for an invalid or corrupt hash."""
    try:
        return _HASHER.verify(stored_hash, password)
    # A non-ASCII hash fails to encode before argon2 can call it invalid.
    except (VerificationError, InvalidHashError, UnicodeEncodeError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether ``stored_hash`` was made with other parameters (or is not a valid hash)."""
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except (InvalidHashError, UnicodeEncodeError):
        return True


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def verify_dummy(password: str) -> None:
    """Spend the time of a real verify, so that an unknown username answers as slowly.

    The hash it verifies against is made on first use: call it once at start-up to keep that
    first call from taking a hash's time more.
    """
    verify_password(_dummy_hash(), password)


async def hash_password_async(password: str) -> str:
    """`hash_password` in a worker thread (argon2 releases the GIL)."""
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(stored_hash: str, password: str) -> bool:
    """`verify_password` in a worker thread."""
    return await asyncio.to_thread(verify_password, stored_hash, password)


async def verify_dummy_async(password: str) -> None:
    """`verify_dummy` in a worker thread."""
    await asyncio.to_thread(verify_dummy, password)


@functools.cache
def common_passwords() -> frozenset[str]:
    """The 10,000 most common passwords, lowercase (see ``data/NOTICE.md``)."""
    text = resources.files("vigil.auth").joinpath(COMMON_PASSWORDS).read_text(encoding="utf-8")
    return frozenset(text.splitlines())


def check_password(password: str, *, username: str = "", min_length: int = 10) -> None:
    """Raise `WeakPassword`, saying why, if the policy refuses ``password``."""
    if len(password) < min_length:
        raise WeakPassword(f"The password must be at least {min_length} characters long.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"The password must be at most {MAX_LENGTH} characters long.")
    if username and password.casefold() == username.casefold():
        raise WeakPassword("The password must not be the same as the username.")
    if password.lower() in common_passwords():
        raise WeakPassword(
            "This password is one of the 10,000 most common passwords; choose another."
        )
