"""What can go wrong when someone asks: each maps to one problem response."""

from __future__ import annotations


class NotAuthenticated(Exception):
    """No valid session, key or link (401)."""

    def __init__(self, detail: str = "Sign in first: no valid session, API key or link.") -> None:
        super().__init__(detail)
        self.detail = detail


class Forbidden(Exception):
    """Known, but not allowed to do this (403)."""

    def __init__(self, detail: str, slug: str = "forbidden") -> None:
        super().__init__(detail)
        self.detail = detail
        self.slug = slug


class Conflict(Exception):
    """Refused because of the current state, e.g. removing the last admin (409)."""

    def __init__(self, detail: str, slug: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.slug = slug


class LoginFailed(Exception):
    """Wrong username, password or code: deliberately not saying which (401)."""


class Throttled(Exception):
    """Too many guesses at a secret, for this account, address or link, or for the whole
    server at once (429)."""

    def __init__(self, retry_after: float, detail: str = "Too many failed attempts") -> None:
        super().__init__(f"{detail}; try again in {retry_after:.0f} s")
        self.retry_after = retry_after
        self.detail = detail


class LoginThrottled(Throttled):
    """Too many failed sign-ins (or password and code confirmations) for this account or
    address, or at the whole server (429)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(retry_after, "Too many failed sign-ins")
