// Zones and motion masks drawn as polygons over a fresh picture of the camera. Corners are
// kept as the API keeps them: fractions of the picture, 0..1 from the top left. Click adds a
// corner to the selected shape, a corner drags, and from the keyboard moves with the arrow
// keys and goes with Delete. Saved with PATCH /api/cameras/{id} (its detection).
import { api, problemDetail, signInAgain } from "/static/api.js";
import { html, fill, useEffect, useRef, useState } from "./lib.js";
import { S } from "./strings.js";

const T = S.setup;
export const LABELS = ["person", "car", "dog", "cat", "bicycle", "motorcycle", "truck", "bus", "bird"];
const CORNER_PX = 11; // a corner's radius on screen, whatever the picture's size
const STEP = 0.01;
const BIG_STEP = 0.05;

const clamp = (value) => Math.min(1, Math.max(0, value));
const round = (value) => Math.round(value * 10000) / 10000;

function shapesOf(detection) {
  const zones = (detection?.zones || []).map((zone) => ({ ...zone, kind: "zone", labels: zone.labels || [] }));
  const masks = (detection?.motion?.masks || []).map((polygon) => ({ kind: "mask", polygon }));
  return [...zones, ...masks];
}

function shapeName(shapes, index) {
  const shape = shapes[index];
  if (shape.kind === "zone") return fill(T.zone, { name: shape.name });
  const n = shapes.slice(0, index + 1).filter((s) => s.kind === "mask").length;
  return fill(T.mask, { n });
}

function freshName(shapes) {
  const names = new Set(shapes.map((shape) => shape.name));
  let n = shapes.filter((shape) => shape.kind === "zone").length + 1;
  while (names.has(fill(T.newZone, { n }))) n += 1;
  return fill(T.newZone, { n });
}

const SNAPSHOT_TRIES = 8;
const RETRY_MS = 2000;

// The newest recorded frame (GET /api/cameras/{id}/frame.jpg), for a camera not streaming.
async function recordedFrame(camera) {
  try {
    const response = await api(`/api/cameras/${camera.id}/storage`);
    const newest = response.ok ? (await response.json()).newest : null;
    if (!newest) return null;
    const at = new Date(Date.parse(newest) - 1000).toISOString();
    return `/api/cameras/${camera.id}/frame.jpg?at=${encodeURIComponent(at)}`;
  } catch {
    return null;
  }
}

// The picture: a fresh snapshot of the live stream (tried again while the camera connects),
// else the newest recorded frame, else none (a blank 16:9 frame to draw on).
function usePicture(camera) {
  const snapshot = () => `/api/cameras/${camera.id}/snapshot.jpg?fresh=${Date.now()}`;
  const [src, setSrc] = useState(snapshot);
  const [size, setSize] = useState(null);
  const [failed, setFailed] = useState(false);
  const tries = useRef(0);
  const state = useRef(camera.status.state);
  state.current = camera.status.state;
  async function onError() {
    tries.current += 1;
    const waiting = ["connecting", "streaming", "stalled"].includes(state.current);
    if (src.includes("snapshot.jpg") && waiting && tries.current < SNAPSHOT_TRIES) {
      setTimeout(() => setSrc(snapshot()), RETRY_MS);
      return;
    }
    const frame = src.includes("snapshot.jpg") ? await recordedFrame(camera) : null;
    if (frame) setSrc(frame);
    else setFailed(true);
  }
  return {
    src,
    failed,
    width: size ? size[0] : 1600,
    height: size ? size[1] : 900,
    onLoad: (event) => setSize([event.target.naturalWidth, event.target.naturalHeight]),
    onError,
  };
}

export function ZoneEditor({ camera, onSaved }) {
  const [shapes, setShapes] = useState(() => shapesOf(camera.detection));
  const [selected, setSelected] = useState(shapes.length ? 0 : null);
  const [point, setPoint] = useState(null);
  const [message, setMessage] = useState({ text: "", error: false });
  const [busy, setBusy] = useState(false);
  const svg = useRef(null);
  const dragging = useRef(null);
  const dragged = useRef(false);
  const picture = usePicture(camera);
  const [shown, setShown] = useState(0); // the picture's width on screen
  useEffect(() => {
    const watch = new ResizeObserver(([entry]) => setShown(entry.contentRect.width));
    watch.observe(svg.current);
    return () => watch.disconnect();
  }, []);
  const { width, height } = picture;
  const shape = selected === null ? null : shapes[selected];

  function change(index, update) {
    setMessage({ text: "", error: false });
    setShapes(shapes.map((s, i) => (i === index ? { ...s, ...update } : s)));
  }
  function movePoint(index, at) {
    const polygon = shapes[selected].polygon.map((p, i) => (i === index ? at : p));
    change(selected, { polygon });
  }
  function removePoint() {
    if (shape === null || point === null) return;
    change(selected, { polygon: shape.polygon.filter((_, i) => i !== point) });
    setPoint(shape.polygon.length > 1 ? Math.max(0, point - 1) : null);
  }
  function fraction(event) {
    const box = svg.current.getBoundingClientRect();
    return [round(clamp((event.clientX - box.left) / box.width)), round(clamp((event.clientY - box.top) / box.height))];
  }
  function addPoint(event) {
    if (dragged.current) {
      dragged.current = false;
      return;
    }
    if (shape === null || event.target.closest("circle")) return;
    change(selected, { polygon: [...shape.polygon, fraction(event)] });
    setPoint(shape.polygon.length);
  }
  function startDrag(event, index) {
    event.stopPropagation();
    setPoint(index);
    dragging.current = index;
    dragged.current = true;
    svg.current.setPointerCapture(event.pointerId);
  }
  function drag(event) {
    if (dragging.current === null) return;
    movePoint(dragging.current, fraction(event));
  }
  function endDrag() {
    dragging.current = null;
  }
  function onKey(event, index) {
    const step = event.shiftKey ? BIG_STEP : STEP;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (event.key in moves) {
      event.preventDefault();
      const [x, y] = shape.polygon[index];
      const [dx, dy] = moves[event.key];
      movePoint(index, [round(clamp(x + dx)), round(clamp(y + dy))]);
    } else if (event.key === "Delete" || event.key === "Backspace") {
      event.preventDefault();
      removePoint();
    }
  }
  function add(kind) {
    const made = kind === "zone" ? { kind, name: freshName(shapes), labels: [], polygon: [] } : { kind, polygon: [] };
    setShapes([...shapes, made]);
    setSelected(shapes.length);
    setPoint(null);
  }
  function removeShape() {
    setShapes(shapes.filter((_, i) => i !== selected));
    setSelected(shapes.length > 1 ? 0 : null);
    setPoint(null);
  }
  function toggleLabel(label, on) {
    const labels = on ? [...shape.labels, label] : shape.labels.filter((l) => l !== label);
    change(selected, { labels });
  }
  async function save() {
    const short = shapes.findIndex((s) => s.polygon.length < 3);
    if (short >= 0) {
      setSelected(short);
      return setMessage({ text: fill(T.needThree, { shape: shapeName(shapes, short) }), error: true });
    }
    const base = camera.detection || { enabled: false };
    const zones = shapes
      .filter((s) => s.kind === "zone")
      .map(({ kind, labels, ...zone }) => ({ ...zone, labels: labels.length ? labels : null }));
    const masks = shapes.filter((s) => s.kind === "mask").map((s) => s.polygon);
    const detection = { ...base, zones, motion: { ...(base.motion || {}), masks } };
    setBusy(true);
    const response = await api(`/api/cameras/${camera.id}`, { method: "PATCH", body: { detection } });
    setBusy(false);
    if (response.status === 401) return signInAgain();
    if (!response.ok) {
      return setMessage({ text: fill(T.cannotSave, { detail: await problemDetail(response, `HTTP ${response.status}`) }), error: true });
    }
    onSaved(await response.json());
    setMessage({ text: T.saved, error: false });
    return undefined;
  }

  const name = shape ? shapeName(shapes, selected) : "";
  const radius = shown ? (CORNER_PX * width) / shown : width * 0.012;
  return html`<section class="camera-section zones">
    <h3>${T.zonesTitle}</h3>
    <p class="muted" id="zones-help">${T.zonesHelp}</p>
    <div class="zone-layout">
      <div class="zone-picture">
        ${picture.failed
          ? html`<div class="zone-blank"><p>${T.noPicture}</p></div>`
          : html`<img src=${picture.src} alt="" onLoad=${picture.onLoad} onError=${picture.onError} />`}
        <svg ref=${svg} viewBox=${`0 0 ${width} ${height}`} preserveAspectRatio="none" role="group"
          aria-label=${fill(T.picture, { name: camera.name })} aria-describedby="zones-help"
          onPointerDown=${() => { dragged.current = false; }} onClick=${addPoint} onPointerMove=${drag} onPointerUp=${endDrag} onPointerCancel=${endDrag}>
          ${shapes.map(
            (s, i) => html`<polygon key=${i} class=${`shape shape-${s.kind}${i === selected ? " selected" : ""}`}
              points=${s.polygon.map(([x, y]) => `${x * width},${y * height}`).join(" ")} />`,
          )}
          ${shape
            ? shape.polygon.map(
                ([x, y], i) => html`<circle key=${i} cx=${x * width} cy=${y * height} r=${radius}
                  class=${`corner${i === point ? " selected" : ""}`} tabindex="0" role="button"
                  aria-label=${fill(T.pointLabel, { n: i + 1, shape: name, x: Math.round(x * 100), y: Math.round(y * 100) })}
                  onPointerDown=${(event) => startDrag(event, i)} onFocus=${() => setPoint(i)}
                  onKeyDown=${(event) => onKey(event, i)} />`,
              )
            : ""}
        </svg>
      </div>
      <div class="zone-controls">
        <h4 id="shapes-title">${T.shapes}</h4>
        ${shapes.length === 0 ? html`<p class="muted">${T.noShapes}</p>` : ""}
        <ul class="shape-list" aria-labelledby="shapes-title">
          ${shapes.map(
            (s, i) => html`<li key=${i}><button type="button" aria-pressed=${i === selected ? "true" : "false"}
              onClick=${() => { setSelected(i); setPoint(null); }}>
              ${shapeName(shapes, i)} · ${s.polygon.length === 1 ? T.oneCorner : fill(T.corners, { n: s.polygon.length })}</button></li>`,
          )}
        </ul>
        <div class="form-actions">
          <button type="button" onClick=${() => add("zone")}>${T.addZone}</button>
          <button type="button" onClick=${() => add("mask")}>${T.addMask}</button>
        </div>
        ${shape && shape.kind === "zone"
          ? html`<div class="field">
                <label for="zone-name">${T.zoneName}</label>
                <input id="zone-name" value=${shape.name} onInput=${(event) => change(selected, { name: event.target.value })} />
              </div>
              <fieldset class="labels">
                <legend>${T.zoneLabels}</legend>
                ${LABELS.map(
                  (label) => html`<div class="check" key=${label}><input type="checkbox" id=${`zone-label-${label}`}
                    checked=${shape.labels.includes(label)} onChange=${(event) => toggleLabel(label, event.target.checked)} />
                    <label for=${`zone-label-${label}`}>${T.labelNames[label]}</label></div>`,
                )}
              </fieldset>`
          : ""}
        ${shape
          ? html`<div class="form-actions">
              <button type="button" onClick=${removePoint} disabled=${point === null}>${T.deletePoint}</button>
              <button type="button" class="danger" onClick=${removeShape}>${T.deleteShape}</button>
            </div>`
          : ""}
        <div class="form-actions">
          <button type="button" class="primary" onClick=${save} disabled=${busy}>${busy ? T.saving : T.saveZones}</button>
        </div>
        <p role="status" class=${message.error ? "error" : ""}>${message.text}</p>
      </div>
    </div>
  </section>`;
}
