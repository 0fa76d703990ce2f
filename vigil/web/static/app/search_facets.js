// The Search page's facets (what the hits hold: kind, library event, tag, camera, label, with
// counts from the API; the capture date as ranges) and the filters in force as removable chips.
// A click narrows the search (the API's own filter of that name); everything goes through the
// address (search_state.js).
import { html, fill, useState } from "./lib.js";
import { S } from "./strings.js";
import { localDay, withValue, withoutValue } from "./search_state.js";

const T = S.search;
const SHOWN = 8; // values of a facet before "Show all"

// What a facet value is called: kinds and labels as they are, events and cameras by name.
export function valueName(key, value, names) {
  if (key === "kind") return T.kindNames[value] || value;
  if (key === "event") return names.events[value] || fill(T.unknownEvent, { id: value });
  if (key === "camera") return names.cameras[value] || fill(T.unknownCamera, { id: value });
  return value;
}

function Facet({ id, title, counts, state, names, go }) {
  const [all, setAll] = useState(false);
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1] || valueName(id, a[0], names).localeCompare(valueName(id, b[0], names)));
  if (!entries.length) return "";
  const shown = all ? entries : entries.slice(0, SHOWN);
  return html`<section class="facet" aria-labelledby=${`facet-${id}`}>
    <h3 id=${`facet-${id}`}>${title}</h3>
    <ul>
      ${shown.map(([value, n]) => {
        const on = state[id].includes(value);
        const name = valueName(id, value, names);
        return html`<li><button type="button" class="facet-value" aria-pressed=${on ? "true" : "false"}
          data-facet=${id} data-value=${value}
          onClick=${() => go(on ? withoutValue(state, id, value) : withValue(state, id, value))}>
          <span class="facet-name">${name}</span><span class="facet-count">${n}</span></button></li>`;
      })}
    </ul>
    ${entries.length > SHOWN
      ? html`<button type="button" class="facet-more" onClick=${() => setAll(!all)}>
          ${all ? T.showFewer : fill(T.showAll, { n: entries.length })}</button>`
      : ""}
  </section>`;
}

// Capture dates: a few ranges back from today, or any two days.
function DateFacet({ state, go }) {
  const today = new Date();
  const back = (days) => localDay(new Date(today.getFullYear(), today.getMonth(), today.getDate() - days));
  const ranges = [
    ["today", back(0)],
    ["week", back(6)],
    ["month", back(29)],
    ["year", `${today.getFullYear()}-01-01`],
  ];
  const pick = (since) => go({ ...state, since, until: "" });
  return html`<section class="facet facet-dates" aria-labelledby="facet-date">
    <h3 id="facet-date">${T.date}</h3>
    <ul>
      ${ranges.map(([key, since]) => {
        const on = state.since === since && !state.until;
        return html`<li><button type="button" class="facet-value" aria-pressed=${on ? "true" : "false"}
          data-facet="date" data-value=${key} onClick=${() => (on ? go({ ...state, since: "", until: "" }) : pick(since))}>
          <span class="facet-name">${T.ranges[key]}</span></button></li>`;
      })}
    </ul>
    <div class="facet-days">
      <label>${T.from}<input type="date" value=${state.since} max=${state.until || undefined}
        onChange=${(event) => go({ ...state, since: event.target.value })} /></label>
      <label>${T.to}<input type="date" value=${state.until} min=${state.since || undefined}
        onChange=${(event) => go({ ...state, until: event.target.value })} /></label>
    </div>
  </section>`;
}

export function Facets({ facets, names, state, go }) {
  return html`<div class="facets">
    <${Facet} id="kind" title=${T.kind} counts=${facets.kinds} state=${state} names=${names} go=${go} />
    <${Facet} id="event" title=${T.event} counts=${facets.events} state=${state} names=${names} go=${go} />
    <${Facet} id="tag" title=${T.tag} counts=${facets.tags} state=${state} names=${names} go=${go} />
    <${Facet} id="camera" title=${T.camera} counts=${facets.cameras} state=${state} names=${names} go=${go} />
    <${Facet} id="label" title=${T.labelFacet} counts=${facets.labels} state=${state} names=${names} go=${go} />
    <${DateFacet} state=${state} go=${go} />
  </div>`;
}

// "2026-05-01" as the user's calendar writes it.
function shown(day) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(y, m - 1, d).toLocaleDateString([], { dateStyle: "medium" });
}

function dateChip(state) {
  if (state.since && state.until) return fill(T.between, { since: shown(state.since), until: shown(state.until) });
  if (state.since) return fill(T.since, { since: shown(state.since) });
  return fill(T.until, { until: shown(state.until) });
}

// The filters in force, each a chip that removes it; and one to remove them all.
export function Chips({ state, names, go }) {
  const chips = [];
  for (const key of ["kind", "event", "tag", "camera", "label"]) {
    for (const value of state[key]) {
      chips.push({ key: `${key}:${value}`, what: T.chipKinds[key], name: valueName(key, value, names), next: withoutValue(state, key, value) });
    }
  }
  if (state.since || state.until) {
    chips.push({ key: "date", what: T.date, name: dateChip(state), next: { ...state, since: "", until: "" } });
  }
  if (!chips.length) return "";
  return html`<ul class="search-chips" aria-label=${T.filters}>
    ${chips.map(
      (chip) => html`<li class="chip chip-filter" data-chip=${chip.key}>
        <span><span class="muted">${chip.what}:</span> ${chip.name}</span>
        <button type="button" aria-label=${fill(T.remove, { what: chip.what, name: chip.name })}
          onClick=${() => go(chip.next)}>×</button>
      </li>`,
    )}
    ${chips.length > 1
      ? html`<li><button type="button" class="chips-clear"
          onClick=${() => go({ ...state, kind: [], event: [], tag: [], camera: [], label: [], since: "", until: "" })}>${T.clearAll}</button></li>`
      : ""}
  </ul>`;
}
