"""Who is asking: the user behind a request, and how they proved it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from vigil.auth.permissions import ALL_SCOPES, Role, Scope


class Via(StrEnum):
    SESSION = "session"  # a browser's cookie
    KEY = "key"  # an API key in the Authorization header
    LINK = "link"  # a signed media URL


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    org_id: int
    username: str
    role: Role
    via: Via
    session_id: int | None = None
    key_id: int | None = None
    scopes: frozenset[Scope] = ALL_SCOPES
    # The organisation requires MFA and this session's user has yet to enrol.
    mfa_pending: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def allows(self, scope: Scope) -> bool:
        return scope in self.scopes
