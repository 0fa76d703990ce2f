"""Secrets at rest (camera passwords, TOTP secrets): Fernet under one installation key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    """Encrypts and decrypts small secrets with the installation's key."""

    def __init__(self, key: str) -> None:
        # Any passphrase works: it is stretched to the 32 bytes Fernet wants.
        digest = hashlib.sha256(key.encode()).digest()
        self._root = digest
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    @classmethod
    def from_key_file(cls, path: Path) -> SecretBox:
        """Use the key in ``path``, creating it (mode 0600) on first use."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(Fernet.generate_key().decode())
        return cls(path.read_text().strip())

    def derive(self, purpose: str) -> bytes:
        """A key of its own for ``purpose`` (e.g. signing links), from the installation's key."""
        return hmac.new(self._root, purpose.encode(), hashlib.sha256).digest()

    def encrypt(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            raise ValueError("secret was encrypted with another key") from None
