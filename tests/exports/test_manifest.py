"""The manifest verifies with sha256sum and with Vigil; every kind of change is named."""

from __future__ import annotations

import subprocess
from pathlib import Path

from vigil.exports.manifest import (
    MANIFEST,
    SHA256SUMS,
    ExportedFile,
    Manifest,
    sha256_file,
    verify,
    write_manifest,
)


def make_export(folder: Path) -> Manifest:
    clip = folder / "camera-1-door-20261122T140000Z.mp4"
    clip.write_bytes(b"\x00not really video\x00" * 100)
    manifest = Manifest(
        export_id=7,
        title="Case 7",
        requested_start="2026-11-22T14:00:00.000Z",
        requested_end="2026-11-22T14:00:30.000Z",
        exported_by="local",
        exported_at="2026-11-22T15:00:00.000Z",
        burn_in=False,
        vigil_version="0.1.0",
        ffmpeg_version="ffmpeg version test",
        files=[
            ExportedFile(
                camera_id=1,
                camera_name="door",
                name=clip.name,
                size=clip.stat().st_size,
                sha256=sha256_file(clip),
                first_instant="2026-11-22T14:00:00.000Z",
                last_instant="2026-11-22T14:00:30.000Z",
                re_encoded=False,
                sources=[],
                gaps=[],
            )
        ],
    )
    write_manifest(folder, manifest)
    return manifest


def test_an_intact_export_verifies_with_sha256sum_and_vigil(tmp_path: Path) -> None:
    manifest = make_export(tmp_path)
    for listing in ("manifest.json.sha256", SHA256SUMS):
        subprocess.run(["sha256sum", "--quiet", "-c", listing], cwd=tmp_path, check=True)
    read, problems = verify(tmp_path)
    assert problems == []
    assert read == manifest


def test_an_edited_manifest_is_named(tmp_path: Path) -> None:
    make_export(tmp_path)
    path = tmp_path / MANIFEST
    path.write_text(path.read_text().replace('"exported_by": "local"', '"exported_by": "eve"'))
    _, problems = verify(tmp_path)
    assert [(p.name, "differs" in p.reason) for p in problems] == [(MANIFEST, True)]


def test_a_missing_or_truncated_file_is_named(tmp_path: Path) -> None:
    manifest = make_export(tmp_path)
    clip = tmp_path / manifest.files[0].name
    clip.write_bytes(clip.read_bytes()[:-1])
    _, problems = verify(tmp_path)
    assert [str(p) for p in problems] == [
        f"{clip.name}: size is {clip.stat().st_size} bytes, the manifest says {clip.stat().st_size + 1}"
    ]
    clip.unlink()
    _, problems = verify(tmp_path)
    assert [str(p) for p in problems] == [f"{clip.name}: missing"]


def test_a_folder_without_a_manifest_fails(tmp_path: Path) -> None:
    manifest, problems = verify(tmp_path)
    assert manifest is None
    assert [str(p) for p in problems] == ["manifest.json: missing"]
