"""Random tokens (sessions, keys, invitations) and the short-lived signed media links."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum

KEY_PREFIX = "vgl_"


def new_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored for a token: its SHA-256 (tokens are random, so no stretching)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_key() -> str:
    return KEY_PREFIX + new_token()


class MediaKind(StrEnum):
    LIVE = "l"  # a camera's live streams and snapshot
    RECORDINGS = "r"  # a camera's playlists, files, previews and frames
    EXPORT = "e"  # an export's files
    LIBRARY = "m"  # a library item's files (original, web copy, poster, thumbnail)
    SHARE = "s"  # an item's files through a share link: "user" is the link, target the item


@dataclass(frozen=True, slots=True)
class MediaGrant:
    """What a signed link lets its bearer fetch, for whom, until when."""

    user_id: int
    kind: MediaKind
    target: int  # a camera id, or an export id for MediaKind.EXPORT
    expires_s: int


class BadSignature(Exception):
    """The link is malformed, tampered with or expired."""


class LinkExpired(BadSignature):
    """A genuine link whose time is up."""

    def __init__(self, grant: MediaGrant) -> None:
        super().__init__("expired")
        self.grant = grant


class MediaSigner:
    """Signs and checks media links: HMAC-SHA256 over user, kind, target and expiry.

    The link carries no secret: it names the user, and each use checks that the user
    still has the right, so a link dies with the access it was made from.
    """

    def __init__(self, key: bytes, ttl_seconds: int) -> None:
        self._key = hmac.new(key, b"vigil media links", hashlib.sha256).digest()
        self.ttl_seconds = ttl_seconds

    def sign(
        self,
        user_id: int,
        kind: MediaKind,
        target: int,
        now: float | None = None,
        ttl_seconds: int | None = None,
    ) -> str:
        """A link for ``ttl_seconds`` (default: the signer's)."""
        ttl = self.ttl_seconds if ttl_seconds is None else ttl_seconds
        expires = int((time.time() if now is None else now) + ttl)
        payload = f"{user_id}.{kind.value}.{target}.{expires}"
        return f"{payload}.{self._mac(payload)}"

    def verify(self, token: str, now: float | None = None) -> MediaGrant:
        if len(token) > 200:
            raise BadSignature("link too long")
        payload, _, mac = token.rpartition(".")
        if not hmac.compare_digest(mac.encode(), self._mac(payload).encode()):
            raise BadSignature("bad signature")
        user, kind, target, expires = payload.split(".")
        grant = MediaGrant(int(user), MediaKind(kind), int(target), int(expires))
        if grant.expires_s < (time.time() if now is None else now):
            raise LinkExpired(grant)
        return grant

    def _mac(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(digest).decode()
