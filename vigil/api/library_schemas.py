"""What the library API takes in and gives back."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vigil.api.schemas import Input, Output
from vigil.api.types import (
    EventId,
    ExportId,
    Filename,
    GroupId,
    Instant,
    ItemId,
    LibraryEventId,
    LongName,
    SharePassword,
    Tag,
    Text,
    Timestamp,
)
from vigil.store.library import EventSummary
from vigil.store.models import LibraryEvent, MediaItem, UsageSample

Variant = Literal["original", "web", "poster", "thumb"]
ItemKind = Literal["image", "video"]
MAX_TAGS = 50
MAX_GROUPS = 100


class LibraryEventCreate(Input):
    name: LongName
    description: Text | None = None
    place: LongName | None = None
    start: Instant
    end: Instant | None = None
    group_ids: list[GroupId] = Field(
        default_factory=list, max_length=MAX_GROUPS, description="user groups taking part (classes)"
    )

    def values(self) -> dict[str, Any]:
        values = self.model_dump(exclude={"start", "end"})
        values["start_ms"], values["end_ms"] = self.start, self.end
        return values


class LibraryEventUpdate(Input):
    name: LongName | None = None
    description: Text | None = None
    place: LongName | None = None
    start: Instant | None = None
    end: Instant | None = None
    group_ids: list[GroupId] | None = Field(default=None, max_length=MAX_GROUPS)
    archived: bool | None = None

    @field_validator("name", "start", "group_ids", "archived")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be null")
        return value

    def changes(self) -> dict[str, Any]:
        values = self.model_dump(exclude_unset=True)
        if "start" in values:
            values["start_ms"] = values.pop("start")
        if "end" in values:
            values["end_ms"] = values.pop("end")
        return values


class EventCover(Output):
    item_id: int
    thumb: str = Field(description="the item's thumbnail (a signed link)")


class LibraryEventOut(Output):
    id: int
    name: str
    description: str | None
    place: str | None
    start: Timestamp
    end: Timestamp | None
    group_ids: list[int] = Field(
        description="the user groups taking part; a viewer is shown only their own"
    )
    archived: bool
    created_at: Timestamp
    updated_at: Timestamp
    counts: dict[str, int] = Field(
        default_factory=dict, description="its ready items by kind: image, video"
    )
    cover: EventCover | None = Field(
        default=None, description="its newest ready item with a thumbnail"
    )

    @classmethod
    def build(
        cls,
        event: LibraryEvent,
        summary: EventSummary | None = None,
        cover: EventCover | None = None,
        groups: frozenset[int] | None = None,
    ) -> LibraryEventOut:
        """``groups``: the viewer's own (None: they see every group)."""
        return cls(
            id=event.id,
            name=event.name,
            description=event.description,
            place=event.place,
            start=event.start_ms,
            end=event.end_ms,
            group_ids=[g for g in event.group_ids if groups is None or g in groups],
            archived=event.archived,
            created_at=event.created_at,
            updated_at=event.updated_at,
            counts=summary.counts if summary is not None else {},
            cover=cover,
        )


class LibraryGroupOut(Output):
    """A user group (a class) that library events and items are shared with."""

    id: int
    name: str


class ItemFiles(Output):
    original: str = Field(description="the file as uploaded (a signed link)")
    web: str | None = Field(
        description="what a browser shows or plays: a video's web-playable copy, or the "
        "original when browsers take it as it is; null for a picture they do not show"
    )
    poster: str | None
    thumb: str | None


class ItemOut(Output):
    id: int
    event_id: int | None
    kind: str
    source: str
    title: str
    description: str | None
    tags: list[str]
    labels: list[str]
    camera_id: int | None
    captured_at: Timestamp
    uploaded_by_id: int | None
    uploader: str
    group_ids: list[int]
    filename: str
    mime: str
    size: int
    sha256: str
    width: int | None
    height: int | None
    duration_seconds: float | None
    status: str = Field(description="uploading, processing, ready or failed")
    progress: float
    error: str | None = Field(description="why processing failed")
    views: int
    downloads: int
    created_at: Timestamp
    files: ItemFiles | None = Field(description="null until the item is ready")

    @classmethod
    def build(cls, item: MediaItem, files: ItemFiles | None) -> ItemOut:
        return cls(
            id=item.id,
            event_id=item.event_id,
            kind=item.kind,
            source=item.source,
            title=item.title,
            description=item.description,
            tags=item.tags,
            labels=item.labels,
            camera_id=item.camera_id,
            captured_at=item.captured_at,
            uploaded_by_id=item.uploaded_by_id,
            uploader=item.uploader,
            group_ids=item.group_ids,
            filename=item.filename,
            mime=item.mime,
            size=item.size,
            sha256=item.sha256,
            width=item.width,
            height=item.height,
            duration_seconds=item.duration_ms / 1000 if item.duration_ms is not None else None,
            status=item.status,
            progress=item.progress,
            error=item.error,
            views=item.views,
            downloads=item.downloads,
            created_at=item.created_at,
            files=files,
        )


class ItemUpdate(Input):
    title: LongName | None = None
    description: Text | None = None
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)
    event_id: LibraryEventId | None = Field(
        default=None, description="move it to this library event; null: to none"
    )
    group_ids: list[GroupId] | None = Field(default=None, max_length=MAX_GROUPS)
    captured_at: Instant | None = None

    @field_validator("title", "tags", "group_ids", "captured_at")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be null")
        return value

    def changes(self) -> dict[str, Any]:
        values = self.model_dump(exclude_unset=True)
        if "tags" in values:
            values["tags"] = list(dict.fromkeys(values["tags"]))
        return values


class SearchFacetsOut(Output):
    kinds: dict[str, int]
    tags: dict[str, int]
    events: dict[str, int] = Field(description="by library event id")
    uploaders: dict[str, int] = Field(description="by uploader's user id")
    cameras: dict[str, int] = Field(description="by camera id (camera clips and snapshots)")
    labels: dict[str, int] = Field(description="by detection label")


class SearchNamesOut(Output):
    """Names of the library events and cameras that the facets and filters give by id."""

    events: dict[str, str]
    cameras: dict[str, str]


class SearchOut(Output):
    items: list[ItemOut]
    total: int = Field(description="matches; a lower bound when exact is false")
    exact: bool = Field(
        description="false when the words match more than the search reads (1,000): total "
        "and facets then count those, and relevance ranks those"
    )
    facets: SearchFacetsOut
    names: SearchNamesOut
    next_cursor: str | None


class ValueSuggestion(Output):
    value: str
    count: int = Field(description="matching items")


class NamedSuggestion(Output):
    id: int
    name: str
    count: int = Field(description="matching items (0: the name matches, none of its items)")


class ItemSuggestion(Output):
    id: int
    title: str
    kind: str
    event_id: int | None
    thumb: str | None = Field(description="the thumbnail (a signed link)")


class SuggestionsOut(Output):
    """What the words typed so far could mean, each list best first."""

    tags: list[ValueSuggestion]
    labels: list[ValueSuggestion] = Field(description="detection labels")
    events: list[NamedSuggestion] = Field(description="library events")
    cameras: list[NamedSuggestion]
    items: list[ItemSuggestion] = Field(description="the best matching items")


class ShareCreate(Input):
    item_id: ItemId | None = None
    event_id: LibraryEventId | None = None
    days: float = Field(default=7, gt=0, le=365, description="how long the link works")
    password: SharePassword | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        # After the model, not on a field: a field left out is never validated.
        if (self.event_id is None) == (self.item_id is None):
            raise ValueError("give exactly one of item_id and event_id")
        return self


class ShareOut(Output):
    id: int
    item_id: int | None
    event_id: int | None
    expires_at: Timestamp
    has_password: bool
    views: int
    revoked: bool
    created_at: Timestamp
    url: str | None = Field(
        default=None, description="the link's API address; shown once, when the link is made"
    )
    page_url: str | None = Field(
        default=None,
        description="the web page to send to people (no account needed); shown once",
    )


class SharedItemOut(Output):
    id: int
    kind: str
    title: str
    description: str | None
    captured_at: Timestamp
    width: int | None
    height: int | None
    duration_seconds: float | None
    files: ItemFiles


class SharedOut(Output):
    kind: Literal["item", "event"] = Field(description="what was shared")
    title: str
    expires_at: Timestamp
    items: list[SharedItemOut] = Field(
        description="its files' links are signed for a while (``sig``), so that a player or a "
        "download needs no password header"
    )


class UsageOut(Output):
    library_bytes: int
    recordings_bytes: int
    total_bytes: int
    by_kind: dict[str, int]
    plan: str | None
    limit_bytes: int | None = Field(description="the plan's storage; null: no limit")
    remaining_bytes: int | None


class UsageSampleOut(Output):
    at: Timestamp
    library_bytes: int
    recordings_bytes: int
    by_kind: dict[str, int]

    @classmethod
    def build(cls, sample: UsageSample) -> UsageSampleOut:
        return cls(
            at=sample.at,
            library_bytes=sample.library_bytes,
            recordings_bytes=sample.recordings_bytes,
            by_kind=sample.by_kind,
        )


class AnalyticsOut(Output):
    storage: list[UsageSampleOut] = Field(description="storage used over time")
    most_viewed: list[ItemOut]
    uploads_per_event: list[dict[str, int | None]]
    uploads_per_uploader: list[dict[str, int | None]]


class SaveEvent(Input):
    """Save a detection event's snapshot into the library."""

    event_id: EventId = Field(description="the detection event")
    library_event_id: LibraryEventId | None = None
    title: LongName | None = None


class SaveExport(Input):
    """Save a finished export's video into the library."""

    export_id: ExportId
    name: Filename | None = Field(
        default=None, description="which of its files; default: the first"
    )
    library_event_id: LibraryEventId | None = None
    title: LongName | None = None


class UploadMetadata(BaseModel):
    """What a tus upload's ``Upload-Metadata`` may say, checked like any other input; other
    keys (``filetype``, ``relativePath``...) are ignored."""

    model_config = ConfigDict(extra="ignore")

    filename: Filename | None = None
    title: LongName | None = None
    description: Text | None = None
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS, description="comma separated")
    event_id: LibraryEventId | None = Field(default=None, description="a library event's id")

    @field_validator("tags", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [tag for tag in value.split(",") if tag.strip()]
        return value

    @classmethod
    def of(cls, pairs: dict[str, str]) -> UploadMetadata:
        """From the header's decoded pairs; an empty value counts as not given."""
        return cls.model_validate({key: value for key, value in pairs.items() if value.strip()})

    def stored(self) -> dict[str, str]:
        """As the upload keeps it: text, the tags comma separated."""
        return {
            key: ", ".join(value) if key == "tags" else str(value)
            for key, value in self.model_dump(exclude_none=True).items()
        }
