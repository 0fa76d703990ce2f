// What a search found: library events whose names match (each to its page), then items as
// cards with their thumbnails (each to the library's viewer), a Share action for editors.
// The library's own pages are at #library?event=<id> and #library?event=<id>&item=<id>.
import { html } from "./lib.js";
import { S } from "./strings.js";
import { ShareButton } from "./share.js";

const T = S.search;

export function eventHref(eventId) {
  return `#library?event=${encodeURIComponent(eventId)}`;
}

// An item opens in the library's viewer, in its event when it has one.
export function itemHref(item) {
  const params = new URLSearchParams();
  if (item.event_id !== null && item.event_id !== undefined) params.set("event", String(item.event_id));
  params.set("item", String(item.id));
  return `#library?${params}`;
}

function day(iso) {
  return new Date(iso).toLocaleDateString([], { dateStyle: "medium" });
}

function length(seconds) {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function ItemCard({ item, names, canShare }) {
  const thumb = item.files?.thumb;
  const where = item.camera_id !== null ? names.cameras[item.camera_id] : names.events[item.event_id];
  return html`<li class="result-card" data-item=${item.id}>
    <a class="result-open" href=${itemHref(item)}>
      <span class="result-thumb">
        ${thumb
          ? html`<img src=${thumb} alt="" loading="lazy" width="240" height="180" />`
          : html`<span class="result-nothumb">${item.status === "ready" ? T.noPicture : T.processing}</span>`}
        ${item.kind === "video"
          ? html`<span class="result-length">${item.duration_seconds ? length(item.duration_seconds) : T.video}</span>`
          : ""}
      </span>
      <span class="result-title">${item.title}</span>
    </a>
    <span class="result-meta muted">
      <time datetime=${item.captured_at}>${day(item.captured_at)}</time>${where ? html` · ${where}` : ""}
    </span>
    ${item.tags.length || item.labels.length
      ? html`<span class="result-tags">
          ${item.labels.map((l) => html`<span class="chip chip-label">${l}</span>`)}
          ${item.tags.map((t) => html`<span class="chip">${t}</span>`)}
        </span>`
      : ""}
    ${canShare ? html`<${ShareButton} item_id=${item.id} title=${item.title} />` : ""}
  </li>`;
}

export function EventResults({ events }) {
  if (!events.length) return "";
  return html`<section class="result-events" aria-labelledby="result-events-title">
    <h2 id="result-events-title">${T.eventsFound}</h2>
    <ul>
      ${events.map((e) => html`<li><a href=${eventHref(e.id)}>${e.name}</a></li>`)}
    </ul>
  </section>`;
}

export function ItemResults({ items, names, canShare }) {
  return html`<ul class="result-grid" aria-label=${T.results}>
    ${items.map((item) => html`<${ItemCard} key=${item.id} item=${item} names=${names} canShare=${canShare} />`)}
  </ul>`;
}
