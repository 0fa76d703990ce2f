"""Camera stream URLs as users type them: checked, and with any credentials taken out."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from vigil.node.ffmpeg import SUPPORTED_SCHEMES


@dataclass(frozen=True, slots=True)
class StreamUrl:
    """A URL without credentials, and the credentials it carried (None if it had none)."""

    url: str
    username: str | None
    password: str | None


def printable(text: str) -> bool:
    """True if ``text`` has no control characters (ffmpeg and PostgreSQL refuse NUL)."""
    return not any(ord(ch) < 32 or ord(ch) == 127 for ch in text)


def split_stream_url(text: str) -> StreamUrl:
    """Check a camera URL and separate its ``user:password@`` part.

    Error messages never repeat the URL: it may hold a password.
    """
    if any(ch.isspace() for ch in text) or not printable(text):
        raise ValueError("must not contain spaces or control characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError("is not a valid URL (check the host and port)") from None
    scheme = parts.scheme.lower()
    if scheme not in SUPPORTED_SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(SUPPORTED_SCHEMES)}")
    if not parts.hostname:
        raise ValueError("must name a host")
    userinfo, at, hostport = parts.netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon and secret else None
        if not printable(username or "") or not printable(password or ""):
            raise ValueError("the credentials in it must not contain control characters")
    if port == 0:
        raise ValueError("port must be between 1 and 65535")
    url = urlunsplit((scheme, hostport, parts.path, parts.query, parts.fragment))
    return StreamUrl(url, username, password)
