"""How library search reads text: words, web-search style queries, and search documents.

Words are normalised here, in Python, the same way for documents and queries and for both
backends: case folded, diacritics and other combining marks removed ("Café" → "cafe"), split
at anything that is not a letter or a digit, no stemming (names of people, events and places
must not be stemmed oddly). So SQLite and PostgreSQL find the same items for the same words,
and a query can only ever hold words: each is quoted when rendered for FTS5 or ``tsquery``,
and a word is letters and digits only, so no user input is ever read as query syntax.

Known limit: scripts written without spaces (Chinese, Japanese, Thai) index a run of text as
one word, found by its beginning (the last word typed is a prefix) but not from its middle.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from vigil.store.models import MediaItem

MAX_TEXT = 500  # characters of a query that are read
MAX_ATOMS = 12  # words or phrases a query keeps
MAX_WORD = 64  # longer runs of letters are cut into words this long (index and query alike)
MAX_FIELD_WORDS = 2000  # words of one field that are indexed
MIN_PREFIX = 2  # a last word this long or longer also finds words it begins

_WORD = re.compile(rf"[^\W_]{{1,{MAX_WORD}}}")


def words(value: str) -> list[str]:
    """The normalised words of ``value``, as both indexes store them."""
    if not value:
        return []
    if value.isascii():
        folded = value.lower()
    else:
        decomposed = unicodedata.normalize("NFKD", value.casefold())
        folded = "".join(c for c in decomposed if not unicodedata.category(c).startswith("M"))
    return _WORD.findall(folded)


@functools.lru_cache(maxsize=4096)
def _name_words(value: str) -> tuple[str, ...]:
    return tuple(words(value)[:MAX_FIELD_WORDS])


# -- queries


@dataclass(frozen=True, slots=True)
class Atom:
    """A word, or a phrase of words that must follow each other; ``prefix``: the last word
    may continue ("foot" finds "football")."""

    words: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class TextQuery:
    """All clauses must match (a clause: any of its atoms), and no excluded atom may."""

    clauses: tuple[tuple[Atom, ...], ...] = ()
    excluded: tuple[Atom, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.clauses)


_CHUNK = re.compile(r'(-?)"([^"]*)"?|(\S+)')


def parse(value: str) -> TextQuery:
    """Web-search style input: every word is required, ``"a phrase"``, ``-word`` or
    ``-"a phrase"`` excludes, ``OR`` between two words wants either. Whatever a user types
    is a valid query; what has no word in it is ignored."""
    clauses: list[list[Atom]] = []
    excluded: list[Atom] = []
    want_or = after_word = False  # "OR" joins the word before it to the one after it
    last_bare = False  # the last thing typed is a plain word: it may be a prefix
    atoms = 0
    for match in _CHUNK.finditer(value[:MAX_TEXT]):
        minus, quoted, bare = match.groups()
        if bare == "OR":
            want_or = after_word
            continue
        if bare is not None:
            negative = bare.startswith("-") and len(bare) > 1
            found = words(bare[1:] if negative else bare)
        else:
            negative = minus == "-"
            found = words(quoted)
        if not found or atoms >= MAX_ATOMS:
            continue
        atoms += 1
        atom = Atom(tuple(found))
        if negative:
            excluded.append(atom)
            want_or = after_word = last_bare = False
            continue
        if want_or:
            clauses[-1].append(atom)
        else:
            clauses.append([atom])
        want_or, after_word, last_bare = False, True, bare is not None
    if last_bare and len(clauses[-1][-1].words[-1]) >= MIN_PREFIX:
        clauses[-1][-1] = Atom(clauses[-1][-1].words, prefix=True)
    if not clauses:
        excluded = []  # "everything but x" is not a search either index answers well
    return TextQuery(tuple(tuple(c) for c in clauses), tuple(excluded))


def _any(terms: Iterable[str]) -> str:
    return "(" + " OR ".join(terms) + ")"


def fts5_expression(query: TextQuery, columns: Iterable[str]) -> str:
    """An FTS5 expression over ``columns``, every word quoted."""

    def atom(a: Atom) -> str:
        return '"' + " ".join(a.words) + '"' + ("*" if a.prefix else "")

    expression = " AND ".join(_any(atom(a) for a in clause) for clause in query.clauses)
    if query.excluded:
        expression = f"({expression}) NOT {_any(atom(a) for a in query.excluded)}"
    return "{" + " ".join(columns) + "} : (" + expression + ")"


def fts5_any(tokens: Iterable[str]) -> str:
    """Any of some filter tokens (see :meth:`SearchDocument.scope`), quoted."""
    return _any(f'"{t}"' for t in tokens)


def tsquery(query: TextQuery) -> str:
    """A ``tsquery`` literal of the same words, for a cast: no text search configuration
    parses it, so its lexemes are exactly the indexed words."""

    def atom(a: Atom) -> str:
        lexemes = [quote_lexeme(w) for w in a.words]
        if a.prefix:
            lexemes[-1] += ":*"
        return "(" + " <-> ".join(lexemes) + ")"

    parts = ["(" + " | ".join(atom(a) for a in clause) + ")" for clause in query.clauses]
    parts += ["!" + atom(a) for a in query.excluded]
    return " & ".join(parts)


def quote_lexeme(word: str) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


# -- documents

TEXT_COLUMNS = ("title", "description", "tags", "event", "camera", "labels")
_PG_ORDER = (("title", "A"), ("tags", "B"), ("event", "B"), ("labels", "B"),
             ("description", "C"), ("camera", "C"))  # fmt: skip


def tag_token(tag: str) -> str:
    """An exact tag as one token ("Year 6" and "year-6" are two tags, two tokens)."""
    return "t" + hashlib.blake2b(tag.encode(), digest_size=8).hexdigest()


def kind_token(kind: str) -> str:
    return "k" + "".join(words(kind))


@dataclass(frozen=True, slots=True)
class SearchDocument:
    """What the index holds for one media item."""

    item_id: int
    org_id: int
    kind: str
    event_id: int | None
    uploader_id: int | None
    captured_at: int
    tags: tuple[str, ...]
    group_ids: tuple[int, ...]  # the item's own and its event's
    camera_id: int | None
    labels: tuple[str, ...]  # detection labels, exact (filters and facets)
    fields: dict[str, list[list[str]]]  # column -> its parts (a tag, a label), each words

    @classmethod
    def of(
        cls,
        item: MediaItem,
        event_name: str | None,
        camera_name: str | None,
        event_group_ids: Iterable[int] = (),
    ) -> SearchDocument:
        return cls.build(
            item.id, item.org_id, item.kind, item.event_id, item.uploaded_by_id,
            item.captured_at, item.title, item.description, item.tags, item.labels,
            [*(item.group_ids or ()), *event_group_ids], event_name, camera_name,
            item.camera_id,
        )  # fmt: skip

    @classmethod
    def build(
        cls,
        item_id: int,
        org_id: int,
        kind: str,
        event_id: int | None,
        uploader_id: int | None,
        captured_at: int,
        title: str,
        description: str | None,
        tags: Iterable[str] | None,
        labels: Iterable[str] | None,
        group_ids: Iterable[int],
        event_name: str | None,
        camera_name: str | None,
        camera_id: int | None = None,
    ) -> SearchDocument:
        def one(value: str | None) -> list[list[str]]:
            return [words(value or "")[:MAX_FIELD_WORDS]]

        def name(value: str | None) -> list[list[str]]:  # names repeat: read once
            return [list(_name_words(value or ""))]

        tags = tuple(dict.fromkeys(tags or ()))
        labels = tuple(dict.fromkeys(labels or ()))
        return cls(
            item_id=item_id,
            org_id=org_id,
            kind=kind,
            event_id=event_id,
            uploader_id=uploader_id,
            captured_at=captured_at,
            tags=tags,
            group_ids=tuple(sorted(set(group_ids))),
            camera_id=camera_id,
            labels=labels,
            fields={
                "title": one(title),
                "description": one(description),
                "tags": [list(_name_words(t)) for t in tags],
                "event": name(event_name),
                "camera": name(camera_name),
                "labels": [list(_name_words(label)) for label in labels],
            },
        )

    def column_text(self, column: str) -> str:
        return " ".join(w for part in self.fields[column] for w in part)

    def scope(self) -> str:
        """Filter tokens for FTS5: organisation, kind, event, uploader, groups, exact tags.
        They live in a column of their own that no searched word is matched against."""
        tokens = [f"o{self.org_id}", kind_token(self.kind)]
        if self.event_id is not None:
            tokens.append(f"e{self.event_id}")
        if self.uploader_id is not None:
            tokens.append(f"u{self.uploader_id}")
        tokens += [f"g{g}" for g in self.group_ids]
        tokens += [tag_token(t) for t in self.tags]
        return " ".join(tokens)

    def tsvector(self) -> str:
        """A ``tsvector`` literal of the same words, positioned and weighted (A title; B tags,
        event, labels; C description, camera), with a gap between parts so that no phrase
        spans two tags or two fields. Words are letters and digits: nothing to escape."""
        positions: dict[str, list[str]] = {}
        at = 1
        for column, weight in _PG_ORDER:
            for part in self.fields[column]:
                for word in part:
                    spots = positions.get(word)
                    if spots is None:
                        positions[word] = spots = []
                    if len(spots) < 256:  # PostgreSQL keeps 256 positions a word
                        spots.append(f"{at if at < 16383 else 16383}{weight}")
                    at += 1
                at += 1
        return " ".join(f"'{w}':{','.join(p)}" for w, p in positions.items())
