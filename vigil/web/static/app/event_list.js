// The Events page's list: one card per event (its picture, camera, label and score, zones, local
// time, duration or "ongoing", and its state in words), each with a box to select it for
// review in bulk.
import { html, fill } from "./lib.js";
import { S } from "./strings.js";
import { thumbnailUrl } from "./event_api.js";

const T = S.events;

export function localTime(iso) {
  return new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "medium" });
}

// Shorter, for cards: the time alone today, else the day and time.
function shortTime(iso) {
  const at = new Date(iso);
  if (at.toDateString() === new Date().toDateString()) return at.toLocaleTimeString();
  return at.toLocaleString([], { month: "short", day: "numeric", hour: "numeric", minute: "2-digit", second: "2-digit" });
}

export function duration(event) {
  if (event.in_progress) return T.ongoing;
  const s = Math.round(event.duration_seconds);
  if (s < 60) return fill(T.seconds, { s });
  if (s < 3600) return fill(T.minutesSeconds, { m: Math.floor(s / 60), s: s % 60 });
  return fill(T.hoursMinutes, { h: Math.floor(s / 3600), m: Math.floor(s / 60) % 60 });
}

export function score(event) {
  return fill(T.score, { score: Math.round(event.score * 100) });
}

// "person on Front gate at 6 Dec 2026, 10:02:03": how controls name an event.
export function eventName(event) {
  return fill(T.eventName, { label: event.label, camera: event.camera_name, time: localTime(event.start) });
}

export function Badges({ event, fresh }) {
  return html`<span class="event-badges">
    ${event.in_progress ? html`<span class="badge event-ongoing">${T.ongoing}</span>` : ""}
    <span class=${`badge ${event.reviewed ? "event-reviewed" : "event-unreviewed"}`}>
      ${event.reviewed ? T.reviewed : T.notReviewed}</span>
    ${event.protected ? html`<span class="badge event-protected">${T.protected}</span>` : ""}
    ${fresh ? html`<span class="badge event-new">${T.new}</span>` : ""}
  </span>`;
}

function Card({ event, selected, checked, fresh, onOpen, onCheck }) {
  const thumb = thumbnailUrl(event);
  return html`<li class="event-card" data-event=${event.id} data-selected=${selected ? "true" : undefined}>
    <label class="event-check">
      <input type="checkbox" checked=${checked} aria-label=${fill(T.select, { event: eventName(event) })}
        onChange=${() => onCheck(event.id)} />
    </label>
    <button type="button" class="event-open" aria-current=${selected ? "true" : undefined}
      onClick=${() => onOpen(event.id)}>
      ${thumb
        ? html`<img src=${thumb} alt="" loading="lazy" width="160" height="90" />`
        : html`<span class="event-nopicture">${T.noPicture}</span>`}
      <span class="event-text">
        <span class="event-title">${event.label} <span class="event-score">${score(event)}</span></span>
        <span>${event.camera_name}</span>
        ${event.zones.length ? html`<span class="event-zones">${event.zones.join(", ")}</span>` : ""}
        <span class="muted"><time datetime=${event.start} title=${localTime(event.start)}>${shortTime(event.start)}</time> · ${duration(event)}</span>
        <${Badges} event=${event} fresh=${fresh} />
      </span>
    </button>
  </li>`;
}

export function EventList({ events, selectedId, checked, fresh, onOpen, onCheck }) {
  return html`<ul class="event-list" aria-label=${T.list}>
    ${events.map(
      (event) => html`<${Card} key=${event.id} event=${event} selected=${event.id === selectedId}
        checked=${checked.has(event.id)} fresh=${fresh.has(event.id)} onOpen=${onOpen} onCheck=${onCheck} />`,
    )}
  </ul>`;
}
