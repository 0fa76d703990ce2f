// The Live page: the cameras in a grid of 1, 4, 9 or 16 tiles a page, or all of them
// ("fit all"); the choice is remembered in this browser.
import { html, fill, useState } from "./lib.js";
import { S } from "./strings.js";
import { Loading, Tile } from "./tile.js";

const LAYOUTS = ["1", "4", "9", "16", "fit"];
const LAYOUT_KEY = "vigil.layout";

function Empty({ me }) {
  const admin = me.role === "admin";
  return html`<section class="empty">
    <h2>${S.noCamerasTitle}</h2>
    ${admin
      ? html`<p>${S.noCamerasAdmin}</p><p><a href="/docs">${S.apiDocs}</a></p>`
      : html`<p>${fill(S.noCamerasViewer, { org: me.org.name })}</p>`}
  </section>`;
}

export function LiveGrid({ cameras, me }) {
  const stored = localStorage.getItem(LAYOUT_KEY);
  const [layout, setLayout] = useState(LAYOUTS.includes(stored) ? stored : "4");
  const [page, setPage] = useState(0);
  if (cameras === null || cameras.error) return html`<${Loading} cameras=${cameras} />`;
  if (cameras.length === 0) return html`<${Empty} me=${me} />`;

  function choose(value) {
    localStorage.setItem(LAYOUT_KEY, value);
    setLayout(value);
    setPage(0);
  }
  const perPage = layout === "fit" ? cameras.length : Number(layout);
  const pages = Math.ceil(cameras.length / perPage);
  const shown = Math.min(page, pages - 1);
  const visible = cameras.slice(shown * perPage, (shown + 1) * perPage);
  const cols = layout === "fit" ? Math.ceil(Math.sqrt(cameras.length)) : Math.sqrt(perPage);
  // CSSOM, not a style attribute: the Content-Security-Policy allows no inline style.
  const columns = { "--cols": cols, "--phone-cols": Math.min(cols, 2) };
  return html`
    <div class="toolbar">
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
    <div class="grid" style=${columns}>
      ${visible.map((camera) => html`<${Tile} key=${camera.id} camera=${camera} />`)}
    </div>`;
}
