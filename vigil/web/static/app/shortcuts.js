// Keyboard shortcuts everywhere in the app: "?" shows them all in a dialog, "g" then a
// page's letter goes to that page. Keys typed into a field are the field's.
import { goTo, html, useEffect, useRef } from "./lib.js";
import { S } from "./strings.js";

const GO = { l: "live", r: "recordings", e: "events", c: "cameras" };
const GO_WINDOW_MS = 1500;

export function typing(event) {
  const target = event.target;
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName))
  );
}

// The groups the dialog lists: [title, [[keys, what they do], ...]].
function groups() {
  return [
    [S.shortcuts.anywhere, S.shortcuts.global],
    [S.live, S.shortcuts.live],
    [S.recordings.title, S.shortcuts.recordings],
    [S.events.title, S.events.keyHints],
    [S.shortcuts.zones, S.shortcuts.zoneKeys],
    [S.library.gridTitle, S.library.gridKeys],
    [S.library.viewerTitle, S.library.viewerKeys],
  ];
}

export function Shortcuts() {
  const dialog = useRef(null);
  useEffect(() => {
    let goPressed = 0;
    function onKey(event) {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
      if (event.key === "?") {
        event.preventDefault();
        if (dialog.current.open) dialog.current.close();
        else dialog.current.showModal();
      } else if (event.key === "g") {
        goPressed = Date.now();
      } else if (event.key in GO && Date.now() - goPressed < GO_WINDOW_MS) {
        goPressed = 0;
        event.preventDefault();
        goTo(GO[event.key]);
      }
    }
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);
  return html`<dialog ref=${dialog} class="shortcuts" aria-labelledby="shortcuts-title">
    <h2 id="shortcuts-title">${S.shortcuts.title}</h2>
    ${groups().map(
      ([title, keys]) => html`<section>
        <h3>${title}</h3>
        <dl>${keys.map(([key, what]) => html`<div><dt><kbd>${key}</kbd></dt><dd>${what}</dd></div>`)}</dl>
      </section>`,
    )}
    <form method="dialog"><button type="submit" autofocus>${S.shortcuts.close}</button></form>
  </dialog>`;
}
