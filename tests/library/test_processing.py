"""Library processing with several application instances on one database: each item is
processed by one of them, an item whose instance died is taken up by another, and an
instance that restarts takes up its own half-done items at once."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.people import make_user
from vigil.app import Services
from vigil.auth.principal import Via
from vigil.library import service as library_module
from vigil.library.search import SearchIndex
from vigil.library.service import LibraryService, NewItem, Viewer
from vigil.library.storage import Tiered
from vigil.settings import Settings
from vigil.store.library import LibraryStore
from vigil.store.models import MediaItem


def jpeg(n: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (n * 40 % 256, 90, 160)).save(out, "JPEG")
    return out.getvalue()


async def no_camera(_: int) -> str | None:
    return None


class Instance:
    """Another application instance's library side, on the same database and storage;
    it counts the items it processes."""

    def __init__(self, services: Services, settings: Settings, runner: str) -> None:
        work = settings.data_dir / f"library-work-{runner}"
        work.mkdir(parents=True, exist_ok=True)  # start() makes it: some are never started
        self.library = LibraryService(
            LibraryStore(services.db),
            Tiered.from_settings(settings.library.storage, settings.data_dir),
            SearchIndex(services.db),
            work,
            no_camera,
            runner=runner,
        )
        self.processed: list[int] = []
        derive = self.library._derive

        async def counted(item: MediaItem, source: Path, folder: Path) -> dict[str, Any]:
            self.processed.append(item.id)
            return await derive(item, source, folder)

        self.library._derive = counted  # type: ignore[method-assign]


@pytest.fixture
async def instances(
    services: Services, settings: Settings
) -> AsyncIterator[Callable[[str], Instance]]:
    made: list[Instance] = []

    def make(runner: str) -> Instance:
        made.append(Instance(services, settings, runner))
        return made[-1]

    yield make
    for instance in made:
        await instance.library.stop()


@pytest.fixture
async def viewer(services: Services) -> Viewer:
    editor = await make_user(services, "editor", "admin")
    principal = await services.auth.user_principal(editor.id, Via.SESSION)
    assert principal is not None
    return await services.library.viewer(principal)


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beats and sweeps a few times a second; silent for a second is abandoned."""
    monkeypatch.setattr(library_module, "_BEAT_S", 0.2)
    monkeypatch.setattr(library_module, "_SWEEP_S", 0.2)
    monkeypatch.setattr(library_module, "_ABANDONED_MS", 1000)


async def picture(library: LibraryService, viewer: Viewer, n: int) -> int:
    new = NewItem(source="upload", filename=f"p{n}.jpg", mime="image/jpeg", title=f"P{n}")
    return (await library.save_picture(viewer, jpeg(n), new)).id


async def until(what: str, check: Callable[[], Awaitable[bool]], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def statuses(services: Services, ids: list[int]) -> list[str]:
    items = await services.library.store.items(ids)
    return [items[i].status for i in ids]


async def test_an_item_is_processed_by_one_instance_while_another_sweeps(
    services: Services, instances: Callable[[str], Instance], viewer: Viewer, quick: None
) -> None:
    first, second = instances("app-1:8000"), instances("app-2:8000")
    await first.library.start()
    await second.library.start()
    ids = [await picture(first.library, viewer, n) for n in range(4)]
    await first.library.idle()
    await asyncio.sleep(0.6)  # the other one swept meanwhile, more than once
    assert await statuses(services, ids) == ["ready"] * 4
    assert (sorted(first.processed), second.processed) == (ids, [])


async def test_an_item_whose_instance_died_is_processed_by_another(
    services: Services, instances: Callable[[str], Instance], viewer: Viewer, quick: None
) -> None:
    dead = instances("app-1:8000")  # takes uploads, never processes them: it died
    ids = [await picture(dead.library, viewer, n) for n in range(2)]
    survivor = instances("app-2:8000")
    await survivor.library.start()
    assert await statuses(services, ids) == ["processing"] * 2  # not while it may live

    async def ready() -> bool:
        return await statuses(services, ids) == ["ready"] * 2

    await until("the survivor processes them", ready)
    assert sorted(survivor.processed) == ids
    assert dead.processed == []


async def test_an_instance_restarted_takes_up_its_own_half_done_items_at_once(
    services: Services, instances: Callable[[str], Instance], viewer: Viewer
) -> None:
    before = instances("app-1:8000")  # stopped before it processed them
    ids = [await picture(before.library, viewer, n) for n in range(2)]
    other = instances("app-2:8000")
    await other.library.start()
    again = instances("app-1:8000")
    await again.library.start()
    await again.library.idle()
    assert await statuses(services, ids) == ["ready"] * 2
    assert (sorted(again.processed), other.processed) == (ids, [])
