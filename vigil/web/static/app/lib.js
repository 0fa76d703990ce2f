// Preact and htm, vendored (static/vendor/README.md), imported by relative URL: an import
// map would be an inline script, which the Content-Security-Policy refuses.
import { h, render } from "../vendor/preact/preact.module.js";
import { useEffect, useRef, useState } from "../vendor/preact/hooks.module.js";
import htm from "../vendor/htm/htm.module.js";

export const html = htm.bind(h);
export { render, useEffect, useRef, useState };

// Fill {name} placeholders of a string from strings.js.
export function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (_, key) => String(values[key] ?? ""));
}
