// The library's API as its pages use it: library events, their items (a search filtered to
// the event), one item, the groups to name, and changes. Errors are thrown with the
// problem's words (RFC 9457 "detail"), which the pages show as they are.
import { api, problemDetail, signInAgain } from "/static/api.js";

export const PAGE_SIZE = 200; // items a request (the API's most)

async function json(response) {
  if (response.status === 401) signInAgain();
  if (!response.ok) throw new Error(await problemDetail(response, `HTTP ${response.status}`));
  return response.json();
}

export const listEvents = async () => json(await api("/api/library/events"));
export const getEvent = async (id) => json(await api(`/api/library/events/${id}`));
export const createEvent = async (body) => json(await api("/api/library/events", { method: "POST", body }));
export const changeEvent = async (id, body) =>
  json(await api(`/api/library/events/${id}`, { method: "PATCH", body }));
export const listGroups = async () => json(await api("/api/library/groups"));
export const getItem = async (id) => json(await api(`/api/library/items/${id}`));
export const changeItem = async (id, body) =>
  json(await api(`/api/library/items/${id}`, { method: "PATCH", body }));

// One page of an event's items in the order they were taken; {items, total, next_cursor}.
export async function eventItems(eventId, cursor = null) {
  const query = new URLSearchParams({ event_id: eventId, sort: "oldest", limit: PAGE_SIZE });
  if (cursor) query.set("cursor", cursor);
  return json(await api(`/api/library/search?${query}`));
}

// A file's address without its signature: the page has a session, and an address that stays
// the same lets the browser keep the file in its cache (a signed one changes every answer).
export function unsigned(url) {
  return url ? url.split("?")[0] : null;
}

export function downloadAllUrl(eventId) {
  return `/api/library/events/${eventId}/download`;
}

// Admins and operators change the library; viewers (parents, students) look.
export function mayEdit(me) {
  return me.role === "admin" || me.role === "operator";
}

// The address of an event's page, or of an item in the viewer (the contract the search page
// shares: #library?event=<id>&item=<id>).
export function itemHref(eventId, itemId) {
  const query = new URLSearchParams();
  if (eventId !== null && eventId !== undefined) query.set("event", eventId);
  if (itemId !== null && itemId !== undefined) query.set("item", itemId);
  const text = query.toString();
  return text ? `#library?${text}` : "#library";
}
