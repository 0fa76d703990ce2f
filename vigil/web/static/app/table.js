// The Cameras page: every camera with its health (state, stream, bitrate, uptime, last
// error, footage recorded); for admins "Add camera", for those who may configure a camera
// its Edit page (#cameras?edit=<id>), and the add form (#cameras?add).
import { api } from "/static/api.js";
import { bytes, html, fill, hashParams, useEffect, useState } from "./lib.js";
import { S } from "./strings.js";
import { Loading, StateBadge } from "./tile.js";
import { CameraAdd, CameraEdit, mayConfigure } from "./camera_form.js";

const T = S.setup;
const STORAGE_POLL_MS = 30000;

function uptime(seconds) {
  if (seconds === null || seconds === undefined) return T.none;
  const m = Math.floor(seconds / 60);
  return m >= 60 ? fill(S.hours, { h: Math.floor(m / 60), m: m % 60 }) : fill(S.minutes, { m });
}

function stream(status) {
  if (!status.width || !status.height) return T.none;
  const codec = T.codecs[status.video_codec] || status.video_codec || "";
  // A measured rate (10.1): whole frames a second read best, but for very slow streams.
  const rate = status.fps >= 2 ? Math.round(status.fps) : Math.round(status.fps * 10) / 10;
  const fps = status.fps ? ` ${rate} fps` : "";
  return `${codec} ${status.width}×${status.height}${fps}`;
}

function bitrate(bps) {
  if (!bps) return T.none;
  if (bps >= 1e6) return fill(T.mbps, { n: (bps / 1e6).toFixed(1) });
  return fill(T.kbps, { n: Math.round(bps / 1e3) });
}

// Bytes each camera has recorded (GET /api/cameras/{id}/storage), refreshed now and then;
// a camera whose recordings the user may not see has none shown.
function useRecorded(ids) {
  const [recorded, setRecorded] = useState({});
  const key = ids.join(",");
  useEffect(() => {
    let live = true;
    let timer = null;
    async function poll() {
      const found = {};
      await Promise.all(
        ids.map(async (id) => {
          try {
            const response = await api(`/api/cameras/${id}/storage`);
            if (response.ok) found[id] = (await response.json()).bytes;
          } catch {
            // the server is away: shown as unknown until the next round
          }
        }),
      );
      if (!live) return;
      setRecorded(found);
      timer = setTimeout(poll, STORAGE_POLL_MS);
    }
    poll();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [key]);
  return recorded;
}

function Row({ camera, recorded, me }) {
  const { status } = camera;
  return html`<tr data-camera=${camera.id}>
    <th scope="row" data-label=${T.camera}><a href=${`/cameras/${camera.id}`}>${camera.name}</a></th>
    <td data-label=${T.state}><${StateBadge} state=${status.state} /></td>
    <td data-label=${T.stream}>${stream(status)}</td>
    <td data-label=${T.bitrate}>${bitrate(status.bitrate_bps)}</td>
    <td data-label=${T.uptime}>${uptime(status.uptime_seconds)}</td>
    <td data-label=${T.recorded}>${bytes(recorded)}</td>
    <td data-label=${T.error} class="camera-error">${status.last_error || T.none}</td>
    <td data-label=${T.actions}>
      ${mayConfigure(camera, me)
        ? html`<a class="button" href=${`#cameras?edit=${camera.id}`}
            aria-label=${fill(T.editLabel, { name: camera.name })}>${T.edit}</a>`
        : ""}
    </td>
  </tr>`;
}

function CameraList({ cameras, me }) {
  const recorded = useRecorded(cameras.map((camera) => camera.id));
  const admin = me.role === "admin";
  return html`
    ${admin
      ? html`<div class="toolbar"><a class="button primary" href="#cameras?add">${T.addCamera}</a></div>`
      : ""}
    ${cameras.length === 0
      ? html`<section class="empty"><h2>${S.noCamerasTitle}</h2>
          <p>${admin ? T.emptyAdmin : fill(S.noCamerasViewer, { org: me.org.name })}</p></section>`
      : html`<table class="camera-table">
          <thead><tr>
            <th scope="col">${T.camera}</th><th scope="col">${T.state}</th>
            <th scope="col">${T.stream}</th><th scope="col">${T.bitrate}</th>
            <th scope="col">${T.uptime}</th><th scope="col">${T.recorded}</th>
            <th scope="col">${T.error}</th><th scope="col">${T.actions}</th>
          </tr></thead>
          <tbody>${cameras.map(
            (camera) => html`<${Row} key=${camera.id} camera=${camera} recorded=${recorded[camera.id]} me=${me} />`,
          )}</tbody>
        </table>`}`;
}

export function CameraTable({ cameras, me }) {
  const [params, setParams] = useState(hashParams());
  useEffect(() => {
    const follow = () => setParams(hashParams());
    addEventListener("hashchange", follow);
    return () => removeEventListener("hashchange", follow);
  }, []);
  if (cameras === null || cameras.error) return html`<${Loading} cameras=${cameras} />`;
  if ("add" in params && me.role === "admin") return html`<${CameraAdd} />`;
  if (params.edit) {
    const camera = cameras.find((c) => String(c.id) === params.edit);
    if (!camera || !mayConfigure(camera, me)) {
      return html`<p class="error" role="alert">${fill(T.notFound, { id: params.edit })}</p>
        <p><a href="#cameras">${T.back}</a></p>`;
    }
    return html`<${CameraEdit} key=${camera.id} camera=${camera} me=${me} />`;
  }
  return html`<${CameraList} cameras=${cameras} me=${me} />`;
}
