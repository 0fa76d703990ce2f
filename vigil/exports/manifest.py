"""The chain-of-custody manifest of an export, and checking an export folder against it.

An export folder holds the MP4 files, ``manifest.json``, ``manifest.json.sha256`` (the
manifest's SHA-256 in ``sha256sum`` format) and ``SHA256SUMS`` (every MP4's SHA-256, same
format), so ``sha256sum -c`` verifies it on any machine without Vigil.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

MANIFEST = "manifest.json"
MANIFEST_SHA256 = "manifest.json.sha256"
SHA256SUMS = "SHA256SUMS"
CUSTODY_FILES = (MANIFEST, MANIFEST_SHA256, SHA256SUMS)
_CHUNK = 1 << 20


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceSegment(Record):
    """A recorded segment the file was cut from."""

    storage_key: str
    start: str
    end: str
    size: int
    sha256: str


class Gap(Record):
    start: str
    end: str


class ExportedFile(Record):
    """One camera's part of an export."""

    camera_id: int
    camera_name: str
    name: str
    size: int
    sha256: str
    first_instant: str
    last_instant: str
    re_encoded: bool
    sources: list[SourceSegment]
    gaps: list[Gap]


class Manifest(Record):
    manifest_version: int = 1
    export_id: int
    title: str | None
    requested_start: str
    requested_end: str
    exported_by: str
    exported_at: str
    burn_in: bool
    vigil_version: str
    ffmpeg_version: str
    files: list[ExportedFile]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sum_line(digest: str, name: str) -> str:
    # sha256sum's text-mode line: two spaces between the hash and the name.
    return f"{digest}  {name}\n"


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_manifest(folder: Path, manifest: Manifest) -> str:
    """Write the manifest, its hash and the files' hash list; return the manifest's SHA-256."""
    body = (json.dumps(manifest.model_dump(), indent=2, ensure_ascii=False) + "\n").encode()
    digest = hashlib.sha256(body).hexdigest()
    sums = "".join(_sum_line(f.sha256, f.name) for f in manifest.files)
    _write_atomic(folder / SHA256SUMS, sums.encode())
    _write_atomic(folder / MANIFEST, body)
    _write_atomic(folder / MANIFEST_SHA256, _sum_line(digest, MANIFEST).encode())
    return digest


@dataclass(frozen=True, slots=True)
class Mismatch:
    """Something in an export folder that does not match its record."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


def _read_sums(path: Path) -> dict[str, str]:
    sums: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        digest, sep, name = line.partition("  ")
        if sep:
            sums[name.removeprefix("*")] = digest.lower()
    return sums


def _check_file(folder: Path, name: str, sha256: str, size: int | None) -> Mismatch | None:
    if "/" in name or "\\" in name or name in ("", ".", ".."):
        return Mismatch(name, "not a plain file name")
    path = folder / name
    if not path.is_file():
        return Mismatch(name, "missing")
    if size is not None and path.stat().st_size != size:
        return Mismatch(name, f"size is {path.stat().st_size} bytes, the manifest says {size}")
    if sha256_file(path) != sha256:
        return Mismatch(name, "SHA-256 differs: the file has been changed")
    return None


def verify(folder: Path) -> tuple[Manifest | None, list[Mismatch]]:
    """Re-hash an export folder: the manifest against its hash, each file against the manifest
    and against ``SHA256SUMS``. Returns the manifest (if readable) and every mismatch."""
    problems: list[Mismatch] = []
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        return None, [Mismatch(MANIFEST, "missing")]
    body = manifest_path.read_bytes()
    recorded = folder / MANIFEST_SHA256
    if not recorded.is_file():
        problems.append(Mismatch(MANIFEST_SHA256, "missing"))
    elif _read_sums(recorded).get(MANIFEST) != hashlib.sha256(body).hexdigest():
        problems.append(Mismatch(MANIFEST, "SHA-256 differs from manifest.json.sha256"))
    try:
        manifest = Manifest.model_validate_json(body)
    except ValidationError:
        return None, [*problems, Mismatch(MANIFEST, "not a Vigil export manifest")]
    sums_path = folder / SHA256SUMS
    sums = _read_sums(sums_path) if sums_path.is_file() else None
    if sums is None:
        problems.append(Mismatch(SHA256SUMS, "missing"))
    for entry in manifest.files:
        mismatch = _check_file(folder, entry.name, entry.sha256, entry.size)
        if mismatch is not None:
            problems.append(mismatch)
        if sums is not None and sums.get(entry.name) != entry.sha256:
            problems.append(Mismatch(SHA256SUMS, f"the entry for {entry.name} differs"))
    return manifest, problems
