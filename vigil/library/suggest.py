"""Suggestions while a search is typed: the tags, detection labels, library events, cameras
and items that the words typed so far could mean, only among what the viewer may see.

A name is suggested when each word typed begins one of its words ("sports da" suggests
"Sports Day 2024"), words read as the search reads them (case and accents folded, see
:func:`vigil.library.search_text.words`). Tags, labels and cameras come from the facets of
the search for the same words (so each carries how many items it would find, and nothing
the viewer may not see is named); library events are also those the viewer may see whose
name matches, items or not.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigil.library.search_text import words
from vigil.library.service import LibraryService, Viewer
from vigil.store.models import MediaItem

FACET_DEPTH = 200  # tags and labels of the search read, to choose from


def matches(typed: list[str], name: str) -> bool:
    """Whether each of the ``typed`` words begins a word of ``name``."""
    own = words(name)
    return all(any(word.startswith(t) for word in own) for t in typed)


@dataclass(frozen=True, slots=True)
class Suggestions:
    tags: list[tuple[str, int]]
    labels: list[tuple[str, int]]
    events: list[tuple[int, str, int]]  # id, name, items found
    cameras: list[tuple[int, str, int]]
    items: list[MediaItem]


def _best(counts: dict[str, int], typed: list[str], limit: int) -> list[tuple[str, int]]:
    found = [(value, n) for value, n in counts.items() if matches(typed, value)]
    return sorted(found, key=lambda pair: (-pair[1], pair[0].casefold()))[:limit]


async def suggest(library: LibraryService, viewer: Viewer, text: str, limit: int) -> Suggestions:
    """Up to ``limit`` of each kind for the words typed in ``text``."""
    typed = words(text)
    if not typed:
        return Suggestions([], [], [], [], [])
    page = await library.search.search(viewer.query(text, limit=limit, facet_limit=FACET_DEPTH))
    facets = page.facets

    events: dict[int, tuple[str, int]] = {}
    for event in await library.events(viewer, archived=None):
        if matches(typed, event.name):
            events[event.id] = (event.name, facets.events.get(event.id, 0))
    ranked = sorted(events.items(), key=lambda pair: (-pair[1][1], pair[1][0].casefold()))
    names = await library.store.camera_names(viewer.org_id, list(facets.cameras))
    cameras = [
        (camera_id, names[camera_id], n)
        for camera_id, n in sorted(facets.cameras.items(), key=lambda pair: -pair[1])
        if camera_id in names and matches(typed, names[camera_id])
    ]
    found = await library.store.items([hit.item_id for hit in page.hits])
    return Suggestions(
        tags=_best(facets.tags, typed, limit),
        labels=_best(facets.labels, typed, limit),
        events=[(event_id, name, n) for event_id, (name, n) in ranked[:limit]],
        cameras=cameras[:limit],
        items=[found[hit.item_id] for hit in page.hits if hit.item_id in found],
    )
