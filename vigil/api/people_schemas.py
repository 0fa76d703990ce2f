"""What the people routes take and give: accounts, sessions, organisations."""

from __future__ import annotations

from typing import Annotated, Literal, cast

from pydantic import AfterValidator, Field, field_validator

from vigil.api.schemas import Input, Output
from vigil.api.types import ID_MAX, CameraId, Code, Name, Password, Timestamp, Token
from vigil.api.types import Username as Username  # `vigil users add` checks names with it
from vigil.auth.permissions import Role
from vigil.auth.principal import Principal
from vigil.store.models import ApiKey, UserSession, UserView

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


# The live grid's preferences and views ------------------------------------------------

Layout = Literal["1", "4", "9", "16", "fit"]
# More cameras than one person watches in a grid, however large the site.
MAX_GRID_CAMERAS = 500


def _no_repeats(values: list[int]) -> list[int]:
    if len(set(values)) != len(values):
        raise ValueError("must not list the same camera twice")
    return values


GridCameras = Annotated[
    list[CameraId], Field(max_length=MAX_GRID_CAMERAS), AfterValidator(_no_repeats)
]
ViewId = Annotated[int, Field(ge=1, le=ID_MAX, description="a saved view's id")]
ViewKey = Annotated[
    str,
    Field(pattern=r"^(user|group):[1-9][0-9]{0,17}$", max_length=30, examples=["user:3"]),
]


class PreferencesIn(Input):
    """The whole of the live grid's preferences: what is not given returns to its default."""

    layout: Layout = Field(default="4", description="cameras a page, or fit all")
    camera_order: GridCameras = Field(
        default_factory=list,
        description="cameras in the order the grid shows them; the others follow, oldest first",
    )
    view: ViewKey | None = Field(
        default=None, description="the view shown ('user:<id>' or 'group:<id>'); null: all"
    )


class PreferencesOut(Output):
    layout: Layout
    camera_order: list[int] = Field(description="only cameras you may still see")
    view: str | None


class ViewIn(Input):
    name: Name
    layout: Layout = "fit"
    camera_ids: GridCameras = Field(min_length=1)


class ViewUpdate(Input):
    """Only the fields given change; none may be null."""

    name: Name | None = None
    layout: Layout | None = None
    camera_ids: GridCameras | None = Field(default=None, min_length=1)

    @field_validator("*")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be null")
        return value


class ViewOut(Output):
    id: int
    kind: Literal["user", "group"] = Field(
        description="user: saved by you (you may change it); group: an organisation's camera "
        "group, read-only"
    )
    name: str
    layout: Layout
    camera_ids: list[int] = Field(description="only cameras you may see, in order")

    @classmethod
    def of_user(cls, view: UserView, visible: set[int]) -> ViewOut:
        cameras = [i for i in view.camera_ids if i in visible]
        return cls(
            id=view.id,
            kind="user",
            name=view.name,
            layout=cast(Layout, view.layout),
            camera_ids=cameras,
        )
