// What the Events page asks of the API: a page of events for the filters, one event, review
// and protection, and saving an event's snapshot or clip into the library. Each call answers
// the API's JSON or throws an Error with the problem's words (401 goes to sign-in).
import { api, problemDetail, signInAgain } from "/static/api.js";

export const PAGE_SIZE = 50;
const EXPORT_POLL_MS = 1000;
const SINCE_MS = { "1h": 3_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000 };

async function call(path, options) {
  const response = await api(path, options);
  if (response.status === 401) {
    signInAgain();
    throw new Error(`HTTP ${response.status}`);
  }
  if (!response.ok) throw new Error(await problemDetail(response, `HTTP ${response.status}`));
  return response.status === 204 ? null : response.json();
}

// The list's query for the page's filters (see event_filters.js), from `cursor` on.
function query(filters, cursor) {
  const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (filters.camera) q.set("camera_id", filters.camera);
  if (filters.label) q.set("label", filters.label);
  if (filters.zone) q.set("zone", filters.zone);
  if (filters.since in SINCE_MS) q.set("start", new Date(Date.now() - SINCE_MS[filters.since]).toISOString());
  if (filters.reviewed !== "all") q.set("reviewed", filters.reviewed);
  if (filters.protected) q.set("protected", filters.protected);
  if (cursor) q.set("cursor", cursor);
  return q.toString();
}

// {events, next_cursor}: newest first.
export function listEvents(filters, cursor = null) {
  return call(`/api/events?${query(filters, cursor)}`);
}

// Whether an event belongs in a list with these filters, as far as the page can change it.
export function belongs(event, filters) {
  if (filters.reviewed !== "all" && String(event.reviewed) !== filters.reviewed) return false;
  return !filters.protected || String(event.protected) === filters.protected;
}

export function getEvent(id) {
  return call(`/api/events/${id}`);
}

// {reviewed?, protected?}: answers the event as it is now.
export function changeEvent(id, change) {
  return call(`/api/events/${id}`, { method: "PATCH", body: change });
}

// The event's picture for this session (a signed link would expire while the list is open);
// a new picture of an event still going on gets a new address.
export function thumbnailUrl(event) {
  if (!event.snapshot) return null;
  return `/api/events/${event.id}/snapshot.jpg?at=${encodeURIComponent(event.snapshot.time)}`;
}

export function saveSnapshot(id) {
  return call("/api/library/items/from-event", { method: "POST", body: { event_id: id } });
}

// Export the event's clip, wait for it (onProgress(0..1) meanwhile), then copy it into the
// library; answers the library item.
export async function saveClip(id, onProgress) {
  let job = await call(`/api/events/${id}/clip`, { method: "POST" });
  while (job.status === "queued" || job.status === "running") {
    onProgress(job.progress);
    await new Promise((resolve) => setTimeout(resolve, EXPORT_POLL_MS));
    job = await call(`/api/exports/${job.id}`);
  }
  if (job.status !== "done") throw new Error(job.error || job.status);
  return call("/api/library/items/from-export", { method: "POST", body: { export_id: job.id } });
}
