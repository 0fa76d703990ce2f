// One camera of the grid: its sub stream playing (player.js), the main stream when enlarged
// or full screen; its name, its state in words and colour with the reason; a handle to
// arrange it (drag, arrow keys, or its menu), and buttons to enlarge it, show it full
// screen, take a snapshot and open the camera's own page.
import { play } from "/static/player.js";
import { html, fill, useEffect, useRef, useState } from "./lib.js";
import { S } from "./strings.js";

export function StateBadge({ state }) {
  return html`<span class=${`badge state state-${state}`}>${S.states[state] || state}</span>`;
}

export function Loading({ cameras }) {
  if (cameras && cameras.error) return html`<p class="error" role="alert">${fill(S.cannotLoad, { detail: cameras.error })}</p>`;
  return html`<p class="muted" role="status">${S.loading}</p>`;
}

// The tile's state and the reasons to show beside it, from the camera's status (the
// server's) and what this tile's player saw.
function tileState(camera, player, stalledSince) {
  const { state: server, last_error: lastError } = camera.status;
  const reasons = [];
  // The picture stopped while the camera is not known to be down: stalled, whatever the
  // status says between the recorder's reconnection attempts, until the picture moves.
  const down = ["offline", "error", "disabled"].includes(server);
  let state = server;
  if (stalledSince && !down) {
    state = "stalled";
    reasons.push(fill(S.noPicture, { time: stalledSince }));
  } else if (server === "streaming" && player.mode === "offline") {
    // The server says streaming, but this tile lost its connection: say so until it is back.
    reasons.push(S.reconnecting);
  } else if (server === "streaming" && player.mode === "error") {
    state = "error";
    if (player.detail) reasons.push(player.detail);
  }
  if (state !== "streaming" && lastError) reasons.push(lastError);
  return { state, reasons };
}

// Arrange: the handle is dragged onto another tile, or moved with the arrow keys, or opens
// a menu with "Move earlier" and "Move later" (for touch).
function Handle({ camera, arrange }) {
  const [open, setOpen] = useState(false);
  const name = { name: camera.name };
  function onKeyDown(event) {
    const delta = { ArrowLeft: -1, ArrowUp: -1, ArrowRight: 1, ArrowDown: 1 }[event.key];
    if (delta === undefined) return;
    event.preventDefault();
    arrange.move(delta);
  }
  function onDragStart(event) {
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", String(camera.id));
    const tile = event.currentTarget.closest(".tile");
    if (tile) event.dataTransfer.setDragImage(tile, 20, 20);
    setOpen(false);
  }
  function closeOnEscape(event) {
    if (event.key !== "Escape") return;
    event.currentTarget.previousElementSibling.focus(); // the handle
    setOpen(false);
  }
  function move(delta) {
    arrange.move(delta);
    setOpen(false);
  }
  return html`<span class="arrange">
    <button type="button" class="handle" draggable="true" aria-expanded=${open ? "true" : "false"}
      aria-label=${fill(S.grid.arrangeLabel, name)} title=${S.grid.arrangeHint}
      onClick=${() => setOpen(!open)} onKeyDown=${onKeyDown} onDragStart=${onDragStart}>⠿</button>
    ${open
      ? html`<span class="menu" role="group" aria-label=${fill(S.grid.arrangeLabel, name)}
          onKeyDown=${closeOnEscape}>
          <button type="button" disabled=${!arrange.earlier} onClick=${() => move(-1)}
            aria-label=${fill(S.grid.moveEarlierLabel, name)}>${S.grid.moveEarlier}</button>
          <button type="button" disabled=${!arrange.later} onClick=${() => move(1)}
            aria-label=${fill(S.grid.moveLaterLabel, name)}>${S.grid.moveLater}</button>
        </span>`
      : ""}
  </span>`;
}

// camera; enlarged: filling the grid (main stream); onEnlarge(): enlarge it; arrange: null
// (fixed order) or {move(delta), earlier, later, drop(fromId)}.
export function Tile({ camera, enlarged = false, onEnlarge, arrange = null }) {
  const figure = useRef(null);
  const video = useRef(null);
  const [player, setPlayer] = useState({ mode: "connecting", detail: "" });
  const [stalledSince, setStalledSince] = useState(null);
  const [full, setFull] = useState(false);
  const [over, setOver] = useState(false);
  const stream = enlarged || full ? "main" : "sub";
  useEffect(() => {
    function onState(mode, detail) {
      if (mode === "stalled") setStalledSince(detail);
      else if (mode === "moving") setStalledSince(null);
      else setPlayer({ mode, detail });
    }
    return play(video.current, camera.id, { stream, onState });
  }, [camera.id, stream]);
  useEffect(() => {
    const follow = () => setFull(document.fullscreenElement === figure.current);
    document.addEventListener("fullscreenchange", follow);
    return () => document.removeEventListener("fullscreenchange", follow);
  }, []);
  const { state, reasons } = tileState(camera, player, stalledSince);
  const name = { name: camera.name };
  const drop = arrange
    ? {
        onDragOver: (event) => {
          event.preventDefault();
          event.dataTransfer.dropEffect = "move";
          setOver(true);
        },
        onDragLeave: () => setOver(false),
        onDrop: (event) => {
          event.preventDefault();
          setOver(false);
          const from = Number(event.dataTransfer.getData("text/plain"));
          if (from && from !== camera.id) arrange.drop(from);
        },
      }
    : {};
  return html`<figure ref=${figure} class=${`tile${over ? " drop-target" : ""}${enlarged ? " enlarged" : ""}`}
    data-camera=${camera.id} data-state=${state} data-stream=${stream} ...${drop}>
    <video muted autoplay playsinline aria-label=${fill(S.videoLabel, name)} ref=${video}></video>
    <figcaption>
      ${arrange ? html`<${Handle} camera=${camera} arrange=${arrange} />` : ""}
      <span class="name">${camera.name}</span>
      <${StateBadge} state=${state} />
      ${reasons.map((reason) => html`<span class="reason">${reason}</span>`)}
      <span class="actions">
        ${enlarged
          ? ""
          : html`<button type="button" data-enlarge onClick=${onEnlarge} aria-label=${fill(S.enlargeLabel, name)}>${S.enlarge}</button>`}
        <button type="button" onClick=${() => (full ? document.exitFullscreen() : figure.current.requestFullscreen())}
          aria-label=${fill(full ? S.grid.exitFullScreenLabel : S.grid.fullScreenLabel, name)}>
          ${full ? S.grid.exitFullScreen : S.grid.fullScreen}</button>
        <a class="button" href=${`/api/cameras/${camera.id}/snapshot.jpg`} target="_blank"
          aria-label=${fill(S.snapshotLabel, name)}>${S.snapshot}</a>
        <a class="button" href=${`/cameras/${camera.id}`} aria-label=${fill(S.grid.openLabel, name)}>${S.grid.open}</a>
      </span>
    </figcaption>
  </figure>`;
}
