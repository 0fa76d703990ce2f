// A library event's page: what it was (name, date, place, groups, description), its pictures
// and videos in a justified grid in the order they were taken (read a page at a time as the
// grid scrolls; thumbnails only, each loaded as it nears the screen), the whole event as one
// download, and for admins and operators: editing the event, sharing it (share.js: with classes
// or by a link) and adding to it (upload_panel.js).
// Items still being processed are read again every few seconds until they are ready.
import { html, fill, useEffect, useRef, useState } from "./lib.js";
import { S } from "./strings.js";
import {
  downloadAllUrl,
  eventItems,
  getEvent,
  getItem,
  itemHref,
  mayEdit,
  unsigned,
} from "./library_api.js";
import { clock, countsText, eventDates, groupNames } from "./library_format.js";
import { EventForm } from "./library_event_form.js";
import { JustifiedGrid } from "./justified.js";
import { UploadPanel } from "./upload_panel.js";
import { Viewer } from "./library_viewer.js";
import { ShareButton } from "./share.js";

const T = S.library;
const POLL_MS = 1500;
const AHEAD = 3; // the viewer this close to the end of what is read: read on

function byCapture(a, b) {
  return Date.parse(a.captured_at) - Date.parse(b.captured_at) || a.id - b.id;
}

function tileLabel(item) {
  if (item.status === "failed") return fill(T.tileFailed, { title: item.title });
  if (item.status !== "ready") return fill(T.tileProcessing, { title: item.title });
  if (item.kind === "video") return fill(T.tileVideo, { title: item.title, length: clock(item.duration_seconds) });
  return item.title;
}

function Tile({ item, eventId }) {
  const thumb = item.files?.thumb;
  return html`<a class="jg-tile" href=${itemHref(eventId, item.id)} data-status=${item.status}
      aria-label=${tileLabel(item)}>
    ${thumb
      ? html`<img src=${unsigned(thumb)} alt="" loading="lazy" decoding="async" />`
      : html`<span class="jg-wait">${item.status === "failed" ? T.failedShort
          : fill(T.processingShort, { percent: Math.round(100 * item.progress) })}</span>`}
    ${item.kind === "video" && item.status === "ready"
      ? html`<span class="jg-badge" aria-hidden="true">▶ ${clock(item.duration_seconds)}</span>`
      : ""}
  </a>`;
}

function Header({ event, groups, editor, onEdit, onShared, hasReady }) {
  const names = groupNames(event.group_ids, groups);
  return html`<header class="lib-event-head">
    <h2>${event.name}</h2>
    <p class="lib-event-meta">
      <time datetime=${event.start}>${eventDates(event)}</time>${event.place ? ` · ${event.place}` : ""}${" · "}<span
        class="muted">${countsText(event.counts)}</span>
    </p>
    ${names.length ? html`<p class="lib-chips" aria-label=${T.sharedWith}>${names.map((n) => html`<span class="lib-chip">${n}</span>`)}</p>` : ""}
    ${event.description ? html`<p class="lib-description">${event.description}</p>` : ""}
    <p class="lib-event-actions">
      ${hasReady ? html`<a class="button" href=${downloadAllUrl(event.id)} download>${T.downloadAll}</a>` : ""}
      ${editor ? html`<button type="button" onClick=${onEdit}>${T.editEvent}</button>` : ""}
      ${editor ? html`<${ShareButton} library_event_id=${event.id} title=${event.name} onSaved=${onShared} />` : ""}
    </p>
  </header>`;
}

export function EventPage({ me, eventId, itemId, groups }) {
  const editor = mayEdit(me);
  const [event, setEvent] = useState(null);
  const [error, setError] = useState(null);
  const [list, setList] = useState({ items: [], cursor: null, loading: true });
  const [editing, setEditing] = useState(false);
  const [lone, setLone] = useState(null); // the item the address names, when not in the list
  const listRef = useRef(list);
  listRef.current = list;
  const sentinel = useRef(null);
  const observer = useRef(null);
  const openedFrom = useRef(null); // the grid's address, when the viewer was opened from it
  const tiles = useRef(new WeakMap()); // item -> its tile's element

  function setItems(update) {
    setList((current) => ({ ...current, items: update(current.items) }));
  }
  function upsert(item) {
    if (item.event_id !== eventId) {
      setItems((items) => items.filter((i) => i.id !== item.id));
      return;
    }
    setItems((items) =>
      items.some((i) => i.id === item.id) ? items.map((i) => (i.id === item.id ? item : i)) : [...items, item].sort(byCapture),
    );
    if (lone?.id === item.id) setLone(item);
  }

  async function loadMore() {
    const current = listRef.current;
    if (current.loading || current.cursor === null || current.busy) return;
    setList({ ...current, busy: true });
    try {
      const page = await eventItems(eventId, current.cursor);
      setList((now) => {
        const known = new Set(now.items.map((i) => i.id));
        return { items: [...now.items, ...page.items.filter((i) => !known.has(i.id))], cursor: page.next_cursor, loading: false };
      });
    } catch (failure) {
      setList((now) => ({ ...now, busy: false }));
      setError(failure.message);
    }
  }

  useEffect(() => {
    getEvent(eventId).then(setEvent, (failure) => setError(failure.message));
    eventItems(eventId).then(
      (page) => setList({ items: page.items, cursor: page.next_cursor, loading: false }),
      (failure) => setError(failure.message),
    );
    observer.current = new IntersectionObserver(([entry]) => entry.isIntersecting && loadMore(), {
      rootMargin: "1200px 0px",
    });
    return () => observer.current.disconnect();
  }, []);
  // Watch the end of the grid afresh after each page: observing again reports at once whether
  // it is still in reach (a short page leaves it there).
  useEffect(() => {
    if (!sentinel.current || list.cursor === null) return;
    observer.current.unobserve(sentinel.current);
    observer.current.observe(sentinel.current);
  }, [list.cursor, list.loading]);

  // Items being processed, read again until they are ready (or failed); the event's counts
  // then too.
  const pending = list.items.filter((i) => i.status === "processing").map((i) => i.id);
  useEffect(() => {
    if (!pending.length) return undefined;
    const timer = setTimeout(async () => {
      const fresh = await Promise.all(pending.map((id) => getItem(id).catch(() => null)));
      fresh.filter(Boolean).forEach(upsert);
      if (fresh.some((i) => i && i.status !== "processing")) getEvent(eventId).then(setEvent, () => {});
    }, POLL_MS);
    return () => clearTimeout(timer);
  }, [pending.join(",")]);

  // Viewers see what is ready; editors also what is on its way or failed.
  const shown = editor ? list.items : list.items.filter((i) => i.status === "ready");
  const current = itemId === null ? null : shown.find((i) => i.id === itemId) || (lone?.id === itemId ? lone : null);
  useEffect(() => {
    if (itemId === null || list.loading || shown.some((i) => i.id === itemId)) return;
    getItem(itemId).then(setLone, (failure) => setError(failure.message));
  }, [itemId, list.loading]);
  useEffect(() => {
    if (current === null) return;
    const at = shown.indexOf(current);
    if (at >= shown.length - AHEAD) loadMore();
  }, [current?.id, shown.length]);

  // The grid's address before the viewer opened: closing goes back to it (history.back()
  // when the viewer was opened from the grid, else replacing the address); focus returns to
  // the tile of the item last seen.
  const lastSeen = useRef(null);
  useEffect(() => {
    if (itemId !== null) {
      lastSeen.current = itemId;
      return;
    }
    openedFrom.current = location.hash;
    const tile = document.querySelector(`.jg-cell[data-item="${lastSeen.current}"] a`);
    if (tile) {
      tile.focus();
      tile.scrollIntoView({ block: "nearest" });
    }
  }, [itemId]);
  function close() {
    if (openedFrom.current === itemHref(eventId)) history.back();
    else location.replace(itemHref(eventId));
  }

  // One tile a version of an item, made once: Preact skips a tile whose element is the one it
  // drew last time, so reading another page draws only the new tiles.
  function tile(item) {
    let drawn = tiles.current.get(item);
    if (!drawn) {
      drawn = html`<${Tile} item=${item} eventId=${eventId} />`;
      tiles.current.set(item, drawn);
    }
    return drawn;
  }

  if (error && !event) return html`<p class="error" role="alert">${fill(S.cannotLoad, { detail: error })}</p>
    <p><a href="#library">${T.allEvents}</a></p>`;
  if (!event) return html`<p class="muted" role="status">${S.loading}</p>`;
  let grid;
  if (list.loading) grid = html`<p class="muted" role="status">${S.loading}</p>`;
  else if (!shown.length) grid = html`<p class="empty">${editor ? T.noItemsEditor : T.noItemsViewer}</p>`;
  else {
    grid = html`<${JustifiedGrid} items=${shown} label=${fill(T.gridLabel, { name: event.name })} tile=${tile} />`;
  }
  return html`<div class="lib-event">
    <p class="lib-back"><a href="#library">${T.allEvents}</a></p>
    ${editing
      ? html`<${EventForm} event=${event} groups=${groups} onCancel=${() => setEditing(false)}
          onSaved=${(changed) => (setEvent(changed), setEditing(false))} />`
      : html`<${Header} event=${event} groups=${groups} editor=${editor} onEdit=${() => setEditing(true)}
          onShared=${setEvent}
          hasReady=${list.items.some((i) => i.status === "ready")} />`}
    ${error ? html`<p class="error" role="alert">${fill(S.cannotLoad, { detail: error })}</p>` : ""}
    ${editor
      ? html`<${UploadPanel} eventId=${eventId} items=${new Map(list.items.map((i) => [i.id, i]))}
          onItem=${(id) => getItem(id).then(upsert, () => {})} />`
      : ""}
    ${grid}
    <div ref=${sentinel} class="lib-sentinel" aria-hidden="true"></div>
    ${list.busy ? html`<p class="muted" role="status">${S.loading}</p>` : ""}
    ${current
      ? html`<${Viewer} key="viewer" me=${me} item=${current} items=${shown} eventId=${eventId}
          onChanged=${upsert} onClose=${close} />`
      : ""}
  </div>`;
}
