"""The node's own copy of its cameras' configuration, so that it records on while the
application side is away (a node started during an outage has nothing else to go by).

One file, rewritten whole at each change: the list is small (a node has tens of cameras,
not thousands) and a single file cannot be caught half old, half new. It holds camera
passwords, so it is encrypted as a whole (Fernet: a damaged or tampered file fails its MAC
and reads as no copy, never as a wrong one); nothing of it is on disk in clear, not even in
the temporary file it is written through.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from pydantic import TypeAdapter

from vigil.link.messages import CameraConfig
from vigil.secrets import SecretBox

log = logging.getLogger(__name__)

# In the node's state folder: the copy, and the node's own key when its caller gives none.
COPY_FILE = "cameras.json.enc"
NODE_KEY_FILE = "node.key"

_CONFIGS = TypeAdapter(list[CameraConfig])


def node_box(state_dir: Path) -> SecretBox:
    """The node's own key (``node.key`` in its state folder, mode 0600, made on first use):
    for a node whose caller has no installation key to give it."""
    return SecretBox.from_key_file(state_dir / NODE_KEY_FILE)


class ConfigCopy:
    """The cameras a node last ran, encrypted at rest in ``state_dir/cameras.json.enc``."""

    def __init__(self, state_dir: Path, box: SecretBox) -> None:
        self.path = state_dir / COPY_FILE
        self._box = box
        state_dir.mkdir(parents=True, exist_ok=True)

    def load(self) -> list[CameraConfig]:
        """The cameras saved last; none if there is no copy, or one this node cannot read
        (damaged, another key, written by a newer version): said once, loudly, not raised,
        since a node that cannot read its copy should still serve what it is told later."""
        try:
            token = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            return self._unreadable(f"cannot be read: {exc.strerror}")
        try:
            text = self._box.decrypt(token)
        except ValueError:
            return self._unreadable("is damaged or was encrypted with another key")
        try:
            return _CONFIGS.validate_python(json.loads(text)["cameras"])
        except (ValueError, KeyError, TypeError):  # ValidationError is a ValueError
            # Not the exception's text: a validation error quotes the values, passwords too.
            return self._unreadable("does not hold a camera list this version reads")

    def save(self, configs: Iterable[CameraConfig]) -> None:
        """Replace the copy with ``configs``, atomically: after a crash or power cut the
        file is the old list or the new one, whole."""
        cameras = sorted(configs, key=lambda c: c.id)
        text = json.dumps({"cameras": _CONFIGS.dump_python(cameras, mode="json")})
        token = self._box.encrypt(text)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(token)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(self.path)
        _sync_dir(self.path.parent)  # the rename itself survives a power cut

    def _unreadable(self, why: str) -> list[CameraConfig]:
        log.error(
            "the node's copy of its camera configuration (%s) %s: it is ignored, and the node "
            "records only what the application server sends once it is reachable",
            self.path,
            why,
        )
        return []


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
