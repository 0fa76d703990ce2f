"""Secrets at rest (camera passwords): Fernet (AES-128-CBC + HMAC-SHA256) under one key."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    """Encrypts and decrypts small secrets with the installation's key."""

    def __init__(self, key: str) -> None:
        # Any passphrase works: it is stretched to the 32 bytes Fernet wants.
        digest = hashlib.sha256(key.encode()).digest()
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

    def encrypt(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            raise ValueError("secret was encrypted with another key") from None
