// The library's gallery: one card per library event the person may see, newest first, with
// its cover picture (a thumbnail, loaded as the card comes into view), date, place, groups
// and what it holds. Admins and operators make new events here.
import { html, fill, goTo, useEffect, useState } from "./lib.js";
import { S } from "./strings.js";
import { itemHref, listEvents, mayEdit, unsigned } from "./library_api.js";
import { countsText, eventDates, groupNames } from "./library_format.js";
import { EventForm } from "./library_event_form.js";

const T = S.library;

function Card({ event, groups }) {
  const names = groupNames(event.group_ids, groups);
  return html`<li class="lib-card" data-event=${event.id}>
    <a href=${itemHref(event.id)}>
      ${event.cover
        ? html`<img src=${unsigned(event.cover.thumb)} alt="" loading="lazy" decoding="async" />`
        : html`<span class="lib-nocover" aria-hidden="true"></span>`}
      <span class="lib-card-text">
        <strong class="lib-card-name">${event.name}</strong>
        <span><time datetime=${event.start}>${eventDates(event)}</time>${event.place ? ` · ${event.place}` : ""}</span>
        <span class="muted">${countsText(event.counts)}</span>
        ${names.length || event.archived
          ? html`<span class="lib-chips">
              ${names.map((n) => html`<span class="lib-chip">${n}</span>`)}
              ${event.archived ? html`<span class="lib-chip">${T.archived}</span>` : ""}
            </span>`
          : ""}
      </span>
    </a>
  </li>`;
}

export function Gallery({ me, groups }) {
  const [events, setEvents] = useState(null);
  const [error, setError] = useState(null);
  const [adding, setAdding] = useState(false);
  const editor = mayEdit(me);
  useEffect(() => {
    listEvents().then(setEvents, (failure) => setError(failure.message));
  }, []);

  let body;
  if (error) body = html`<p class="error" role="alert">${fill(S.cannotLoad, { detail: error })}</p>`;
  else if (events === null) body = html`<p class="muted" role="status">${S.loading}</p>`;
  else if (!events.length) {
    body = html`<section class="empty">
      <h2>${editor ? T.emptyEditor : T.emptyViewer}</h2>
      <p>${editor ? T.emptyEditorHint : T.emptyViewerHint}</p>
    </section>`;
  } else {
    body = html`<ul class="lib-cards" aria-label=${T.events}>
      ${events.map((e) => html`<${Card} key=${e.id} event=${e} groups=${groups} />`)}
    </ul>`;
  }
  return html`<div class="lib-gallery">
    <div class="toolbar">
      <h2 class="lib-heading">${T.events}</h2>
      ${editor && !adding ? html`<button type="button" class="primary" onClick=${() => setAdding(true)}>${T.newEvent}</button>` : ""}
    </div>
    ${adding
      ? html`<${EventForm} groups=${groups} onCancel=${() => setAdding(false)}
          onSaved=${(event) => goTo("library", { event: event.id })} />`
      : ""}
    ${body}
  </div>`;
}
