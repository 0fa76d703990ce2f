// System (#admin?tab=system): the server and its database, each media node with its disk
// and object detector, the cameras by state and detection, and each camera's health, read
// again every few seconds.
import { bytes, fill, html, useEffect, useState } from "./lib.js";
import { S } from "./strings.js";
import { Pending, call } from "./rest.js";
import { StateBadge } from "./tile.js";

const T = S.admin;
const POLL_MS = 5000;

function useSystem() {
  const [state, setState] = useState({ data: null, error: null });
  useEffect(() => {
    let live = true;
    let timer = null;
    async function poll() {
      try {
        const data = await call("/api/system");
        if (live) setState({ data, error: null });
      } catch (error) {
        if (live) setState((old) => ({ data: old.data, error: error.message }));
      }
      if (live) timer = setTimeout(poll, POLL_MS);
    }
    poll();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, []);
  return state;
}

function Nodes({ nodes }) {
  return html`<table class="cards nodes-table">
    <thead><tr><th scope="col">${T.node}</th><th scope="col">${T.state}</th><th scope="col">${T.cameras}</th>
      <th scope="col">${T.disk}</th><th scope="col">${T.detector}</th></tr></thead>
    <tbody>${nodes.map((node) => html`<tr data-node=${node.name}>
      <th scope="row" data-label=${T.node}>${node.name}</th>
      <td data-label=${T.state}><span class=${`badge ${node.connected ? "on" : "off"}`}>${node.connected ? T.connected : T.away}</span>
        ${node.draining && html` <span class="badge node-draining" title=${T.drainingHint}>${T.draining}</span>`}</td>
      <td data-label=${T.cameras}>${node.cameras}</td>
      <td data-label=${T.disk} data-node-disk>${node.disk
        ? html`<meter min="0" max=${node.disk.total_bytes} value=${node.disk.used_bytes} high=${node.disk.total_bytes * 0.9}
            optimum="0" aria-label=${fill(T.nodeDiskLabel, { name: node.name })}></meter>
            ${fill(T.diskShort, { free: bytes(node.disk.free_bytes), total: bytes(node.disk.total_bytes) })}`
        : T.unknown}</td>
      <td data-label=${T.detector}>${node.detector
        ? fill(T.detectorWords, { name: T.detectors[node.detector] || node.detector, n: node.detector_workers })
        : T.unknown}</td>
    </tr>`)}</tbody>
  </table>`;
}

function Cameras({ cameras }) {
  if (cameras.length === 0) return html`<p class="muted">${T.noCameras}</p>`;
  return html`<table class="cards health-cameras">
    <thead><tr><th scope="col">${T.camera}</th><th scope="col">${T.state}</th><th scope="col">${T.detection}</th>
      <th scope="col">${T.problem}</th></tr></thead>
    <tbody>${cameras.map((camera) => {
      const status = camera.status;
      const problems = [status.last_error, status.detection_error].filter(Boolean);
      if (status.detector_errors) problems.push(fill(T.detectorErrors, { n: status.detector_errors }));
      if (status.detect_frames_dropped) problems.push(fill(T.framesDropped, { n: status.detect_frames_dropped }));
      return html`<tr data-health-camera=${camera.id}>
        <th scope="row" data-label=${T.camera}><a href=${`#cameras?edit=${camera.id}`}>${camera.name}</a></th>
        <td data-label=${T.state}><${StateBadge} state=${status.state} /></td>
        <td data-label=${T.detection}>${T.detectionStates[status.detection] || status.detection}</td>
        <td data-label=${T.problem} class="camera-error">${problems.join("; ") || T.none}</td>
      </tr>`;
    })}</tbody>
  </table>`;
}

export function SystemTab({ cameras }) {
  const system = useSystem();
  if (!system.data) return html`<${Pending} error=${system.error} />`;
  const data = system.data;
  const states = Object.entries(data.camera_states).filter(([, n]) => n > 0);
  const detection = Object.entries(data.detection).filter(([, n]) => n > 0);
  return html`
    ${system.error ? html`<p class="error" role="alert">${fill(S.cannotLoad, { detail: system.error })}</p>` : ""}
    <div class="stats">
      <section class="panel stat" aria-labelledby="server-title" data-server>
        <h3 id="server-title">${T.server}</h3>
        <p>${fill(T.version, { version: data.version })}</p>
        <p>${T.database}: <span class=${`badge ${data.database === "ok" ? "on" : "off"}`}>${T.databaseStates[data.database]}</span></p>
      </section>
      <section class="panel stat" aria-labelledby="camera-states-title" data-camera-states>
        <h3 id="camera-states-title">${T.cameras}</h3>
        ${states.length
          ? html`<ul class="counts">${states.map(([state, n]) => html`<li><${StateBadge} state=${state} /> ${n}</li>`)}</ul>`
          : html`<p class="muted">${T.noCameras}</p>`}
      </section>
      <section class="panel stat" aria-labelledby="detection-title" data-detection>
        <h3 id="detection-title">${T.detection}</h3>
        ${detection.length
          ? html`<ul class="counts">${detection.map(([state, n]) => html`<li>${T.detectionStates[state] || state}: ${n}</li>`)}</ul>`
          : html`<p class="muted">${T.noCameras}</p>`}
        ${data.detection_errors.map((reason) => html`<p class="notice">${reason}</p>`)}
        ${data.detector_errors || data.detect_frames_dropped
          ? html`<p>${fill(T.detectionTrouble, { errors: data.detector_errors, dropped: data.detect_frames_dropped })}</p>`
          : ""}
      </section>
    </div>
    <section aria-labelledby="nodes-title">
      <h3 id="nodes-title">${T.nodes}</h3>
      ${data.nodes.length ? html`<${Nodes} nodes=${data.nodes} />` : html`<p class="muted">${T.noNodes}</p>`}
    </section>
    <section aria-labelledby="health-cameras-title">
      <h3 id="health-cameras-title">${T.cameraHealth}</h3>
      ${Array.isArray(cameras) ? html`<${Cameras} cameras=${cameras} />` : html`<${Pending} error=${cameras && cameras.error} />`}
    </section>`;
}
