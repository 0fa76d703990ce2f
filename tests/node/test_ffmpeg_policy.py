"""Which ffmpeg Vigil runs: the configured one if recent enough, else the static build in the
imageio-ffmpeg wheel, else ffmpeg on PATH if recent enough; the same on every machine."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.cli import cli
from vigil.media.ffmpeg import FfmpegUnusable, ffmpeg_version, find_ffmpeg

DEBIAN_12 = "ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026 the FFmpeg developers"


def fake_ffmpeg(folder: Path, banner: str) -> Path:
    """An ``ffmpeg`` that answers ``-version`` as the one named in ``banner`` would."""
    folder.mkdir(parents=True, exist_ok=True)
    binary = folder / "ffmpeg"
    binary.write_text(f"#!/bin/sh\necho '{banner}'\necho 'built with gcc 12'\n")
    binary.chmod(0o755)
    return binary


@pytest.fixture(autouse=True)
def fresh_lookup() -> Iterator[None]:
    find_ffmpeg.cache_clear()
    yield
    find_ffmpeg.cache_clear()


def test_an_old_ffmpeg_on_path_is_passed_over_for_the_wheels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Debian 12's `apt install ffmpeg` (5.1) on PATH changes nothing."""
    fake_ffmpeg(tmp_path / "bin", DEBIAN_12)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    chosen = find_ffmpeg()
    assert "imageio_ffmpeg" in chosen
    version = ffmpeg_version(chosen)
    assert version is not None
    assert version >= (6, 0)


@pytest.mark.parametrize(
    ("banner", "version"),
    [
        (DEBIAN_12, (5, 1)),
        ("ffmpeg version n9.0.2-17-g2a571b6068-20260930 Copyright (c) 2000-2026", (9, 0)),
        ("ffmpeg version 7.1.1-1+b1 Copyright (c) 2000-2025 the FFmpeg developers", (7, 1)),
        ("ffmpeg version N-118745-g1a2b3c4d5e Copyright (c) 2000-2026", None),
    ],
)
def test_versions_are_read_from_the_banner(
    tmp_path: Path, banner: str, version: tuple[int, int] | None
) -> None:
    assert ffmpeg_version(str(fake_ffmpeg(tmp_path, banner))) == version


def test_a_configured_ffmpeg_must_be_recent_enough(tmp_path: Path) -> None:
    old = fake_ffmpeg(tmp_path / "old", DEBIAN_12)
    with pytest.raises(FfmpegUnusable, match=r"is ffmpeg 5\.1; Vigil needs 6\.0 or newer"):
        find_ffmpeg(str(old))
    new = fake_ffmpeg(tmp_path / "new", "ffmpeg version 7.1.1 Copyright (c) 2000-2025")
    assert find_ffmpeg(str(new)) == str(new)
    git = fake_ffmpeg(tmp_path / "git", "ffmpeg version N-118745-g1a2b3c4d5e Copyright")
    assert find_ffmpeg(str(git)) == str(git)
    with pytest.raises(FfmpegUnusable, match="cannot run it"):
        find_ffmpeg(str(tmp_path / "missing" / "ffmpeg"))
    other = tmp_path / "other" / "ffmpeg"
    other.parent.mkdir()
    other.write_text("#!/bin/sh\necho 'hello'\n")
    other.chmod(0o755)
    with pytest.raises(FfmpegUnusable, match="not an ffmpeg binary"):
        find_ffmpeg(str(other))


def test_without_the_wheels_build_path_is_used_only_if_recent_enough(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # import fails: no build here
    fake_ffmpeg(tmp_path / "bin", DEBIAN_12)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(FfmpegUnusable, match=r"ffmpeg 5\.1; Vigil needs 6\.0.*node\.ffmpeg"):
        find_ffmpeg()
    find_ffmpeg.cache_clear()
    newer = fake_ffmpeg(tmp_path / "bin", "ffmpeg version 6.1.1-3ubuntu5 Copyright (c) 2000")
    assert find_ffmpeg() == str(newer)
    find_ffmpeg.cache_clear()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(FfmpegUnusable, match="no ffmpeg"):
        find_ffmpeg()


def test_vigil_serve_names_a_configured_ffmpeg_that_is_too_old(tmp_path: Path) -> None:
    old = fake_ffmpeg(tmp_path / "old", DEBIAN_12)
    config = tmp_path / "vigil.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[node]\nffmpeg = "{old}"\n')
    result = CliRunner().invoke(cli, ["serve", "--config", str(config), "--port", "0"])
    assert result.exit_code == 2, result.output
    assert f"node.ffmpeg: {old} is ffmpeg 5.1; Vigil needs 6.0 or newer" in result.output
