// The top bar's way into Search: a link to the page, and "/" from anywhere, which also puts
// the focus into the search box once the page is up. Apart from search.js, which is loaded
// only when the page is first shown.
import { html, useEffect, useState } from "./lib.js";
import { S } from "./strings.js";
import { typing } from "./shortcuts.js";

const T = S.search;
let focusOnOpen = false; // "/" pressed elsewhere: the box takes the focus once the page is up

// Whether "/" asked for the box's focus (once).
export function focusRequested() {
  const asked = focusOnOpen;
  focusOnOpen = false;
  return asked;
}

// On a desk; a phone has it in the bar at the bottom.
export function SearchLink() {
  const [here, setHere] = useState(location.hash.startsWith("#search"));
  useEffect(() => {
    const follow = () => setHere(location.hash.startsWith("#search"));
    addEventListener("hashchange", follow);
    return () => removeEventListener("hashchange", follow);
  }, []);
  useEffect(() => {
    function onKey(event) {
      if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
      event.preventDefault();
      const box = document.getElementById("search-words");
      if (box) box.focus();
      else {
        focusOnOpen = true;
        location.hash = "#search";
      }
    }
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);
  return html`<a class="button search-link" href="#search" aria-keyshortcuts="/"
    title=${T.linkTitle} aria-current=${here ? "page" : undefined}>
    <svg aria-hidden="true" viewBox="0 0 16 16" width="16" height="16"><circle cx="6.5" cy="6.5" r="4.5" fill="none"
      stroke="currentColor" stroke-width="1.8" /><path d="M10 10l4.5 4.5" stroke="currentColor" stroke-width="1.8" /></svg>
    <span class="long">${T.link}</span></a>`;
}
