// The Cameras page: every camera with its state, stream and last error.
import { html, fill } from "./lib.js";
import { S } from "./strings.js";
import { Loading, StateBadge } from "./tile.js";

function uptime(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const m = Math.floor(seconds / 60);
  return m >= 60 ? fill(S.hours, { h: Math.floor(m / 60), m: m % 60 }) : fill(S.minutes, { m });
}

function stream(status) {
  if (!status.width || !status.height) return "";
  return `${status.video_codec} ${status.width}×${status.height} ${status.fps ?? 0} fps`;
}

export function CameraTable({ cameras }) {
  if (cameras === null || cameras.error) return html`<${Loading} cameras=${cameras} />`;
  const t = S.table;
  return html`<div class="table-scroll"><table>
    <thead><tr><th>${t.camera}</th><th>${t.state}</th><th>${t.stream}</th><th>${t.uptime}</th><th>${t.error}</th></tr></thead>
    <tbody>${cameras.map(
      (camera) => html`<tr key=${camera.id}>
        <td><a href=${`/cameras/${camera.id}`}>${camera.name}</a></td>
        <td><${StateBadge} state=${camera.status.state} /></td>
        <td>${stream(camera.status)}</td>
        <td>${uptime(camera.status.uptime_seconds)}</td>
        <td>${camera.status.last_error || ""}</td>
      </tr>`,
    )}</tbody></table></div>`;
}
