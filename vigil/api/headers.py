"""Security headers on every HTTP answer (pages, API, static files, media): a strict
Content-Security-Policy that the web app lives within, no framing by other sites, no MIME
sniffing, no referrer, and the browser features Vigil never uses turned off. Why each one:
docs/security.md, "Security headers".

A route that sets one of these headers itself keeps its own value. WebSocket handshakes pass
through untouched.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        # Pages carry no inline script or style: everything comes from /static.
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        # The live page feeds its <video> a MediaSource through a blob: URL.
        "media-src 'self' blob:",
        # hls.js starts its transmuxing worker from a blob: URL it makes of its own code.
        "worker-src 'self' blob:",
        # 'self' also allows ws: and wss: to this host (CSP Level 3): the live WebSocket.
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

# Kept: full screen and picture-in-picture for watching cameras, autoplay for live video
# (muted). Everything else is off until a feature needs it (two-way talk: microphone;
# passkeys: publickey-credentials-*). Only features Chromium knows: it warns of others.
PERMISSIONS_POLICY = ", ".join(
    (
        "accelerometer=()",
        "autoplay=(self)",
        "browsing-topics=()",
        "camera=()",
        "clipboard-read=()",
        "display-capture=()",
        "encrypted-media=()",
        "fullscreen=(self)",
        "gamepad=()",
        "geolocation=()",
        "gyroscope=()",
        "hid=()",
        "identity-credentials-get=()",
        "idle-detection=()",
        "local-fonts=()",
        "magnetometer=()",
        "microphone=()",
        "midi=()",
        "otp-credentials=()",
        "payment=()",
        "picture-in-picture=(self)",
        "publickey-credentials-create=()",
        "publickey-credentials-get=()",
        "screen-wake-lock=()",
        "serial=()",
        "usb=()",
        "window-management=()",
        "xr-spatial-tracking=()",
    )
)

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": PERMISSIONS_POLICY,
}

_ENCODED = [
    (name.lower().encode("latin-1"), value.encode("latin-1"))
    for name, value in SECURITY_HEADERS.items()
]


class SecurityHeaders:
    """ASGI middleware adding ``SECURITY_HEADERS`` to every HTTP response that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(item for item in _ENCODED if item[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
