// What the live grid remembers for its user, on the server (GET/PUT /api/me/preferences):
// the layout, the order of the cameras and the view shown; and the views to choose from
// (GET/POST/PATCH/DELETE /api/me/views: the user's own, then the organisation's camera
// groups, read-only). Each change is saved whole at once; of two browsers, the last wins.
import { api, problemDetail, signInAgain } from "/static/api.js";
import { useEffect, useState } from "./lib.js";

let writing = Promise.resolve();

export const DEFAULT_PREFERENCES = { layout: "4", camera_order: [], view: null };

// A view's key, as preferences.view holds it: "user:3" or "group:2".
export const viewKey = (view) => `${view.kind}:${view.id}`;

async function json(response) {
  if (response.status === 401) signInAgain();
  if (!response.ok) throw new Error(await problemDetail(response, `HTTP ${response.status}`));
  return response.status === 204 ? null : response.json();
}

// [preferences (null while loading), save(changes), error]: save() shows the change at once
// and writes the whole of the preferences to the server.
export function usePreferences() {
  const [preferences, setPreferences] = useState(null);
  const [error, setError] = useState("");
  useEffect(() => {
    api("/api/me/preferences")
      .then(json)
      .then(setPreferences)
      .catch(() => setPreferences(DEFAULT_PREFERENCES)); // the grid still works, unsaved
  }, []);
  function save(changes) {
    const next = { ...(preferences || DEFAULT_PREFERENCES), ...changes };
    setPreferences(next);
    // One write at a time, in order: quick changes (arrow keys) reach the server as made.
    writing = writing
      .then(() => api("/api/me/preferences", { method: "PUT", body: next }))
      .then(json)
      .then(() => setError(""))
      .catch((failure) => setError(failure.message));
    return next;
  }
  return [preferences, save, error];
}

// [views (null while loading), reload(), setViews(views) to show a change at once].
export function useViews() {
  const [views, setViews] = useState(null);
  const [round, setRound] = useState(0);
  useEffect(() => {
    api("/api/me/views")
      .then(json)
      .then(setViews)
      .catch(() => setViews([]));
  }, [round]);
  return [views, () => setRound((n) => n + 1), setViews];
}

export const createView = (view) => api("/api/me/views", { method: "POST", body: view }).then(json);
export const updateView = (id, changes) =>
  api(`/api/me/views/${id}`, { method: "PATCH", body: changes }).then(json);
export const deleteView = (id) => api(`/api/me/views/${id}`, { method: "DELETE" }).then(json);
