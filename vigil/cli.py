"""Command line: ``vigil serve | demo | app | node | bus | nodes | sim | migrate | ...``."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, TypeVar

import typer

from vigil import allocator, logs
from vigil.settings import ConfigError, Settings, load_settings
from vigil.store.database import DatabaseUnavailable

if TYPE_CHECKING:
    from vigil.nodes.admin import NodeAdmin

_T = TypeVar("_T")

cli = typer.Typer(no_args_is_help=True, add_completion=False, help="Vigil video management system.")
config_cli = typer.Typer(no_args_is_help=True, help="Check configuration files.")
cli.add_typer(config_cli, name="config")
export_cli = typer.Typer(no_args_is_help=True, help="Check exported clips.")
cli.add_typer(export_cli, name="export")
users_cli = typer.Typer(no_args_is_help=True, help="Manage the people who sign in.")
cli.add_typer(users_cli, name="users")
plans_cli = typer.Typer(no_args_is_help=True, help="Plans: what an organisation may store.")
cli.add_typer(plans_cli, name="plans")
nodes_cli = typer.Typer(no_args_is_help=True, help="Media nodes: list, drain, forget.")
cli.add_typer(nodes_cli, name="nodes")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML settings file", dir_okay=False)
]
HostOption = Annotated[str | None, typer.Option(help="address to listen on")]
PortOption = Annotated[int | None, typer.Option(help="port to listen on")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="log at debug level too")]


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


def _listening(settings: Settings, host: str | None, port: int | None) -> Settings:
    """``settings`` with the address the command line gives, if it gives one."""
    if host is not None:
        settings.server.host = host
    if port is not None:
        settings.server.port = port
    return settings


def _begin(verbose: bool) -> None:
    """What a long-running command does first: its logging, and the C allocator tuned
    before any thread has an arena of its own (see vigil.allocator)."""
    logs.configure(verbose)
    allocator.tune()


@cli.command()
def serve(
    config: ConfigOption = None,
    host: HostOption = None,
    port: PortOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Run the application server and a media node in one process."""
    from vigil.media.ffmpeg import FfmpegUnusable
    from vigil.server import run_server

    _begin(verbose)
    settings = _listening(_settings(config), host, port)
    try:
        asyncio.run(run_server(settings))
    except (DatabaseUnavailable, FfmpegUnusable) as exc:
        raise _fail(str(exc)) from None


@cli.command()
def demo(
    data_dir: Annotated[Path, typer.Option(help="where the demo keeps its data")] = Path(
        "vigil-demo"
    ),
    port: Annotated[int, typer.Option(help="HTTP port")] = 8000,
    cameras: Annotated[int, typer.Option(min=1, max=64, help="simulated cameras")] = 4,
    verbose: VerboseOption = False,
) -> None:
    """Serve with simulated cameras recording, on SQLite in DATA_DIR; ready in seconds."""
    from vigil.demo import run_demo
    from vigil.media.ffmpeg import FfmpegUnusable

    _begin(verbose)
    settings = _settings(None, data_dir=data_dir)
    settings.server.port = port
    try:
        asyncio.run(run_demo(settings, cameras))
    except (DatabaseUnavailable, FfmpegUnusable) as exc:
        raise _fail(str(exc)) from None


@cli.command()
def app(
    config: ConfigOption = None,
    host: HostOption = None,
    port: PortOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Run the application server alone: its media nodes join it over the bus."""
    from vigil.link.nats.processes import BusNotConfigured, run_app
    from vigil.link.protocol import LinkUnavailable

    _begin(verbose)
    settings = _listening(_settings(config), host, port)
    try:
        asyncio.run(run_app(settings))
    except (DatabaseUnavailable, BusNotConfigured, LinkUnavailable) as exc:
        raise _fail(str(exc)) from None


@cli.command()
def node(
    config: ConfigOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Run a media node alone: it dials the bus and listens on no port."""
    from vigil.link.nats.processes import BusNotConfigured, run_node
    from vigil.link.protocol import LinkUnavailable
    from vigil.media.ffmpeg import FfmpegUnusable

    _begin(verbose)
    settings = _settings(config)
    try:
        asyncio.run(run_node(settings))
    except (BusNotConfigured, LinkUnavailable, FfmpegUnusable) as exc:
        raise _fail(str(exc)) from None


@cli.command()
def bus(
    config: ConfigOption = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 4222,
    verbose: VerboseOption = False,
) -> None:
    """Run a NATS server for the application and the nodes in bus.node_passwords."""
    from vigil.link.nats.embedded import NatsServerMissing
    from vigil.link.nats.processes import BusNotConfigured, run_bus

    _begin(verbose)
    settings = _settings(config)
    try:
        asyncio.run(run_bus(settings, settings.state_dir / "bus", host, port))
    except (BusNotConfigured, NatsServerMissing, ValueError, RuntimeError) as exc:
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
    scene: Annotated[
        Literal["test", "walker"],
        typer.Option(help="test pattern, or a person walking across at 2-8 s of each minute"),
    ] = "test",
    codec: Annotated[
        Literal["h264", "h265"], typer.Option(help="video codec the cameras send")
    ] = "h264",
) -> None:
    """Serve looping simulated RTSP cameras on 127.0.0.1; prints one URL per line."""
    from vigil.sim.runner import SimulatorUnavailable, run_sim

    try:
        run_sim(cameras, port, width, height, fps, bitrate, audio, control_port, auth, scene, codec)
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


DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="data folder (overrides the settings)")
]


def _users_settings(config: Path | None, data_dir: Path | None) -> Settings:
    settings = _settings(config, **({"data_dir": data_dir} if data_dir is not None else {}))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


@users_cli.command("create-admin")
def users_create_admin(
    username: Annotated[str, typer.Option(help="the admin's sign-in name")],
    org: Annotated[str, typer.Option(help="organisation, made if missing")] = "My organisation",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from one line of stdin")
    ] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create an admin (and their organisation if needed): the way in when nobody can sign in."""
    from pydantic import TypeAdapter, ValidationError

    from vigil.api.people_schemas import OrgName, Username
    from vigil.app import open_database, secret_box
    from vigil.auth.passwords import WeakPassword, check_password
    from vigil.auth.service import AuthService
    from vigil.store.audit import Actor
    from vigil.store.users import DuplicateName

    checked: dict[str, str] = {}
    for name, kind, value in (("username", Username, username), ("org", OrgName, org)):
        try:
            checked[name] = TypeAdapter(kind).validate_python(value)
        except ValidationError as exc:
            raise _fail(f"{name}: {exc.errors()[0]['msg']}") from None
    username, org = checked["username"], checked["org"]
    settings = _users_settings(config, data_dir)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        check_password(password, username=username, min_length=settings.auth.min_password_length)
    except WeakPassword as exc:
        raise _fail(str(exc)) from None

    async def run() -> str:
        db = await open_database(settings)
        try:
            auth = AuthService(settings.auth, db, secret_box(settings))
            user = await auth.create_admin(org, username, password)
            await auth.audit.record(
                Actor(), "user.create", target=f"user:{user.id}", org_id=user.org_id,
                role=user.role, via="cli",
            )  # fmt: skip
            return (await auth.users.org(user.org_id)).name
        finally:
            await db.close()

    try:
        org_name = asyncio.run(run())
    except WeakPassword as exc:
        raise _fail(str(exc)) from None
    except DuplicateName as exc:
        raise _fail(
            f"a {exc.kind} named {exc.name!r} already exists (names ignore case)", 1
        ) from None
    except DatabaseUnavailable as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"admin {username} created in organisation {org_name}")


@users_cli.command("list")
def users_list(
    org: Annotated[str | None, typer.Option(help="only this organisation")] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Print each user: username, role and organisation (disabled ones say so)."""
    from vigil.app import open_database
    from vigil.store.users import UserStore

    settings = _users_settings(config, data_dir)

    async def run() -> list[str]:
        db = await open_database(settings)
        try:
            store = UserStore(db)
            lines = []
            for each in await store.orgs():
                if org is not None and each.name.casefold() != org.casefold():
                    continue
                for user in await store.of_org(each.id):
                    state = " (disabled)" if user.disabled else ""
                    lines.append(f"{user.username}\t{user.role}\t{each.name}{state}")
            return lines
        finally:
            await db.close()

    try:
        lines = asyncio.run(run())
    except DatabaseUnavailable as exc:
        raise _fail(str(exc)) from None
    for line in lines:
        typer.echo(line)


NodeName = Annotated[str, typer.Argument(help="the node's name (node.name)")]


def _with_nodes(config: Path | None, job: Callable[[NodeAdmin], Awaitable[_T]]) -> _T:
    """Run ``job`` with the nodes' administration; its refusals and an unreachable
    database or bus end the command with their reason."""
    from vigil.app import open_database, secret_box
    from vigil.link.protocol import LinkUnavailable
    from vigil.nodes.admin import NodeAdmin, NodeRefused
    from vigil.store.cameras import CameraStore
    from vigil.store.nodes import NodeStore
    from vigil.store.segments import SegmentIndex

    settings = _settings(config)

    async def run() -> _T:
        db = await open_database(settings)
        try:
            cameras = CameraStore(db, secret_box(settings))
            return await job(NodeAdmin(settings, cameras, SegmentIndex(db), NodeStore(db)))
        finally:
            await db.close()

    try:
        return asyncio.run(run())
    except (DatabaseUnavailable, LinkUnavailable, NodeRefused, ValueError) as exc:
        raise _fail(str(exc)) from None


@nodes_cli.command("list")
def nodes_list(config: ConfigOption = None) -> None:
    """Print each media node: state, cameras assigned and recording, room, disk, footage."""
    views = _with_nodes(config, lambda admin: admin.list())
    rows = [("NODE", "STATE", "CAMERAS", "RECORDING", "CAPACITY", "DISK FREE", "FOOTAGE", "BEAT")]
    for view in views:
        beat = view.beat
        rows.append(
            (
                view.name,
                view.state,
                str(view.cameras),
                "-" if beat is None else str(len(beat.cameras)),
                "-" if beat is None else str(beat.capacity),
                "-" if beat is None else f"{beat.disk_free / 2**30:.1f} GiB",
                f"{view.segments} ({view.footage_bytes / 2**30:.1f} GiB)",
                "-" if view.beat_age_seconds is None else f"{view.beat_age_seconds:.0f} s ago",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        typer.echo("  ".join(cells).rstrip())


@nodes_cli.command("drain")
def nodes_drain(
    name: NodeName,
    undo: Annotated[bool, typer.Option("--undo", help="take cameras again")] = False,
    config: ConfigOption = None,
) -> None:
    """Move a node's cameras off it, each recorded by its new node before the old one
    stops, and give it no new ones (for maintenance, or before taking it away)."""
    view = _with_nodes(config, lambda admin: admin.drain(name, not undo))
    if undo:
        typer.echo(f"node {name} takes cameras again; cameras pinned to it come back")
    else:
        typer.echo(
            f"node {name} is draining: the leading application hands its {view.cameras} "
            "camera(s) over to nodes with room, a few at a time (vigil nodes list shows "
            "them go)"
        )


@nodes_cli.command("forget")
def nodes_forget(
    name: NodeName,
    footage: Annotated[
        bool, typer.Option("--footage", help="also forget the footage it recorded")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Forget a node that is gone for good (refused while it is alive or has cameras)."""
    forgotten = _with_nodes(config, lambda admin: admin.forget(name, footage))
    typer.echo(f"node {name} forgotten, with {forgotten} segment(s) of footage")


@plans_cli.command("set")
def plans_set(
    org: Annotated[str, typer.Argument(help="the organisation's name")],
    plan: Annotated[str, typer.Option(help="the plan's name, made or changed")],
    storage_gb: Annotated[
        float | None, typer.Option(min=0, help="storage for library and recordings")
    ] = None,
    cameras: Annotated[int | None, typer.Option(min=0)] = None,
    users: Annotated[int | None, typer.Option(min=0)] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Put an organisation on a plan with these limits (left out: no limit)."""
    from sqlalchemy import select

    from vigil.app import open_database
    from vigil.store.library import LibraryStore
    from vigil.store.models import Plan
    from vigil.store.users import UserStore
    from vigil.timeutil import now_ms

    settings = _users_settings(config, data_dir)
    storage = round(storage_gb * 1e9) if storage_gb is not None else None

    async def run() -> str | None:
        db = await open_database(settings)
        try:
            found = [o for o in await UserStore(db).orgs() if o.name.casefold() == org.casefold()]
            if not found:
                return None
            async with db.write() as session:
                row = await session.scalar(select(Plan).where(Plan.name == plan))
                if row is None:
                    row = Plan(name=plan, created_at=now_ms())
                    session.add(row)
                row.storage_bytes, row.max_cameras, row.max_users = storage, cameras, users
            await LibraryStore(db).set_plan(found[0].id, row.id)
            return found[0].name
        finally:
            await db.close()

    try:
        name = asyncio.run(run())
    except DatabaseUnavailable as exc:
        raise _fail(str(exc)) from None
    if name is None:
        raise _fail(f"no organisation named {org!r}")
    limit = f"{storage_gb:g} GB" if storage_gb is not None else "no storage limit"
    typer.echo(f"{name} is on plan {plan} ({limit})")


def main() -> None:
    sys.exit(cli())
