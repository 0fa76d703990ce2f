"""A small school library for the browser tests of search and sharing: pictures (each one
different, the library keeps one item per file) and a short video, saved as an editor saves
them, processed before the test looks."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw

from tests.conftest import TEST_ORG
from tests.library.media_samples import slow_start_mp4
from vigil.app import Services
from vigil.auth.principal import Via
from vigil.library.service import NewItem, Viewer
from vigil.store.models import LibraryEvent, User
from vigil.timeutil import now_ms


def picture(n: int) -> bytes:
    """A 480x360 JPEG of its own: a colour and a number of stripes from ``n``."""
    hue = (n * 67) % 255
    image = Image.new("RGB", (480, 360), (hue, 120, 255 - hue))
    draw = ImageDraw.Draw(image)
    for stripe in range(n + 1):
        draw.rectangle((20 + stripe * 30, 40, 35 + stripe * 30, 320), fill=(250, 250, 250))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


class Shelf:
    """Adds library events and items for ``editor``."""

    def __init__(self, services: Services, editor: User, tmp_path: Path) -> None:
        self.services = services
        self.editor = editor
        self.tmp_path = tmp_path
        self.count = 0

    async def viewer(self) -> Viewer:
        principal = await self.services.auth.user_principal(self.editor.id, Via.SESSION)
        assert principal is not None
        return await self.services.library.viewer(principal)

    async def event(self, name: str, group_ids: list[int] | None = None) -> int:
        event = LibraryEvent(
            org_id=TEST_ORG, name=name, start_ms=now_ms(), group_ids=group_ids or [],
            created_at=now_ms(), updated_at=now_ms(),
        )  # fmt: skip
        await self.services.library.store.add(event)
        return event.id

    async def picture(self, title: str, **fields: object) -> int:
        """A picture; ``fields`` as NewItem has them (tags, labels, event_id, camera_id...)."""
        self.count += 1
        new = NewItem(
            source=str(fields.pop("source", "upload")),
            filename=f"{title}.jpg",
            mime="image/jpeg",
            title=title,
            **fields,  # type: ignore[arg-type]
        )
        item = await self.services.library.save_picture(
            await self.viewer(), picture(self.count), new
        )
        await self.services.library.idle()
        return item.id

    async def video(self, title: str, seconds: float = 4.0, **fields: object) -> int:
        path = slow_start_mp4(self.tmp_path / f"{title}.mp4", seconds=seconds)
        new = NewItem(
            source="upload",
            filename=path.name,
            mime="video/mp4",
            title=title,
            **fields,  # type: ignore[arg-type]
        )
        item = await self.services.library.save_copy(await self.viewer(), path, new)
        await self.services.library.idle()
        return item.id
