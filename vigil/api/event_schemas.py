"""What the events API takes in and gives back, and its list cursor."""

from __future__ import annotations

import base64
import binascii
from typing import Self

from pydantic import Field, StrictBool, model_validator

from vigil.api.schemas import Input, IntervalOut, Output
from vigil.api.types import LongName, Timestamp
from vigil.link.messages import EventKind


class BoxOut(Output):
    """Where the object was, as fractions of the picture (0..1, top left is 0, 0)."""

    x1: float
    y1: float
    x2: float
    y2: float


class BoxAtOut(BoxOut):
    time: Timestamp


class SnapshotOut(Output):
    time: Timestamp = Field(description="the instant the picture shows")
    box: BoxOut | None = Field(description="the object in the picture; null for motion")
    url: str = Field(description="the JPEG with the box drawn (a signed link)")
    clean_url: str = Field(description="the JPEG as the camera saw it (a signed link)")


class EventSummary(Output):
    """An event as lists show it."""

    id: int
    camera_id: int
    camera_name: str
    kind: EventKind
    label: str = Field(description="the object's label; 'motion' for motion events")
    score: float = Field(description="the best score so far, 0..1")
    zones: list[str] = Field(description="zones entered, in order")
    start: Timestamp
    end: Timestamp | None = Field(description="null while it lasts")
    in_progress: bool
    duration_seconds: float = Field(description="so far, while it lasts")
    snapshot: SnapshotOut | None = Field(description="its best picture; null if none")
    reviewed: bool
    protected: bool = Field(description="kept with its footage until released")


class EventLinks(Output):
    vod_url: str = Field(description="HLS playlist of the footage window (a signed link)")


class EventOut(EventSummary):
    """An event with its path and footage."""

    boxes: list[BoxAtOut] = Field(description="the object's path, thinned, in time order")
    footage: IntervalOut = Field(description="the event widened by its pre and post buffers")
    links: EventLinks


class EventPage(Output):
    events: list[EventSummary] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: no more")


class EventChange(Input):
    reviewed: StrictBool | None = Field(default=None, description="needs view_recordings")
    protected: StrictBool | None = Field(
        default=None, description="needs export; also protects (or releases) the footage"
    )

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.reviewed is None and self.protected is None:
            raise ValueError("give reviewed or protected (true or false)")
        return self


class ClipCreate(Input):
    title: LongName | None = None


class BadCursor(ValueError):
    """A cursor this server did not hand out."""


def encode_cursor(start_ms: int, event_id: int) -> str:
    """The opaque cursor after an event: its start and id, so paging is stable."""
    return base64.urlsafe_b64encode(f"{start_ms}.{event_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int]:
    """(start_ms, id) from :func:`encode_cursor`; BadCursor for anything else."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        start, event_id = (int(part) for part in text.split("."))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor("not a cursor from this API") from None
    if not (0 <= start < 2**63 and 0 < event_id < 2**63):
        raise BadCursor("not a cursor from this API")
    return start, event_id
