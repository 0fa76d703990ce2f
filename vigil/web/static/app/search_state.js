// The Search page's state, all of it in the address so that a search can be shared or
// bookmarked and Back steps through it: "#search?q=relay&tag=athletics&camera=2&since=2026-05-01".
// Facet values repeat (tag=a&tag=b); dates are the user's own calendar days.

export const LISTS = ["kind", "tag", "event", "camera", "label"]; // facets: any number of values
const SORTS = ["relevance", "newest", "oldest"];
const DATE = /^\d{4}-\d{2}-\d{2}$/;

// {q, kind: [], tag: [], event: [], camera: [], label: [], since, until, sort}
export function readSearch(hash = location.hash) {
  const params = new URLSearchParams(hash.split("?")[1] || "");
  const state = { q: params.get("q") || "" };
  for (const key of LISTS) state[key] = [...new Set(params.getAll(key).filter(Boolean))];
  state.since = DATE.test(params.get("since") || "") ? params.get("since") : "";
  state.until = DATE.test(params.get("until") || "") ? params.get("until") : "";
  state.sort = SORTS.includes(params.get("sort")) ? params.get("sort") : "relevance";
  return state;
}

export function searchHash(state) {
  const params = new URLSearchParams();
  if (state.q) params.set("q", state.q);
  for (const key of LISTS) for (const value of state[key]) params.append(key, value);
  if (state.since) params.set("since", state.since);
  if (state.until) params.set("until", state.until);
  if (state.sort !== "relevance") params.set("sort", state.sort);
  const query = params.toString();
  return query ? `#search?${query}` : "#search";
}

// A new entry in the history: Back returns to the search before.
export function goSearch(state) {
  const hash = searchHash(state);
  if (hash !== location.hash) location.hash = hash;
}

export function isEmpty(state) {
  return !state.q && LISTS.every((key) => !state[key].length) && !state.since && !state.until;
}

export function withValue(state, key, value) {
  return state[key].includes(value) ? state : { ...state, [key]: [...state[key], value] };
}

export function withoutValue(state, key, value) {
  return { ...state, [key]: state[key].filter((v) => v !== value) };
}

// The local day "2026-05-01" as an instant: its first moment (or, `end`, the next day's).
export function dayStart(day, end = false) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(y, m - 1, d + (end ? 1 : 0)).toISOString();
}

export function localDay(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

// The API's query for this state (GET /api/library/search), from `cursor` on.
export function apiQuery(state, cursor = null, limit = 48) {
  const params = new URLSearchParams({ limit: String(limit) });
  if (state.q) params.set("q", state.q);
  const names = { kind: "kind", tag: "tag", event: "event_id", camera: "camera_id", label: "label" };
  for (const key of LISTS) for (const value of state[key]) params.append(names[key], value);
  if (state.since) params.set("since", dayStart(state.since));
  if (state.until) params.set("until", dayStart(state.until, true));
  params.set("sort", state.sort);
  if (cursor) params.set("cursor", cursor);
  return params.toString();
}
