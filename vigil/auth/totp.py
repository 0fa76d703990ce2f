"""Second factor: TOTP (RFC 6238, what authenticator apps do) and single-use recovery codes."""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
import time

import pyotp
import segno

STEP_SECONDS = 30
CODE_DIGITS = 6
# Lowercase RFC 4648 base32: no 0/1/8/9, so nothing to confuse with o, l or b.
RECOVERY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
RECOVERY_LENGTH = 16  # 16 x 5 bits = 80 bits
RECOVERY_GROUP = 4


def new_secret() -> str:
    """A new random TOTP secret: 32 base32 characters, 160 bits (RFC 4226's recommendation)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, account: str, issuer: str = "Vigil") -> str:
    """The ``otpauth://totp/...`` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """``uri`` as a QR code: an ``<svg>`` element, black on white, 4 px a module."""
    out = io.BytesIO()
    # White background: a transparent code on a dark page does not scan.
    segno.make(uri, error="m").save(out, kind="svg", xmldecl=False, scale=4, light="#fff")
    return out.getvalue().decode("utf-8")


def verify_code(
    secret: str, code: str, *, last_step: int | None, at: float | None = None
) -> int | None:
    """The time step ``code`` is valid for (now ± 1 step, at ``at`` if given), or None.

    None too for a malformed code and for a step at or before ``last_step``, the step of the
    last accepted code: store the step returned, so that no code is accepted twice.
    An invalid ``secret`` raises ValueError: that is a stored value gone bad, not user input.
    """
    code = "".join(code.split())
    if len(code) != CODE_DIGITS or not (code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret, digits=CODE_DIGITS, interval=STEP_SECONDS)
    now = time.time() if at is None else at
    current = int(now // STEP_SECONDS)
    for step in (current - 1, current, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes(count: int = 10) -> list[str]:
    """``count`` different recovery codes like ``abcd-efgh-ijkl-mnop`` (80 bits each)."""
    codes: list[str] = []
    while len(codes) < count:
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        code = "-".join(
            raw[i : i + RECOVERY_GROUP] for i in range(0, RECOVERY_LENGTH, RECOVERY_GROUP)
        )
        if code not in codes:
            codes.append(code)
    return codes


def normalise_recovery_code(code: str) -> str:
    """``code`` as stored: lowercase, without spaces or dashes (as typed, they vary)."""
    return "".join(code.split()).replace("-", "").lower()


def hash_recovery_code(code: str) -> str:
    """SHA-256 (hex) of the normalised code; 80 random bits need no slow hash."""
    return hashlib.sha256(normalise_recovery_code(code).encode()).hexdigest()
