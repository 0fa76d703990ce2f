"""Roles, camera permissions and API key scopes: the words every access check is made of."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A person's role in their organisation."""

    ADMIN = "admin"  # everything in the organisation, including people and the audit log
    OPERATOR = "operator"  # a teacher or guard: what their grants allow, any permission
    VIEWER = "viewer"  # a parent or student: at most live and recorded views


class Permission(StrEnum):
    """What a grant allows on the cameras of a camera group."""

    VIEW_LIVE = "view_live"
    VIEW_RECORDINGS = "view_recordings"
    EXPORT = "export"
    PTZ = "ptz"
    CONFIGURE = "configure"


ALL_PERMISSIONS = frozenset(Permission)

# A grant never gives more than the role allows: a viewer given "export" still cannot.
ROLE_CEILING: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: ALL_PERMISSIONS,
    Role.OPERATOR: ALL_PERMISSIONS,
    Role.VIEWER: frozenset({Permission.VIEW_LIVE, Permission.VIEW_RECORDINGS}),
}


class Scope(StrEnum):
    """What an API key may be used for; the key's user must also have the rights."""

    CAMERAS_READ = "cameras:read"  # cameras, their status and storage
    CAMERAS_WRITE = "cameras:write"  # add, change, remove cameras; protect recordings
    LIVE = "live"  # live streams and snapshots
    RECORDINGS = "recordings"  # recordings, playback, frames
    EXPORTS = "exports"  # create and download exports
    PEOPLE = "people"  # users, groups, grants, sites, the organisation
    AUDIT = "audit"  # read the audit log
    LIBRARY = "library"  # the media library: upload, edit, share (reading needs it too)


ALL_SCOPES = frozenset(Scope)
