"""Library search on SQLite (FTS5) and PostgreSQL: what a teacher or a parent finds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from vigil.library.search import InvalidCursor, SearchIndex, SearchQuery
from vigil.library.search_text import parse
from vigil.store.database import Database
from vigil.store.migrate import upgrade
from vigil.store.models import Camera, LibraryEvent, MediaItem, Org, User

DAY = 86_400_000
T0 = 1_717_200_000_000  # 2024-06-01
CLASS_3A, CLASS_3B = 31, 32


@dataclass
class Library:
    """A school's library (and another school's), indexed."""

    db: Database
    index: SearchIndex
    org: int = 0
    other_org: int = 0
    users: dict[str, int] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)
    items: dict[str, int] = field(default_factory=dict)
    camera: int = 0

    async def add_item(self, name: str, **values: Any) -> MediaItem:
        event = values.pop("event", None)
        uploader = values.pop("by", "alice")
        fields: dict[str, Any] = {
            "org_id": self.org,
            "event_id": self.events[event] if event else None,
            "kind": "image",
            "source": "upload",
            "title": name,
            "tags": [],
            "labels": [],
            "captured_at": T0,
            "uploaded_by_id": self.users[uploader] if uploader else None,
            "uploader": uploader or "",
            "group_ids": [],
            "filename": "f.jpg",
            "mime": "image/jpeg",
            "size": 1,
            "sha256": "0" * 64,
            "status": "ready",
            "storage": "local",
            "key": "k",
            "created_at": T0,
            "updated_at": T0,
        } | values
        item = MediaItem(**fields)
        async with self.db.write() as s:
            s.add(item)
            await s.flush()
            event_name = None
            if item.event_id is not None:
                event_name = await s.scalar(
                    select(LibraryEvent.name).where(LibraryEvent.id == item.event_id)
                )
            camera = None
            if item.camera_id is not None:
                camera = await s.scalar(select(Camera.name).where(Camera.id == item.camera_id))
            await self.index.upsert(item, event_name, camera, session=s)
        self.items[name] = item.id
        return item

    async def find(self, text: str = "", **filters: Any) -> list[str]:
        """Titles of the hits, in order."""
        page = await self.index.search(SearchQuery(self.org, text, **filters))
        return self.titles([h.item_id for h in page.hits])

    def titles(self, ids: list[int]) -> list[str]:
        by_id = {v: k for k, v in self.items.items()}
        return [by_id.get(i, f"#{i}") for i in ids]


@pytest.fixture
async def library(database_url: str) -> AsyncIterator[Library]:
    await asyncio.to_thread(upgrade, database_url)
    db = Database(database_url)
    lib = Library(db, SearchIndex(db))
    async with db.write() as s:
        orgs = [Org(name=n, created_at=T0) for n in ("Hillside School", "Riverside School")]
        s.add_all(orgs)
        await s.flush()
        lib.org, lib.other_org = orgs[0].id, orgs[1].id
        people = [
            User(org_id=lib.org, username=n, role=r, created_at=T0, updated_at=T0)
            for n, r in (("alice", "admin"), ("bob", "operator"), ("pat", "viewer"))
        ]
        camera = Camera(
            org_id=lib.org,
            name="Playground North",
            main_url="rtsp://cam/1",
            created_at=T0,
            updated_at=T0,
        )
        events = [
            LibraryEvent(
                org_id=lib.org, name=n, start_ms=T0, group_ids=g, created_at=T0, updated_at=T0
            )
            for n, g in (
                ("Sports Day 2024", [CLASS_3A]),
                ("Winter Concert", [CLASS_3B]),
                ("Science Fair", []),
            )
        ]
        s.add_all([*people, camera, *events])
        await s.flush()
        lib.users = {u.username: u.id for u in people}
        lib.events = {e.name: e.id for e in events}
        lib.camera = camera.id
    await lib.add_item(
        "Relay race final",
        kind="video",
        tags=["athletics", "Year 3"],
        event="Sports Day 2024",
        captured_at=T0 + 1 * DAY,
    )
    await lib.add_item(
        "Choir warm-up",
        description="The choir sings carols before the show",
        tags=["music"],
        event="Winter Concert",
        by="bob",
        captured_at=T0 + 2 * DAY,
    )
    await lib.add_item(
        "Gate at noon",
        kind="video",
        source="clip",
        camera_id=lib.camera,
        labels=["person", "dog"],
        by=None,
        captured_at=T0 + 3 * DAY,
    )
    await lib.add_item(
        "Volcano model",
        description="Baking soda eruption",
        tags=["science", "Year 3"],
        event="Science Fair",
        by="bob",
        group_ids=[CLASS_3A],
        captured_at=T0 + 4 * DAY,
    )
    await lib.add_item(
        "Football practice",
        description="Kicking drills on the field",
        tags=["training"],
        captured_at=T0 + 5 * DAY,
    )
    await lib.add_item(
        "Team photo", description="After the football match, all smiles", captured_at=T0 + 6 * DAY
    )
    await lib.add_item(
        "Café visit", description="Crêpes in Zürich", by="pat", captured_at=T0 + 7 * DAY
    )
    lib.org, home = lib.other_org, lib.org
    await lib.add_item(
        "Football secrets",
        tags=["football", "music"],
        by=None,
        description="Riverside only",
        captured_at=T0 + 8 * DAY,
    )
    lib.org = home
    try:
        yield lib
    finally:
        await db.close()


OLDEST_FIRST = [
    "Relay race final", "Choir warm-up", "Gate at noon", "Volcano model", "Football practice",
    "Team photo", "Café visit",
]  # fmt: skip


async def test_finds_items_by_every_field(library: Library) -> None:
    expected = {
        "athletics": ["Relay race final"],  # a tag
        "Year 3": ["Volcano model", "Relay race final"],  # a tag of two words
        "winter": ["Choir warm-up"],  # its event's name
        "baking soda": ["Volcano model"],  # description words
        "playground": ["Gate at noon"],  # the camera's name
        "dog": ["Gate at noon"],  # a detection label
        "cafe zurich": ["Café visit"],  # without the accents
        "CRÊPES": ["Café visit"],  # with them, upper case
        '"relay race"': ["Relay race final"],  # a phrase
        '"race relay"': [],
        "volcano OR choir": ["Volcano model", "Choir warm-up"],
        "photo -football": [],
        "field OR match -team": ["Football practice"],
    }
    for text, titles in expected.items():
        assert await library.find(text, sort="newest") == titles, text


async def test_the_last_word_is_a_prefix(library: Library) -> None:
    assert await library.find("foot", sort="newest") == ["Team photo", "Football practice"]
    assert await library.find("sports da") == ["Relay race final"]
    assert await library.find("volc") == ["Volcano model"]
    assert await library.find("foot practice") == []  # only the last word grows
    assert await library.find('"foot"') == []  # an exact word does not


async def test_filters_narrow_the_hits(library: Library) -> None:
    events, users = library.events, library.users
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"kinds": ["video"]}, ["Gate at noon", "Relay race final"]),
        ({"tags": ["Year 3"]}, ["Volcano model", "Relay race final"]),
        ({"tags": ["Year 3", "science"]}, ["Volcano model"]),
        ({"tags": ["year 3"]}, []),  # tags match exactly
        ({"event_ids": [events["Sports Day 2024"], events["Science Fair"]]},
         ["Volcano model", "Relay race final"]),
        ({"uploader_ids": [users["bob"]]}, ["Volcano model", "Choir warm-up"]),
        ({"group_id": CLASS_3A}, ["Volcano model", "Relay race final"]),  # item's or event's
        ({"since_ms": T0 + 2 * DAY, "until_ms": T0 + 4 * DAY}, ["Gate at noon", "Choir warm-up"]),
        ({"text": "foot", "kinds": ["image"], "since_ms": T0 + 6 * DAY}, ["Team photo"]),
        ({"text": "year", "kinds": ["video"], "tags": ["athletics"]}, ["Relay race final"]),
    ]  # fmt: skip
    for filters, titles in cases:
        assert await library.find(**{"sort": "newest"} | filters) == titles, filters


async def test_facets_count_every_hit(library: Library) -> None:
    org, events, users = library.org, library.events, library.users
    page = await library.index.search(SearchQuery(org, limit=2))
    assert page.total == 7
    assert len(page.hits) == 2
    assert page.facets.kinds == {"image": 5, "video": 2}
    assert page.facets.tags == {
        "Year 3": 2,
        "athletics": 1,
        "music": 1,
        "science": 1,
        "training": 1,
    }
    assert page.facets.events == {
        events["Sports Day 2024"]: 1,
        events["Winter Concert"]: 1,
        events["Science Fair"]: 1,
    }
    assert page.facets.uploaders == {users["alice"]: 3, users["bob"]: 2, users["pat"]: 1}

    page = await library.index.search(SearchQuery(org, "year", facet_limit=1))
    assert (page.total, page.facets.tags) == (2, {"Year 3": 2})
    assert page.facets.kinds == {"image": 1, "video": 1}

    # Filters apply to every facet, their own dimension's too.
    page = await library.index.search(SearchQuery(org, kinds=["video"]))
    assert (page.total, page.facets.kinds) == (2, {"video": 2})
    assert page.facets.uploaders == {users["alice"]: 1}

    page = await library.index.search(SearchQuery(org, "year", facets=False))
    assert (page.total, page.facets.kinds) == (2, {})


async def test_cameras_and_labels_filter_and_count(library: Library) -> None:
    """A camera's clips and snapshots are found by the camera and by what it saw (all the
    labels asked for), and counted by both; a rebuild reads both from the items again."""
    async with library.db.write() as s:
        lane = Camera(
            org_id=library.org, name="Bus lane", main_url="rtsp://cam/2", created_at=T0,
            updated_at=T0,
        )  # fmt: skip
        s.add(lane)
        await s.flush()
    gate = library.camera
    await library.add_item(
        "Bus at eight", source="snapshot", camera_id=lane.id, labels=["car", "person"],
        by=None, captured_at=T0 + 8 * DAY,
    )  # fmt: skip
    assert await library.find(labels=["person"]) == ["Bus at eight", "Gate at noon"]
    assert await library.find(labels=["person", "dog"]) == ["Gate at noon"]
    assert await library.find(labels=["Person"]) == []  # labels match exactly
    assert await library.find(camera_ids=[lane.id]) == ["Bus at eight"]
    assert await library.find(camera_ids=[gate, lane.id], sort="oldest") == [
        "Gate at noon", "Bus at eight",
    ]  # fmt: skip
    assert await library.find("bus", camera_ids=[gate]) == []
    assert await library.find(camera_ids=[gate], labels=["car"]) == []

    page = await library.index.search(SearchQuery(library.org))
    assert page.facets.cameras == {gate: 1, lane.id: 1}
    assert page.facets.labels == {"person": 2, "car": 1, "dog": 1}
    page = await library.index.search(SearchQuery(library.org, labels=["dog"]))
    assert (page.facets.cameras, page.facets.labels) == ({gate: 1}, {"person": 1, "dog": 1})
    page = await library.index.search(SearchQuery(library.org, labels=["person"], facet_limit=1))
    assert page.facets.labels == {"person": 2}

    await library.index.rebuild(library.org)
    assert await library.find(camera_ids=[lane.id], labels=["car"]) == ["Bus at eight"]
    page = await library.index.search(SearchQuery(library.org, "gate"))
    assert (page.facets.cameras, page.facets.labels) == ({gate: 1}, {"person": 1, "dog": 1})


async def test_relevance_and_date_sorts(library: Library) -> None:
    # A title match ranks above a description match, though older.
    assert await library.find("football") == ["Football practice", "Team photo"]
    page = await library.index.search(SearchQuery(library.org, "football"))
    assert page.hits[0].score > page.hits[1].score > 0
    assert await library.find("football", sort="newest") == ["Team photo", "Football practice"]
    assert await library.find(sort="oldest") == OLDEST_FIRST
    assert await library.find(sort="newest") == OLDEST_FIRST[::-1]
    assert await library.find() == OLDEST_FIRST[::-1]  # no words: by date
    assert await library.find("year", sort="oldest") == ["Relay race final", "Volcano model"]


async def test_cursor_pages_return_each_item_once_in_order(library: Library) -> None:
    for n in range(25):  # ties on captured_at (three a day) and on text
        await library.add_item(
            f"Sports {'day ' * (n % 4)}photo {n}", captured_at=T0 + 10 * DAY + (n // 3) * DAY
        )
    for sort in ("newest", "oldest", "relevance"):
        query = SearchQuery(library.org, "sports", sort=sort, limit=10)
        everything = await library.index.search(
            SearchQuery(library.org, "sports", sort=sort, limit=100)
        )
        original = [h.item_id for h in everything.hits]
        assert everything.total == len(original) >= 26  # with the Sports Day item
        for insert_between in (False, True):
            seen, cursor, pages = [], None, 0
            while True:
                page = await library.index.search(replace(query, cursor=cursor))
                assert page.total >= len(original)
                seen += [h.item_id for h in page.hits]
                pages += 1
                cursor = page.next_cursor
                if cursor is None:
                    break
                if insert_between:  # one in the middle of the order, one at its start
                    await library.add_item(f"Sports late {sort} {pages}", captured_at=T0 + 14 * DAY)
                    await library.add_item(f"Sports early {sort} {pages}", captured_at=T0 - DAY)
            assert [i for i in seen if i in original] == original, (sort, insert_between)
            assert len(seen) == len(set(seen))

    # A cursor is for the search that made it.
    page = await library.index.search(SearchQuery(library.org, limit=2))
    assert page.next_cursor is not None
    with pytest.raises(InvalidCursor):
        await library.index.search(SearchQuery(library.org, "team", cursor=page.next_cursor))
    for garbage in ("=", "x", "!!!", "WyJhIiwxLDIsM10", "bnVsbA", "WyJhIiwiTmFOIiwxLDJd"):
        with pytest.raises(InvalidCursor):
            await library.index.search(SearchQuery(library.org, cursor=garbage))


async def test_a_broad_search_counts_and_ranks_its_newest_hits(library: Library) -> None:
    """More hits than the window: total and facets count the newest (and say so), relevance
    ranks those; date-sorted pages still reach every hit."""
    index = SearchIndex(library.db, window=4)
    page = await index.search(SearchQuery(library.org, limit=2))
    assert (page.total, page.exact) == (4, False)
    # The café, the team photo, football practice and the volcano.
    assert page.facets.kinds == {"image": 4}
    users = library.users
    assert page.facets.uploaders == {users["alice"]: 2, users["bob"]: 1, users["pat"]: 1}

    for sort in ("newest", "oldest"):
        seen, cursor = [], None
        while True:
            page = await index.search(SearchQuery(library.org, sort=sort, limit=3, cursor=cursor))
            seen += [h.item_id for h in page.hits]
            if (cursor := page.next_cursor) is None:
                break
        assert library.titles(seen) == (OLDEST_FIRST if sort == "oldest" else OLDEST_FIRST[::-1])

    ranked, cursor = [], None
    while True:
        page = await index.search(
            SearchQuery(library.org, "the OR field OR dog OR choir OR cafe", limit=2, cursor=cursor)
        )
        ranked += library.titles([h.item_id for h in page.hits])
        if (cursor := page.next_cursor) is None:
            break
    assert sorted(ranked) == ["Café visit", "Football practice", "Gate at noon", "Team photo"]

    narrow = await index.search(SearchQuery(library.org, "football"))
    assert (narrow.total, narrow.exact) == (2, True)


async def test_items_captured_at_the_same_moment_stay_apart(library: Library) -> None:
    """SQLite orders hits by a position made of capture time and id; two items may want the
    same one."""
    relay = library.items["Relay race final"]
    twin = await library.add_item(
        "Relay race twin", id=relay + 2**20, kind="video", captured_at=T0 + 1 * DAY
    )
    assert sorted(await library.find("relay")) == ["Relay race final", "Relay race twin"]
    assert (await library.find(sort="oldest"))[:2] == ["Relay race final", "Relay race twin"]
    await library.index.upsert(twin, None, None)  # again: it keeps a place of its own
    await library.index.remove(relay)
    assert await library.find("relay") == ["Relay race twin"]
    assert await library.find("relay", since_ms=T0 + DAY, until_ms=T0 + DAY + 1) == [
        "Relay race twin"
    ]


async def test_a_parent_sees_only_what_is_shared_with_their_class(library: Library) -> None:
    pat = library.users["pat"]
    parent: dict[str, Any] = {"group_ids": {CLASS_3A}, "viewer_id": pat}
    # Sports Day is 3A's event; the volcano is shared with 3A; pat uploaded the café.
    assert await library.find(sort="oldest", **parent) == [
        "Relay race final", "Volcano model", "Café visit",
    ]  # fmt: skip
    assert await library.find("choir", **parent) == []
    assert await library.find("year", sort="oldest", **parent) == [
        "Relay race final", "Volcano model",
    ]  # fmt: skip
    page = await library.index.search(SearchQuery(library.org, **parent))
    assert page.total == 3
    assert page.facets.kinds == {"image": 2, "video": 1}
    assert await library.find(group_ids=set()) == []  # no groups, no uploads of their own
    assert await library.find(group_ids=set(), viewer_id=pat) == ["Café visit"]

    # The concert is shared with 3A too, and renamed: the index follows.
    async with library.db.write() as s:
        concert = await s.get_one(LibraryEvent, library.events["Winter Concert"])
        concert.name, concert.group_ids = "Christmas Show", [CLASS_3A, CLASS_3B]
    await library.index.reindex_event(concert)
    assert await library.find("christmas", **parent) == ["Choir warm-up"]
    assert await library.find("winter") == []


async def test_changes_and_removals_reach_the_index(library: Library) -> None:
    async with library.db.write() as s:
        item = await s.get_one(MediaItem, library.items["Volcano model"])
        item.title, item.tags = "Lava lamp", ["chemistry"]
    await library.index.upsert(item, "Science Fair", None)
    assert await library.find("volcano") == []
    assert await library.find("lava") == ["Volcano model"]
    assert await library.find(tags=["chemistry"]) == ["Volcano model"]
    assert await library.find(tags=["science"]) == []

    await library.index.remove(library.items["Team photo"])
    assert await library.find("football") == ["Football practice"]
    # An item deleted from the library no longer shows, even before remove() is called.
    async with library.db.write() as s:
        await s.execute(delete(MediaItem).where(MediaItem.id == library.items["Café visit"]))
    assert await library.find("cafe") == []
    page = await library.index.search(SearchQuery(library.org))
    assert page.total == 5

    assert await library.index.rebuild() == 7  # both schools; the team photo is back
    assert await library.find("lava", sort="newest") == ["Volcano model"]
    assert (await library.index.search(SearchQuery(library.org))).total == 6


HOSTILE = [
    '"', '""', "a OR", "OR", "OR OR", "AND", "NOT", "NEAR(", "NEAR(a b, 2)", "-", "--", "*",
    "**", "foot*", "^foot", "(", ")", "((a)", "{title}: x", "title:foot", "scope:o1",
    "'); DROP TABLE media_items; --", "%", "_", "\\", "\x00", "😀", "😀 football 😀",
    "日本語", "a" * 5000, " ".join(["football"] * 400), "-football", "- -", '"unterminated',
    "a & b | !c <-> d:*", "'foot':*", "o1", "e1", "u1", "g31", "kimage", ":", "+",
]  # fmt: skip


async def test_hostile_queries_never_break_a_search(library: Library) -> None:
    for text in HOSTILE:
        for sort in ("relevance", "newest"):
            page = await library.index.search(SearchQuery(library.org, text, sort=sort))
            assert all(h.item_id in library.items.values() for h in page.hits), text
            assert "Football secrets" not in library.titles([h.item_id for h in page.hits])
    huge = 2**70
    for filters in (
        {"event_ids": [huge]},
        {"uploader_ids": [-huge]},
        {"group_id": huge},
        {"group_ids": {huge}, "viewer_id": huge},
        {"since_ms": huge},
        {"until_ms": -huge},
        {"kinds": ["'; --", "😀"]},
        {"tags": ['"', "NEAR(", "*"]},
        {"camera_ids": [huge, -huge]},
        {"labels": ["'; --", "%", "😀", '"']},
    ):
        assert await library.find("football", **filters) == [], filters
    assert await library.find(since_ms=-huge, until_ms=huge, sort="oldest") == OLDEST_FIRST
    assert await library.find("😀 football 😀") == ["Football practice", "Team photo"]
    assert len(await library.find("scope:o1")) == 0  # filter tokens are not searchable
    assert await library.find("kimage") == []
    async with library.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(MediaItem)) == 8


async def test_another_school_never_shows(library: Library) -> None:
    assert await library.find("football") == ["Football practice", "Team photo"]
    assert await library.find("secrets") == []
    assert await library.find("riverside") == []
    page = await library.index.search(SearchQuery(library.org, "music"))
    assert (page.total, page.facets.tags) == (1, {"music": 1})
    other = await library.index.search(SearchQuery(library.other_org, "football"))
    assert library.titles([h.item_id for h in other.hits]) == ["Football secrets"]
    assert other.facets.kinds == {"image": 1}


def test_queries_are_parsed_into_words_never_syntax() -> None:
    parsed = parse('"Sports  Day" -rain relay OR RACE foot')
    assert [[a.words for a in c] for c in parsed.clauses] == [
        [("sports", "day")], [("relay",), ("race",)], [("foot",)],
    ]  # fmt: skip
    assert [a.words for a in parsed.excluded] == [("rain",)]
    assert parsed.clauses[-1][0].prefix
    assert not parse('"; DROP -- NEAR(*)').excluded
    assert not parse("- * ( ) 😀")
    assert not parse("-rain")  # nothing but exclusions: a listing, not a search
    assert parse("year-6").clauses == parse('"year 6"').clauses
