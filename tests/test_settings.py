"""Settings files, environment overrides, and `vigil config check`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.cli import cli
from vigil.settings import ConfigError, load_settings


def test_toml_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "vigil.toml"
    config.write_text(
        'data_dir = "/srv/v"\n[server]\nport = 9001\n[node]\nrtsp_transport = "udp"\n'
    )
    monkeypatch.setenv("VIGIL_NODE__STALL_TIMEOUT_SECONDS", "7.5")
    settings = load_settings(config)
    assert settings.server.port == 9001
    assert settings.node.rtsp_transport == "udp"
    assert settings.node.stall_timeout_seconds == 7.5
    assert settings.recordings_dir == Path("/srv/v/recordings")
    assert settings.database_url == "sqlite+aiosqlite:////srv/v/vigil.db"
    monkeypatch.setenv("VIGIL_SERVER__PORT", "9002")
    assert load_settings(config).server.port == 9002  # the environment wins


def test_every_error_is_reported_with_its_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        '[server]\nport = "eighty"\nbogus = 1\n[node]\nrtsp_transport = "carrier-pigeon"\n'
        "[nosuchsection]\nx = 1\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    keys = [problem.split(":")[0] for problem in caught.value.problems]
    assert keys == ["server.port", "server.bogus", "node.rtsp_transport", "nosuchsection"]


def test_config_check_command(tmp_path: Path) -> None:
    runner = CliRunner()
    good = tmp_path / "good.toml"
    good.write_text("[retention]\nmin_free_bytes = 0\n")
    result = runner.invoke(cli, ["config", "check", str(good)])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output

    bad = tmp_path / "bad.toml"
    bad.write_text("[retention]\nmin_free_bytes = -5\nkeep = 3\n")
    result = runner.invoke(cli, ["config", "check", str(bad)])
    assert result.exit_code == 1
    assert "retention.min_free_bytes" in result.output
    assert "retention.keep" in result.output

    broken = tmp_path / "broken.toml"
    broken.write_text("[server\nport = 1\n")
    result = runner.invoke(cli, ["config", "check", str(broken)])
    assert result.exit_code == 1
    assert "not valid TOML" in result.output

    result = runner.invoke(cli, ["config", "check", str(tmp_path / "missing.toml")])
    assert result.exit_code == 1
    assert "no such file" in result.output


def test_database_that_cannot_connect_is_a_clear_error(tmp_path: Path) -> None:
    runner = CliRunner()
    config = tmp_path / "vigil.toml"
    config.write_text(
        f'data_dir = "{tmp_path}"\n'
        '[database]\nurl = "postgresql://vigil:s3cret-Pa55@127.0.0.1:1/nope"\n'
    )
    result = runner.invoke(cli, ["migrate", "--config", str(config)])
    assert result.exit_code == 2
    assert "cannot connect to postgresql+psycopg://vigil:***@127.0.0.1:1/nope" in result.output
    assert "s3cret-Pa55" not in result.output
