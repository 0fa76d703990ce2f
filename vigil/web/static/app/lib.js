// Preact and htm, vendored (static/vendor/README.md), imported by relative URL: an import
// map would be an inline script, which the Content-Security-Policy refuses.
import { h, render } from "../vendor/preact/preact.module.js";
import { useEffect, useLayoutEffect, useRef, useState } from "../vendor/preact/hooks.module.js";
import htm from "../vendor/htm/htm.module.js";
import { S } from "./strings.js";

export const html = htm.bind(h);
export { render, useEffect, useLayoutEffect, useRef, useState };

// Fill {name} placeholders of a string from strings.js.
export function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (_, key) => String(values[key] ?? ""));
}

// The page's parameters from the address: "#recordings?camera=2&at=…" gives
// {camera: "2", at: "…"}.
export function hashParams() {
  const query = location.hash.split("?")[1] || "";
  return Object.fromEntries(new URLSearchParams(query));
}

// Go to a page of the app with parameters (null and undefined ones left out).
export function goTo(page, params = {}) {
  const kept = Object.entries(params).filter(([, value]) => value !== null && value !== undefined);
  const query = new URLSearchParams(kept).toString();
  location.hash = query ? `${page}?${query}` : page;
}

// A size in bytes, in the largest decimal unit under 1,000 of it ("4.2 MB"); "—" for none.
export function bytes(n) {
  if (n === null || n === undefined) return S.setup.none;
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const shown = unit === 0 ? String(value) : value.toFixed(value < 10 ? 1 : 0);
  return fill(S.setup.bytes[units[unit]], { n: shown });
}
