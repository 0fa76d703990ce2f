"""What the people routes take and give: accounts, sessions, organisations."""

from __future__ import annotations

from pydantic import Field

from vigil.api.schemas import Input, Output
from vigil.api.types import Code, Name, Password, Timestamp, Token
from vigil.api.types import Username as Username  # `vigil users add` checks names with it
from vigil.auth.permissions import Role
from vigil.auth.principal import Principal
from vigil.store.models import ApiKey, UserSession

OrgName = Name  # `vigil users add` checks the organisation's name with it


class LoginIn(Input):
    username: Name
    password: Password
    code: Code | None = None


class SetupIn(Input):
    organisation: Name
    username: Username
    password: Password


class InvitationIn(Input):
    token: Token
    password: Password


class OrgOut(Output):
    id: int
    name: str
    require_mfa: bool


class MeOut(Output):
    id: int
    username: str
    display_name: str | None
    email: str | None
    role: Role
    org: OrgOut
    mfa_enabled: bool
    mfa_enrolment_required: bool = Field(
        description="the organisation requires MFA and this account has yet to enrol"
    )
    via: str = Field(description="session, key or link")


class SignedInOut(Output):
    user: MeOut
    csrf_token: str = Field(description="send it back in the X-CSRF-Token header on writes")
    session_id: int
    expires_at: Timestamp


class SetupStatus(Output):
    needed: bool = Field(description="no user exists yet: the first-run setup is open")


class SessionOut(Output):
    id: int
    created_at: Timestamp
    last_seen_at: Timestamp = Field(description="updated at most once a minute")
    expires_at: Timestamp = Field(description="when the session ends however much it is used")
    ip: str | None
    user_agent: str | None
    current: bool = Field(description="the session making this request")

    @classmethod
    def build(cls, row: UserSession, principal: Principal) -> SessionOut:
        return cls(
            id=row.id,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            ip=row.ip,
            user_agent=row.user_agent,
            current=row.id == principal.session_id,
        )


class KeyOut(Output):
    """An API key without its secret (only its hash is kept)."""

    id: int
    user_id: int
    username: str
    name: str
    scopes: list[str]
    created_at: Timestamp
    expires_at: Timestamp | None
    last_used_at: Timestamp | None
    last_used_ip: str | None
    revoked_at: Timestamp | None

    @classmethod
    def build(cls, key: ApiKey, username: str) -> KeyOut:
        return cls(
            id=key.id,
            user_id=key.user_id,
            username=username,
            name=key.name,
            scopes=list(key.scopes),
            created_at=key.created_at,
            expires_at=key.expires_at,
            last_used_at=key.last_used_at,
            last_used_ip=key.last_used_ip,
            revoked_at=key.revoked_at,
        )
