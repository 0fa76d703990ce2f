// One camera of the grid: its sub stream playing (player.js), its name, its state in words
// and colour with the reason, and links to watch it full screen (main stream) and to a
// snapshot.
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

export function Tile({ camera }) {
  const video = useRef(null);
  const [player, setPlayer] = useState("connecting");
  const [stalledSince, setStalledSince] = useState(null);
  useEffect(() => {
    function onState(mode, detail) {
      if (mode === "stalled") setStalledSince(detail);
      else if (mode === "moving") setStalledSince(null);
      else setPlayer(mode);
    }
    return play(video.current, camera.id, { stream: "sub", onState });
  }, [camera.id]);
  const { last_error: lastError } = camera.status;
  // The picture stopped while the camera is not known to be down: stalled, whatever the
  // status says between the recorder's reconnection attempts.
  const down = ["offline", "error", "disabled"].includes(camera.status.state);
  const state = stalledSince && !down ? "stalled" : camera.status.state;
  // The server says streaming, but this tile lost its connection: say so until it is back.
  const reconnecting = state === "streaming" && player === "offline";
  const name = { name: camera.name };
  return html`<figure class="tile" data-camera=${camera.id} data-state=${state}>
    <video muted autoplay playsinline aria-label=${fill(S.videoLabel, name)} ref=${video}></video>
    <figcaption>
      <span class="name">${camera.name}</span>
      <${StateBadge} state=${state} />
      ${reconnecting ? html`<span class="reason">${S.reconnecting}</span>` : ""}
      ${stalledSince && !down ? html`<span class="reason">${fill(S.noPicture, { time: stalledSince })}</span>` : ""}
      ${state !== "streaming" && lastError ? html`<span class="reason">${lastError}</span>` : ""}
      <span class="actions">
        <a class="button" href=${`/cameras/${camera.id}`} aria-label=${fill(S.enlargeLabel, name)}>${S.enlarge}</a>
        <a class="button" href=${`/api/cameras/${camera.id}/snapshot.jpg`} target="_blank"
          aria-label=${fill(S.snapshotLabel, name)}>${S.snapshot}</a>
      </span>
    </figcaption>
  </figure>`;
}
