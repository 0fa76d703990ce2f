"""Command line: ``vigil serve | demo | sim | migrate | config check``."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from vigil.settings import ConfigError, Settings, load_settings
from vigil.store.database import DatabaseUnavailable

cli = typer.Typer(no_args_is_help=True, add_completion=False, help="Vigil video management system.")
config_cli = typer.Typer(no_args_is_help=True, help="Check configuration files.")
cli.add_typer(config_cli, name="config")
export_cli = typer.Typer(no_args_is_help=True, help="Check exported clips.")
cli.add_typer(export_cli, name="export")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML settings file", dir_okay=False)
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def _settings(config: Path | None, **overrides: object) -> Settings:
    try:
        return load_settings(config, **overrides)
    except ConfigError as exc:
        for problem in exc.problems:
            typer.secho(f"{exc.source}: {problem}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )


@cli.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the application server and a media node in one process."""
    from vigil.server import run_server

    _logging(verbose)
    settings = _settings(config)
    if host is not None:
        settings.server.host = host
    if port is not None:
        settings.server.port = port
    try:
        asyncio.run(run_server(settings))
    except DatabaseUnavailable as exc:
        raise _fail(str(exc)) from None


@cli.command()
def demo(
    data_dir: Annotated[Path, typer.Option(help="where the demo keeps its data")] = Path(
        "vigil-demo"
    ),
    port: Annotated[int, typer.Option(help="HTTP port")] = 8000,
    cameras: Annotated[int, typer.Option(min=1, max=64, help="simulated cameras")] = 4,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Serve with simulated cameras recording, on SQLite in DATA_DIR; ready in seconds."""
    from vigil.demo import run_demo

    _logging(verbose)
    settings = _settings(None, data_dir=data_dir)
    settings.server.port = port
    try:
        asyncio.run(run_demo(settings, cameras))
    except DatabaseUnavailable as exc:
        raise _fail(str(exc)) from None


@cli.command()
def sim(
    cameras: Annotated[int, typer.Option(min=1, max=500, help="number of cameras")] = 4,
    port: Annotated[int, typer.Option(help="RTSP port")] = 8554,
    width: Annotated[int, typer.Option(min=16)] = 1280,
    height: Annotated[int, typer.Option(min=16)] = 720,
    fps: Annotated[int, typer.Option(min=1, max=120)] = 15,
    bitrate: Annotated[int, typer.Option(min=50, help="kbit/s")] = 2000,
    audio: Annotated[bool, typer.Option("--audio/--no-audio")] = True,
    control_port: Annotated[int | None, typer.Option(help="HTTP control port")] = None,
    auth: Annotated[str | None, typer.Option(help="require USER:PASS")] = None,
) -> None:
    """Serve looping simulated RTSP cameras on 127.0.0.1; prints one URL per line."""
    from vigil.sim.runner import SimulatorUnavailable, run_sim

    try:
        run_sim(cameras, port, width, height, fps, bitrate, audio, control_port, auth)
    except SimulatorUnavailable as exc:
        raise _fail(str(exc)) from None


@cli.command()
def migrate(config: ConfigOption = None) -> None:
    """Bring the database to the newest schema."""
    from vigil.app import open_database

    settings = _settings(config)

    async def run() -> None:
        db = await open_database(settings)
        await db.close()

    try:
        asyncio.run(run())
    except DatabaseUnavailable as exc:
        raise _fail(str(exc)) from None
    typer.echo("database is at the newest schema")


@config_cli.command("check")
def config_check(
    file: Annotated[Path, typer.Argument(help="TOML settings file", dir_okay=False)],
) -> None:
    """Report every error in FILE (and VIGIL_* variables), each with its key."""
    try:
        load_settings(file)
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(f"{exc.source}: {problem}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{file}: ok")


@export_cli.command("verify")
def export_verify(
    folder: Annotated[Path, typer.Argument(help="an export's folder", file_okay=False)],
) -> None:
    """Re-hash an export: exit 0 if the manifest and every file are intact, else name each
    mismatch and exit 1."""
    from vigil.exports.manifest import verify

    manifest, mismatches = verify(folder)
    for mismatch in mismatches:
        typer.secho(f"MISMATCH {mismatch}", fg=typer.colors.RED, err=True)
    if mismatches or manifest is None:
        raise typer.Exit(1)
    for entry in manifest.files:
        typer.echo(f"{entry.name}: OK ({entry.sha256})")
    typer.echo(f"export {manifest.export_id}: manifest and {len(manifest.files)} files intact")


def main() -> None:
    sys.exit(cli())
