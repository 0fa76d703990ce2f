// The Events page: a review queue. Filters in the address (event_filters.js), the events as
// cards newest first (event_list.js), the chosen one beside them (event_detail.js), review from
// the keyboard, review in bulk, and new events added as they come (the first page is read again
// every few seconds, which also brings events still going on up to date) without moving the
// user's place.
import { html, fill, hashParams, useEffect, useRef, useState } from "./lib.js";
import { S } from "./strings.js";
import { Loading } from "./tile.js";
import { belongs, changeEvent, getEvent, listEvents } from "./event_api.js";
import { EventFilters, filtersKey, readFilters } from "./event_filters.js";
import { EventList, eventName } from "./event_list.js";
import { EventDetail } from "./event_detail.js";

const T = S.events;
const POLL_MS = 3000;
const ROLE_PERMISSIONS = {
  admin: ["view_live", "view_recordings", "export", "ptz", "configure"],
  operator: ["view_live", "view_recordings", "export", "ptz", "configure"],
  viewer: ["view_live", "view_recordings"],
};

function newer(a, b) {
  const da = Date.parse(a.start);
  const db = Date.parse(b.start);
  return da === db ? a.id > b.id : da > db;
}

// The list after reading its first page again: that page as it is now, then what was shown
// beyond it (pages the user asked for), with the cursor of whichever part ends the list.
function merge(queue, page) {
  if (page.next_cursor === null) return { ...queue, events: page.events, cursor: null };
  const last = page.events[page.events.length - 1];
  const ids = new Set(page.events.map((e) => e.id));
  const older = queue.events.filter((e) => !ids.has(e.id) && newer(last, e));
  return { ...queue, events: [...page.events, ...older], cursor: older.length ? queue.cursor : page.next_cursor };
}

// Keys that belong to what has focus: typing in a field, a button's own Enter and Space.
function ownKey(event) {
  const target = event.target;
  if (target.closest("input, select, textarea, [contenteditable]")) return true;
  if (event.key === "Enter" || event.key === " ") {
    return target.closest("button, a, video, summary") !== null && !target.closest(".event-open");
  }
  return false;
}

function KeyHints({ canProtect }) {
  const hints = T.keyHints.filter(([key]) => canProtect || key !== "p");
  return html`<p class="event-keys">${T.keys}
    ${hints.map(([keys, words]) => html` <span><kbd>${keys}</kbd> ${words}</span>`)}</p>`;
}

function Empty({ filters }) {
  const queue = filters.reviewed === "false" && !filters.camera && !filters.label && !filters.zone;
  return html`<section class="empty">
    <h2>${queue ? T.emptyQueue : T.emptyFiltered}</h2>
    <p>${T.emptyHint}</p>
    ${filters.reviewed !== "all" ? html`<p><a href="#events?reviewed=all">${T.showAll}</a></p>` : ""}
  </section>`;
}

function BulkBar({ count, busy, onMark, onAll, onClear }) {
  return html`<div class="event-bulk" role="group" aria-label=${fill(T.selected, { n: count })}>
    <span>${fill(T.selected, { n: count })}</span>
    ${count
      ? html`<button type="button" class="primary" disabled=${busy} onClick=${onMark}>${fill(T.markSelected, { n: count })}</button>
          <button type="button" onClick=${onClear}>${T.clearSelection}</button>`
      : ""}
    <button type="button" onClick=${onAll}>${T.selectAll}</button>
  </div>`;
}

export function EventsPage({ cameras, me }) {
  const [filters, setFilters] = useState(readFilters);
  const [queue, setQueue] = useState({ events: [], cursor: null, loading: true, error: null });
  const [selectedId, setSelectedId] = useState(null);
  const [linked, setLinked] = useState(null); // a linked event (#events?event=42) the list lacks
  const [open, setOpen] = useState(false); // phone: the detail instead of the list
  const [playingId, setPlayingId] = useState(null);
  const [checked, setChecked] = useState(new Set());
  const [fresh, setFresh] = useState(new Set());
  const [notice, setNotice] = useState("");
  const [bulkBusy, setBulkBusy] = useState(false);
  const queueRef = useRef(queue);
  const version = useRef(0); // bumped by every change made here: older poll answers are dropped
  const known = useRef(new Set());
  const focusAfter = useRef(null); // "card" or "detail": where focus goes after the next render
  const heading = useRef(null);
  const wanted = useRef(null); // the event the address named (#events?event=42)
  const selectedRef = useRef(selectedId);
  queueRef.current = queue;
  selectedRef.current = selectedId;
  const key = filtersKey(filters);

  // An address naming an event opens it, listed or not.
  function openLinked() {
    const id = Number(hashParams().event) || null;
    if (id === null) return;
    wanted.current = id;
    setSelectedId(id);
    setOpen(true);
    getEvent(id).then(setLinked, () => {});
  }
  useEffect(() => {
    openLinked();
    const follow = () => {
      setFilters(readFilters());
      openLinked();
    };
    addEventListener("hashchange", follow);
    return () => removeEventListener("hashchange", follow);
  }, []);

  // The first page, then the same again every few seconds.
  useEffect(() => {
    let live = true;
    let timer = null;
    let loaded = false;
    known.current = new Set();
    setQueue({ events: [], cursor: null, loading: true, error: null });
    setChecked(new Set());
    setFresh(new Set());
    setNotice("");
    async function poll() {
      if (loaded && document.hidden) {
        timer = setTimeout(poll, POLL_MS); // nobody is looking: read again when someone is
        return;
      }
      const asked = version.current;
      try {
        const page = await listEvents(filters);
        if (!live) return;
        if (!loaded) {
          loaded = true;
          page.events.forEach((e) => known.current.add(e.id));
          setQueue({ events: page.events, cursor: page.next_cursor, loading: false, error: null });
          // The one chosen before if it is listed (or was linked), else the newest.
          const current = selectedRef.current;
          const keep = current !== null && (current === wanted.current || page.events.some((e) => e.id === current));
          setSelectedId(keep ? current : page.events[0]?.id ?? null);
        } else if (asked === version.current) {
          const added = page.events.filter((e) => !known.current.has(e.id));
          added.forEach((e) => known.current.add(e.id));
          setQueue(merge(queueRef.current, page));
          if (added.length) {
            setFresh((set) => new Set([...set, ...added.map((e) => e.id)]));
            setNotice(added.length === 1 ? T.oneNew : fill(T.manyNew, { n: added.length }));
            setSelectedId((id) => id ?? added[0].id);
          }
        }
      } catch (error) {
        if (!live) return;
        if (!loaded) setQueue({ events: [], cursor: null, loading: false, error: error.message });
        // later: the server is restarting or the network is down; try again
      }
      if (live) timer = setTimeout(poll, POLL_MS);
    }
    poll();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [key]);

  const events = queue.events;
  const selected = events.find((e) => e.id === selectedId) || (linked?.id === selectedId ? linked : null);

  useEffect(() => {
    const where = focusAfter.current;
    focusAfter.current = null;
    if (where === "detail") heading.current?.focus();
    else if (where === "card" && selectedId !== null) {
      const card = document.querySelector(`.event-card[data-event="${selectedId}"] .event-open`);
      card?.focus();
      card?.scrollIntoView({ block: "nearest" });
    }
  });

  function permissions(event) {
    if (!Array.isArray(cameras)) return [];
    const camera = cameras.find((c) => c.id === event.camera_id);
    return camera?.permissions || ROLE_PERMISSIONS[me.role] || [];
  }
  function may(event) {
    const allowed = permissions(event);
    const library = me.role === "admin" || me.role === "operator";
    return {
      protect: allowed.includes("export"),
      library: library && allowed.includes("view_recordings"),
      clip: library && allowed.includes("export"),
    };
  }

  function select(id, { focus = "card", play = false } = {}) {
    setSelectedId(id);
    setPlayingId(play ? id : null);
    setFresh((set) => {
      if (!set.has(id)) return set;
      const next = new Set(set);
      next.delete(id);
      return next;
    });
    focusAfter.current = focus;
  }

  function step(delta) {
    if (!events.length) return;
    const at = events.findIndex((e) => e.id === selectedId);
    const to = at < 0 ? 0 : Math.min(Math.max(at + delta, 0), events.length - 1);
    select(events[to].id);
  }

  // Put the API's answers in the list: an event that no longer belongs under the filters
  // leaves it, and the selection moves to the one after it.
  function applyChanged(changedEvents) {
    version.current += 1;
    const byId = new Map(changedEvents.map((e) => [e.id, e]));
    const current = queueRef.current.events;
    const next = [];
    for (const event of current) {
      const changed = byId.get(event.id);
      if (!changed) next.push(event);
      else if (belongs(changed, filters)) next.push({ ...event, ...changed });
    }
    if (linked && byId.has(linked.id)) setLinked({ ...linked, ...byId.get(linked.id) });
    if (!next.some((e) => e.id === selectedId) && current.some((e) => e.id === selectedId)) {
      const at = current.findIndex((e) => e.id === selectedId);
      const after = current.slice(at + 1).find((e) => next.includes(e));
      const before = current.slice(0, at).reverse().find((e) => next.includes(e));
      setSelectedId((after || before)?.id ?? null);
      setPlayingId(null);
    }
    setChecked((set) => new Set([...set].filter((id) => next.some((e) => e.id === id))));
    setQueue({ ...queueRef.current, events: next });
  }

  async function reviewSelected() {
    if (!selected) return;
    const at = events.findIndex((e) => e.id === selected.id);
    version.current += 1;
    try {
      const changed = selected.reviewed ? selected : await changeEvent(selected.id, { reviewed: true });
      setNotice(fill(T.markedReviewed, { event: eventName(changed) }));
      const stays = belongs(changed, filters);
      applyChanged([changed]);
      if (stays && at >= 0 && at + 1 < events.length) select(events[at + 1].id);
      else focusAfter.current = "card";
    } catch (error) {
      setNotice(fill(T.failed, { detail: error.message }));
    }
  }

  async function protectSelected() {
    if (!selected || !may(selected).protect) return;
    version.current += 1;
    try {
      const changed = await changeEvent(selected.id, { protected: !selected.protected });
      setNotice(fill(changed.protected ? T.protectedDone : T.unprotectedDone, { event: eventName(changed) }));
      applyChanged([changed]);
    } catch (error) {
      setNotice(fill(T.failed, { detail: error.message }));
    }
  }

  function toggleCheck(id) {
    setChecked((set) => {
      const next = new Set(set);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  }

  async function markChecked() {
    setBulkBusy(true);
    version.current += 1;
    const ids = [...checked];
    const results = await Promise.allSettled(ids.map((id) => changeEvent(id, { reviewed: true })));
    const done = results.filter((r) => r.status === "fulfilled").map((r) => r.value);
    const failed = results.filter((r) => r.status === "rejected");
    applyChanged(done);
    setNotice(
      failed.length
        ? fill(T.bulkFailed, { n: done.length, failed: failed.length, detail: failed[0].reason.message })
        : fill(T.bulkDone, { n: done.length }),
    );
    setBulkBusy(false);
  }

  async function loadMore() {
    const asked = version.current;
    try {
      const page = await listEvents(filters, queue.cursor);
      page.events.forEach((e) => known.current.add(e.id));
      if (asked !== version.current) return;
      const ids = new Set(queueRef.current.events.map((e) => e.id));
      setQueue({
        ...queueRef.current,
        events: [...queueRef.current.events, ...page.events.filter((e) => !ids.has(e.id))],
        cursor: page.next_cursor,
      });
    } catch (error) {
      setNotice(fill(T.failed, { detail: error.message }));
    }
  }

  // The keyboard: the handler of the latest render, behind one listener.
  const onKey = useRef(null);
  onKey.current = (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || ownKey(event)) return;
    const actions = {
      j: () => step(1),
      ArrowDown: () => step(1),
      k: () => step(-1),
      ArrowUp: () => step(-1),
      r: reviewSelected,
      p: protectSelected,
      x: () => selected && toggleCheck(selected.id),
      Enter: () => selected && (setOpen(true), select(selected.id, { focus: null, play: true })),
      " ": () => selected && (setOpen(true), select(selected.id, { focus: null, play: true })),
    };
    const action = actions[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  };
  useEffect(() => {
    const listener = (event) => onKey.current(event);
    document.addEventListener("keydown", listener);
    return () => document.removeEventListener("keydown", listener);
  }, []);

  if (cameras === null || cameras?.error) return html`<${Loading} cameras=${cameras} />`;
  const canProtect = cameras.some((c) => (c.permissions || ROLE_PERMISSIONS[me.role] || []).includes("export"));
  let body;
  if (queue.loading) body = html`<p class="muted" role="status">${S.loading}</p>`;
  else if (queue.error) body = html`<p class="error" role="alert">${fill(S.cannotLoad, { detail: queue.error })}</p>`;
  else if (!events.length) body = html`<${Empty} filters=${filters} />`;
  else {
    body = html`<${BulkBar} count=${checked.size} busy=${bulkBusy} onMark=${markChecked}
        onAll=${() => setChecked(new Set(events.map((e) => e.id)))} onClear=${() => setChecked(new Set())} />
      <${EventList} events=${events} selectedId=${selectedId} checked=${checked} fresh=${fresh}
        onOpen=${(id) => (setOpen(true), select(id, { focus: "detail" }))} onCheck=${toggleCheck} />
      ${queue.cursor ? html`<button type="button" class="event-more" onClick=${loadMore}>${T.loadMore}</button>` : ""}`;
  }
  return html`<div class=${`events-page${open && selected ? " open" : ""}`}>
    <div class="event-queue">
      <${EventFilters} filters=${filters} cameras=${cameras} events=${events} />
      <${KeyHints} canProtect=${canProtect} />
      <p class="event-notice" role="status" aria-live="polite">${notice}</p>
      ${body}
    </div>
    ${selected
      ? html`<${EventDetail} key=${selected.id} event=${selected} may=${may(selected)}
          playing=${playingId === selected.id} onPlay=${() => setPlayingId(selected.id)}
          change=${(id, body) => ((version.current += 1), changeEvent(id, body))}
          onChanged=${(e) => applyChanged([e])} onBack=${() => (setOpen(false), select(selected.id))}
          announce=${setNotice} headingRef=${heading} />`
      : ""}
  </div>`;
}
