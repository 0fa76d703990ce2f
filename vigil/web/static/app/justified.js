// A justified grid, as photo libraries lay out pictures: rows of equal height filling the
// width, each picture at its own aspect ratio (nothing cropped but the extremes of panoramas).
// Rows are laid out here from the items' sizes alone, before any picture has loaded, so the
// page does not jump as thumbnails arrive; widths come from flex-grow (the ratio), so a full
// row fills its width exactly. Rows off screen are skipped by the browser (content-visibility
// in vigil.css), which keeps scrolling through thousands of items smooth.
import { html, useEffect, useRef, useState } from "./lib.js";

const GAP = 4; // px between tiles, as in vigil.css
const PHONE_WIDTH = 640;
const MIN_RATIO = 0.4;
const MAX_RATIO = 3;

export function ratioOf(item) {
  const ratio = item.width && item.height ? item.width / item.height : 4 / 3;
  return Math.min(Math.max(ratio, MIN_RATIO), MAX_RATIO);
}

// Rows for `items` in a `width` px wide grid aiming at `target` px high: [{height, items,
// full}], a full row exactly `width` wide, the last one (full: false) at the target height.
// Each row ends where its height comes closest to the target.
export function justify(items, width, target, gap = GAP) {
  const rows = [];
  let row = [];
  let ratios = 0;
  const heightOf = (count, sum) => (width - gap * (count - 1)) / sum;
  for (const item of items) {
    const ratio = ratioOf(item);
    row.push(item);
    ratios += ratio;
    if (ratios * target + gap * (row.length - 1) < width) continue;
    const withIt = heightOf(row.length, ratios);
    const without = row.length > 1 ? heightOf(row.length - 1, ratios - ratio) : Infinity;
    if (Math.abs(without - target) < Math.abs(withIt - target)) {
      rows.push({ height: without, items: row.slice(0, -1), full: true });
      row = [item];
      ratios = ratio;
    } else {
      rows.push({ height: withIt, items: row, full: true });
      row = [];
      ratios = 0;
    }
  }
  if (row.length) rows.push({ height: target, items: row, full: false });
  return rows;
}

// The grid's width, followed as the window or the sidebar changes it.
function useWidth(ref) {
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const observer = new ResizeObserver(([entry]) => setWidth(Math.floor(entry.contentRect.width)));
    observer.observe(ref.current);
    return () => observer.disconnect();
  }, []);
  return width;
}

const MOVES = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -1, ArrowDown: 1 };

// The cell an arrow key moves to from `cell`: the one before or after it (left, right), or
// in the row above or below, the one whose middle is nearest its own (up, down).
export function cellTowards(cell, key) {
  const step = MOVES[key];
  if (key === "ArrowLeft" || key === "ArrowRight") {
    const cells = [...cell.closest(".jg").querySelectorAll(".jg-cell")];
    return cells[cells.indexOf(cell) + step] || null;
  }
  const row = step < 0 ? cell.parentElement.previousElementSibling : cell.parentElement.nextElementSibling;
  if (!row) return null;
  const middle = (box) => box.left + box.width / 2;
  const here = middle(cell.getBoundingClientRect());
  let best = null;
  for (const other of row.querySelectorAll(".jg-cell")) {
    const distance = Math.abs(middle(other.getBoundingClientRect()) - here);
    if (!best || distance < best.distance) best = { other, distance };
  }
  return best && best.other;
}

// Arrow keys move the focus from tile to tile, as in a photo library.
function moveFocus(event) {
  const cell = event.target.closest(".jg-cell");
  if (!cell || !(event.key in MOVES) || event.altKey || event.ctrlKey || event.metaKey) return;
  const next = cellTowards(cell, event.key);
  event.preventDefault();
  const target = next && next.querySelector("a, button");
  if (target) {
    target.focus();
    target.scrollIntoView({ block: "nearest" });
  }
}

// `tile(item)` draws one tile's content; the grid places it.
export function JustifiedGrid({ items, tile, label }) {
  const ref = useRef(null);
  const width = useWidth(ref);
  const target = width && width < PHONE_WIDTH ? 110 : 190;
  const rows = width ? justify(items, width, target) : [];
  return html`<div class="jg" ref=${ref} role="list" aria-label=${label} onKeyDown=${moveFocus}>
    ${rows.map(
      (row) => html`<div class=${row.full ? "jg-row" : "jg-row last"} role="presentation"
        style=${{ "--h": `${row.height.toFixed(2)}px` }}>
        ${row.items.map(
          (item) => html`<div class="jg-cell" role="listitem" key=${item.id} data-item=${item.id}
            style=${{ "--r": ratioOf(item).toFixed(4) }}>${tile(item)}</div>`,
        )}
      </div>`,
    )}
  </div>`;
}
