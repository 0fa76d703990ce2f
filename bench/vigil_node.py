"""Vigil for the recording benchmark: ``vigil serve`` in a process of its own, driven by stdin.

The services start for real (SQLite in ``--data-dir``, the media node, and unless ``--no-http``
the HTTP API on a free port), so the measuring process sees exactly what a user runs.
One JSON object a line goes to stdout; logs go to stderr::

    -> {"event": "started", ...}      services up, no camera yet (the idle figure); where
                                      the database and the recordings are, the HTTP port
    <- "record"                       one camera per URL is created
    -> {"event": "recording", ...}    every camera created (their ids and creation times)
    <- end of stdin                   the services stop, recorders finish their segments
    -> {"event": "stopped", ...}      the stop instant and each camera's last status
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from vigil.app import Services, start_services, stop_services
from vigil.settings import Settings
from vigil.store.cameras import CameraFields
from vigil.timeutil import now_ms


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


async def read_stdin_line() -> str:
    return await asyncio.to_thread(sys.stdin.readline)


async def wait_stdin_closed() -> None:
    await asyncio.to_thread(sys.stdin.read)


@contextlib.asynccontextmanager
async def http_server(services: Services, enabled: bool) -> AsyncIterator[int | None]:
    """The API that ``vigil serve`` runs around the services, on a free port (yielded)."""
    if not enabled:
        yield None
        return
    import uvicorn

    from vigil.api.app import create_app
    from vigil.server import HttpServer

    config = uvicorn.Config(
        create_app(services.settings, services),
        host="127.0.0.1",
        port=0,
        log_config=None,
        access_log=False,
        ws_per_message_deflate=False,  # as vigil serve: video does not compress
    )
    server = HttpServer(config)  # as vigil serve's
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():
        await asyncio.sleep(0.05)
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1]) if server.started else None
    finally:
        server.stop()
        await task


async def create_cameras(
    services: Services, urls: list[str], segment_seconds: float
) -> list[dict[str, Any]]:
    users = services.auth.users
    org = await users.org_named("Bench") or await users.create_org("Bench")
    created = []
    for number, url in enumerate(urls, start=1):
        fields = CameraFields(name=f"bench-{number}", main_url=url, segment_seconds=segment_seconds)
        camera = await services.cameras.create(fields, org_id=org.id)
        created.append({"id": camera.id, "name": camera.name, "url": url, "created_ms": now_ms()})
    return created


def statuses(services: Services, camera_ids: list[int]) -> list[dict[str, Any]]:
    return [services.nodes.status(cid).model_dump(mode="json") for cid in camera_ids]


async def run(args: argparse.Namespace) -> None:
    settings = Settings(data_dir=args.data_dir)
    services = await start_services(settings)
    try:
        async with http_server(services, args.http) as port:
            emit(
                "started",
                database_url=settings.database_url,
                recordings_dir=str(settings.recordings_dir.resolve()),
                http_port=port,
            )
            if (await read_stdin_line()).strip() != "record":
                return
            cameras = await create_cameras(services, args.urls, args.segment_seconds)
            emit("recording", cameras=cameras)
            await wait_stdin_closed()
            stop_ms = now_ms()
            last = statuses(services, [c["id"] for c in cameras])
    finally:
        await stop_services(services)
    emit("stopped", stop_ms=stop_ms, stopped_ms=now_ms(), statuses=last)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--segment-seconds", type=float, default=10.0)
    parser.add_argument("--no-http", dest="http", action="store_false")
    parser.add_argument("urls", nargs="+")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main()
