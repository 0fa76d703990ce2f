// The Live page: the cameras in a grid of 1, 4, 9 or 16 tiles a page, or all of them
// ("fit all"); all cameras or a view (the user's own, or an organisation's camera group).
// Tiles are arranged by dragging one onto another (or from its handle's keys and menu);
// one tile can be enlarged to fill the grid, playing its main stream, until Esc or Back.
// The layout, the order and the view shown are remembered on the server (prefs.js), so
// they follow the user to another browser.
import { html, fill, useEffect, useState } from "./lib.js";
import { S } from "./strings.js";
import { Loading, Tile } from "./tile.js";
import { ViewPicker } from "./views.js";
import { updateView, usePreferences, useViews, viewKey } from "./prefs.js";

const LAYOUTS = ["1", "4", "9", "16", "fit"];

function Empty({ me }) {
  const admin = me.role === "admin";
  return html`<section class="empty">
    <h2>${S.noCamerasTitle}</h2>
    ${admin
      ? html`<p>${S.noCamerasAdmin}</p>
          <p><a class="button primary" href="#cameras?add">${S.addFirstCamera}</a></p>`
      : html`<p>${fill(S.noCamerasViewer, { org: me.org.name })}</p>`}
  </section>`;
}

// ids in `order` first (those still there), then the rest in their own order.
function ordered(cameras, order) {
  const byId = new Map(cameras.map((camera) => [camera.id, camera]));
  const first = order.filter((id) => byId.has(id)).map((id) => byId.get(id));
  const placed = new Set(order);
  return [...first, ...cameras.filter((camera) => !placed.has(camera.id))];
}

// The list of ids with `from` moved to where `to` is.
function moved(ids, from, to) {
  const rest = ids.filter((id) => id !== from);
  const at = ids.indexOf(to);
  rest.splice(at, 0, from);
  return rest;
}

// After a move the tile's node moves too, which takes the focus away from its handle.
function focusHandle(cameraId) {
  requestAnimationFrame(() => document.querySelector(`.tile[data-camera="${cameraId}"] .handle`)?.focus());
}

function Enlarged({ camera, back }) {
  useEffect(() => {
    const onKey = (event) => {
      if (event.key === "Escape" && !document.fullscreenElement) back();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [back]);
  return html`
    <div class="toolbar">
      <button type="button" class="back" onClick=${back}>${S.grid.back}</button>
      <span class="muted">${S.grid.escHint}</span>
    </div>
    <div class="grid one">
      <${Tile} key=${`${camera.id}-enlarged`} camera=${camera} enlarged=${true} />
    </div>`;
}

export function LiveGrid({ cameras, me }) {
  const [preferences, save, saveError] = usePreferences();
  const [loadedViews, reloadViews, setViews] = useViews();
  const [page, setPage] = useState(0);
  const [enlarged, setEnlarged] = useState(null);
  // The tiles start without waiting for the views, unless one of them is to be shown.
  const waiting = preferences === null || (loadedViews === null && preferences.view !== null);
  if (cameras === null || cameras.error || waiting) return html`<${Loading} cameras=${cameras} />`;
  const views = loadedViews || [];
  if (cameras.length === 0) return html`<${Empty} me=${me} />`;

  const view = views.find((candidate) => viewKey(candidate) === preferences.view) || null;
  const all = ordered(cameras, preferences.camera_order);
  const known = new Map(cameras.map((camera) => [camera.id, camera]));
  const shownCameras = view ? view.camera_ids.filter((id) => known.has(id)).map((id) => known.get(id)) : all;
  const layout = LAYOUTS.includes(preferences.layout) ? preferences.layout : "4";

  const big = enlarged !== null && known.get(enlarged);
  if (big) {
    const back = () => {
      setEnlarged(null);
      requestAnimationFrame(() => document.querySelector(`.tile[data-camera="${big.id}"] [data-enlarge]`)?.focus());
    };
    return html`<${Enlarged} camera=${big} back=${back} />`;
  }

  // Saved whole: without the cameras gone since the page loaded, which the server refuses.
  const store = (changes) => save({ camera_order: preferences.camera_order.filter((id) => known.has(id)), ...changes });
  function choose(value) {
    store({ layout: value });
    setPage(0);
  }
  function chooseView(next) {
    store(next ? { view: viewKey(next), layout: next.layout } : { view: null });
    setPage(0);
  }
  // Arranging: the order of all cameras, or of the user's own view; a group's is fixed.
  const arrangeable = view === null || view.kind === "user";
  const ids = shownCameras.map((camera) => camera.id);
  async function reorder(next, cameraId) {
    if (view === null) store({ camera_order: next });
    else {
      setViews(views.map((each) => (each === view ? { ...view, camera_ids: next } : each)));
      await updateView(view.id, { camera_ids: next }).catch(() => reloadViews());
    }
    if (cameraId !== undefined) focusHandle(cameraId);
  }

  const perPage = layout === "fit" ? Math.max(shownCameras.length, 1) : Number(layout);
  const pages = Math.max(1, Math.ceil(shownCameras.length / perPage));
  const shown = Math.min(page, pages - 1);
  const visible = shownCameras.slice(shown * perPage, (shown + 1) * perPage);
  const cols = layout === "fit" ? Math.ceil(Math.sqrt(shownCameras.length)) : Math.sqrt(perPage);
  // CSSOM, not a style attribute: the Content-Security-Policy allows no inline style.
  const columns = { "--cols": Math.max(cols, 1), "--phone-cols": Math.min(Math.max(cols, 1), 2) };
  function arrange(camera) {
    if (!arrangeable) return null;
    const at = ids.indexOf(camera.id);
    return {
      earlier: at > 0,
      later: at < ids.length - 1,
      move: (delta) => {
        const to = ids[at + delta];
        if (to !== undefined) reorder(moved(ids, camera.id, to), camera.id);
      },
      drop: (from) => reorder(moved(ids, from, camera.id)),
    };
  }
  return html`
    <div class="toolbar">
      <${ViewPicker} views=${views} view=${view} onChoose=${chooseView} onChanged=${reloadViews}
        layout=${layout} cameras=${all} chosen=${ids} />
      <div role="group" aria-label=${S.layout} class="segmented">
        ${LAYOUTS.map(
          (value) => html`<button type="button" aria-pressed=${layout === value ? "true" : "false"}
            aria-label=${S.layoutLabel[value]} onClick=${() => choose(value)}>${S.layouts[value]}</button>`,
        )}
      </div>
      ${pages > 1
        ? html`<div class="pager">
            <button type="button" aria-label=${S.previousPage} disabled=${shown === 0}
              onClick=${() => setPage(shown - 1)}>‹</button>
            <span>${fill(S.page, { page: shown + 1, pages })}</span>
            <button type="button" aria-label=${S.nextPage} disabled=${shown === pages - 1}
              onClick=${() => setPage(shown + 1)}>›</button>
          </div>`
        : ""}
    </div>
    ${saveError ? html`<p class="error" role="alert">${fill(S.grid.notSaved, { detail: saveError })}</p>` : ""}
    ${visible.length === 0 ? html`<p class="muted">${S.grid.emptyView}</p>` : ""}
    <div class=${cols >= 3 ? "grid dense" : "grid"} style=${columns}>
      ${visible.map(
        (camera) => html`<${Tile} key=${camera.id} camera=${camera} arrange=${arrange(camera)}
          onEnlarge=${() => setEnlarged(camera.id)} />`,
      )}
    </div>`;
}
