// How the library pages write dates, counts, lengths and groups, in the browser's language
// and time zone.
import { fill } from "./lib.js";
import { S } from "./strings.js";

const T = S.library;

export function longDate(iso) {
  return new Date(iso).toLocaleDateString([], { dateStyle: "long" });
}

export function dateTime(iso) {
  return new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

// "2 June 2026", or "2 – 4 June 2026" for an event over several days.
export function eventDates(event) {
  const start = longDate(event.start);
  if (!event.end) return start;
  const end = longDate(event.end);
  return end === start ? start : fill(T.dateRange, { start, end });
}

function plural(n, one, many) {
  return fill(n === 1 ? one : many, { n });
}

// "12 photos · 3 videos"
export function countsText(counts) {
  const parts = [];
  if (counts.image) parts.push(plural(counts.image, T.onePhoto, T.photos));
  if (counts.video) parts.push(plural(counts.video, T.oneVideo, T.videos));
  return parts.length ? parts.join(" · ") : T.noItems;
}

// "0:07", "12:30", "1:02:03"
export function clock(seconds) {
  const s = Math.max(0, Math.round(seconds || 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor(s / 60) % 60;
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

// The names of the groups an event or item is shared with that this person may name.
export function groupNames(ids, groups) {
  const names = new Map(groups.map((g) => [g.id, g.name]));
  return ids.filter((id) => names.has(id)).map((id) => names.get(id));
}

// Tags as typed ("choir, music ,, year 5") to a list (["choir", "music", "year 5"]).
export function parseTags(text) {
  return [...new Set(text.split(",").map((t) => t.trim()).filter(Boolean))];
}

// A <input type="datetime-local"> value for an ISO instant, in local time, and back.
export function localInput(iso) {
  const at = new Date(iso);
  const local = new Date(at.getTime() - at.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}

export function fromLocalInput(value) {
  return value ? new Date(value).toISOString() : null;
}
