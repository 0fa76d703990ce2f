// The Events page's filters: held in the address (#events?camera=2&label=person&reviewed=false)
// so that a filtered queue can be linked; by default the events not yet reviewed.
import { html, goTo, hashParams } from "./lib.js";
import { S } from "./strings.js";

const T = S.events;
const KEYS = ["camera", "label", "zone", "since", "reviewed", "protected"];

// The filters of the address, each a string ("" when not set; reviewed: "false" by default).
export function readFilters() {
  const params = hashParams();
  const filters = Object.fromEntries(KEYS.map((key) => [key, params[key] || ""]));
  if (!(filters.reviewed in T.reviewedChoices)) filters.reviewed = "false";
  if (!(filters.protected in T.protectedChoices)) filters.protected = "";
  if (!(filters.since in T.whens)) filters.since = "";
  return filters;
}

export function filtersKey(filters) {
  return KEYS.map((key) => filters[key]).join("|");
}

function setFilter(filters, key, value) {
  const next = { ...filters, [key]: value };
  goTo("events", Object.fromEntries(KEYS.filter((k) => next[k] !== "").map((k) => [k, next[k]])));
}

function Choice({ id, label, value, options, onChange }) {
  return html`<label for=${id}>${label}
    <select id=${id} value=${value} onChange=${(event) => onChange(event.target.value)}>
      ${options.map(([key, words]) => html`<option value=${key}>${words}</option>`)}
    </select></label>`;
}

// The labels and zones worth offering: the cameras' detection settings, the events shown, and
// the filter's own value.
function choices(cameras, events, filters) {
  const labels = new Set(events.map((event) => event.label));
  const zones = new Set(events.flatMap((event) => event.zones));
  for (const camera of cameras) {
    for (const label of camera.detection?.labels || []) labels.add(label);
    for (const zone of camera.detection?.zones || []) zones.add(zone.name);
  }
  if (filters.label) labels.add(filters.label);
  if (filters.zone) zones.add(filters.zone);
  const sorted = (set) => [...set].sort().map((value) => [value, value]);
  return { labels: sorted(labels), zones: sorted(zones) };
}

export function EventFilters({ filters, cameras, events }) {
  const { labels, zones } = choices(cameras, events, filters);
  const change = (key) => (value) => setFilter(filters, key, value);
  const cameraOptions = cameras.map((camera) => [String(camera.id), camera.name]);
  if (filters.camera && !cameraOptions.some(([id]) => id === filters.camera)) {
    cameraOptions.push([filters.camera, `#${filters.camera}`]);
  }
  return html`<form class="event-filters" aria-label=${T.filters} onSubmit=${(e) => e.preventDefault()}>
    <${Choice} id="ef-camera" label=${T.camera} value=${filters.camera} onChange=${change("camera")}
      options=${[["", T.anyCamera], ...cameraOptions]} />
    <${Choice} id="ef-label" label=${T.label} value=${filters.label} onChange=${change("label")}
      options=${[["", T.anyLabel], ...labels]} />
    ${zones.length
      ? html`<${Choice} id="ef-zone" label=${T.zone} value=${filters.zone} onChange=${change("zone")}
          options=${[["", T.anyZone], ...zones]} />`
      : ""}
    <${Choice} id="ef-since" label=${T.when} value=${filters.since} onChange=${change("since")}
      options=${Object.entries(T.whens)} />
    <${Choice} id="ef-reviewed" label=${T.reviewedFilter} value=${filters.reviewed}
      onChange=${change("reviewed")} options=${Object.entries(T.reviewedChoices)} />
    <${Choice} id="ef-protected" label=${T.protectedFilter} value=${filters.protected}
      onChange=${change("protected")} options=${Object.entries(T.protectedChoices)} />
  </form>`;
}
