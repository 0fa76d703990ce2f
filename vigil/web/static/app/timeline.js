// The recordings timeline: one lane a camera with recorded spans (gaps left empty), a motion
// strip and event markers, a time axis in the browser's time zone, the playhead and the
// selected range, drawn on a <canvas>. The canvas is a slider for assistive technology and
// the keyboard: arrows move the playhead, + and - zoom; its value is the time, in words.
import { html, fill, useEffect, useRef, useState } from "./lib.js";
import { S } from "./strings.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
// Visible spans, widest first: a week down to a minute.
export const ZOOMS = [7 * DAY, DAY, 6 * HOUR, HOUR, 15 * MINUTE, MINUTE];
const TICKS = [
  1000, 5000, 10_000, 30_000, MINUTE, 5 * MINUTE, 10 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY,
];
const AXIS = 20; // px, the time axis at the top
const LANE = 30; // px a camera
const LABEL_COLOURS = ["#d1242f", "#8250df", "#bf3989", "#0a7ea4", "#bc4c00", "#1a7f37"];

const two = (n) => String(n).padStart(2, "0");

// "14:02" or "14:02:31" in the browser's time zone; with the date when asked.
export function localTime(ms, { seconds = true, date = false } = {}) {
  const d = new Date(ms);
  let text = `${two(d.getHours())}:${two(d.getMinutes())}`;
  if (seconds) text += `:${two(d.getSeconds())}`;
  if (date) text = `${d.toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short" })} ${text}`;
  return text;
}

function labelColour(label) {
  let hash = 0;
  for (const c of label) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  return LABEL_COLOURS[hash % LABEL_COLOURS.length];
}

// Fill [start, end) spans as bars from y to y + h, spans narrower than a pixel merged with
// their neighbours: a day of 8,640 segments is a few hundred rectangles at most.
function fillSpans(ctx, spans, x, y, h) {
  let runStart = null;
  let runEnd = null;
  for (const [start, end] of spans) {
    const x0 = x(start);
    const x1 = Math.max(x(end), x0 + 1);
    if (runEnd !== null && x0 <= runEnd + 0.5) {
      runEnd = Math.max(runEnd, x1);
      continue;
    }
    if (runEnd !== null) ctx.fillRect(runStart, y, runEnd - runStart, h);
    runStart = x0;
    runEnd = x1;
  }
  if (runEnd !== null) ctx.fillRect(runStart, y, runEnd - runStart, h);
}

// Draw the whole timeline; returns the time it took (ms), also kept as a performance
// measure named "vigil-timeline-draw" and in window.vigilTimelineDrawMs (bench/).
export function drawTimeline(canvas, model) {
  const began = performance.now();
  const { start, span, lanes, clock, selection, now } = model;
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = AXIS + LANE * lanes.length + 4;
  if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
  if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
  const css = getComputedStyle(canvas);
  const colour = (name) => css.getPropertyValue(name).trim();
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const scale = width / span;
  const x = (t) => (t - start) * scale;

  // After now: nothing can be there yet.
  if (now < start + span) {
    ctx.fillStyle = colour("--surface");
    ctx.fillRect(Math.max(0, x(now)), AXIS, width, height - AXIS);
  }

  // The axis: ticks on round local times, at least 90 px apart.
  const step = TICKS.find((t) => t * scale >= 90) || DAY;
  const offset = new Date(start).getTimezoneOffset() * MINUTE;
  ctx.fillStyle = colour("--muted");
  ctx.strokeStyle = colour("--border");
  ctx.font = "12px system-ui, sans-serif";
  ctx.textBaseline = "top";
  ctx.beginPath();
  for (let t = Math.ceil((start - offset) / step) * step + offset; t < start + span; t += step) {
    const tx = Math.round(x(t)) + 0.5;
    ctx.moveTo(tx, AXIS - 6);
    ctx.lineTo(tx, height);
    const label = step >= DAY ? new Date(t).toLocaleDateString(undefined, { weekday: "short", day: "numeric" })
      : localTime(t, { seconds: step < MINUTE });
    if (tx + 3 + ctx.measureText(label).width <= width) ctx.fillText(label, tx + 3, 3);
  }
  ctx.stroke();

  lanes.forEach((lane, i) => {
    const y = AXIS + i * LANE;
    // Gaps are the empty stretches of a thin baseline; footage is a bar over it.
    ctx.fillStyle = colour("--border");
    ctx.fillRect(0, y + 12, width, 2);
    ctx.fillStyle = colour("--link");
    fillSpans(ctx, lane.spans, x, y + 5, 16);
    ctx.fillStyle = colour("--warning");
    fillSpans(ctx, lane.motion, x, y + 23, 4);
    let lastX = -2;
    for (const event of lane.events) {
      const ex = Math.round(x(event.start));
      if (ex < -2 || ex > width + 2 || ex === lastX) continue;
      lastX = ex;
      ctx.fillStyle = labelColour(event.label);
      ctx.fillRect(ex - 1, y + 1, 3, 24);
    }
    if (lanes.length > 1) {
      const label = lane.name.length > 24 ? `${lane.name.slice(0, 23)}…` : lane.name;
      ctx.globalAlpha = 0.85;
      ctx.fillStyle = colour("--bg");
      ctx.fillRect(2, y + 6, ctx.measureText(label).width + 6, 14);
      ctx.globalAlpha = 1;
      ctx.fillStyle = colour("--fg");
      ctx.fillText(label, 5, y + 7);
    }
  });

  if (selection) {
    const sx = x(Math.min(selection.start, selection.end));
    const ex = x(Math.max(selection.start, selection.end));
    ctx.globalAlpha = 0.25;
    ctx.fillStyle = colour("--focus");
    ctx.fillRect(sx, AXIS, ex - sx, height - AXIS);
    ctx.globalAlpha = 1;
    ctx.fillRect(Math.round(sx) - 1, AXIS, 2, height - AXIS);
    ctx.fillRect(Math.round(ex) - 1, AXIS, 2, height - AXIS);
  }

  const px = Math.round(x(clock));
  ctx.fillStyle = colour("--danger");
  ctx.fillRect(px - 1, 0, 2, height);
  ctx.beginPath();
  ctx.moveTo(px - 6, 0);
  ctx.lineTo(px + 6, 0);
  ctx.lineTo(px, 8);
  ctx.fill();

  const took = performance.now() - began;
  performance.measure("vigil-timeline-draw", { start: began, duration: took });
  window.vigilTimelineDrawMs = took;
  return took;
}

// The preview nearest to t among a lane's, or null.
function nearestPreview(previews, t) {
  if (!previews || previews.length === 0) return null;
  let lo = 0;
  let hi = previews.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (previews[mid].time < t) lo = mid + 1;
    else hi = mid;
  }
  const before = previews[Math.max(0, lo - 1)];
  return Math.abs(before.time - t) < Math.abs(previews[lo].time - t) ? before : previews[lo];
}

// props: start, span (the visible range, ms), lanes [{name, spans, motion, events, previews}],
// clock, selection {start, end} or null, selecting (touch: a drag selects), onSeek(t),
// onZoom(+1 zoom in | -1 zoom out), onSelect({start, end}).
export function Timeline(props) {
  const { start, span, lanes, clock, selection, zoomIndex } = props;
  const canvas = useRef(null);
  const handlers = useRef(props);
  handlers.current = props;
  const [drag, setDrag] = useState(null); // {mode: "seek"|"select", from, to}
  const [hover, setHover] = useState(null); // {x, t, lane}
  const [, setRedraws] = useState(0);
  const shownClock = drag && drag.mode === "seek" ? drag.to : clock;
  const shownSelection = drag && drag.mode === "select" ? { start: drag.from, end: drag.to } : selection;

  useEffect(() => {
    drawTimeline(canvas.current, { start, span, lanes, clock: shownClock, selection: shownSelection, now: Date.now() });
  });
  useEffect(() => {
    const element = canvas.current;
    const redraw = () => setRedraws((n) => n + 1);
    const resized = new ResizeObserver(redraw);
    resized.observe(element);
    // The theme (chosen, or the system's) changes the colours drawn.
    const themed = new MutationObserver(redraw);
    themed.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
    const dark = matchMedia("(prefers-color-scheme: dark)");
    dark.addEventListener("change", redraw);
    let lastZoom = 0;
    function wheel(event) {
      event.preventDefault();
      // A touchpad sends a burst of small wheel events: one zoom step a burst.
      if (event.timeStamp - lastZoom < 250 || event.deltaY === 0) return;
      lastZoom = event.timeStamp;
      handlers.current.onZoom(event.deltaY < 0 ? 1 : -1);
    }
    element.addEventListener("wheel", wheel, { passive: false });
    return () => {
      resized.disconnect();
      themed.disconnect();
      dark.removeEventListener("change", redraw);
      element.removeEventListener("wheel", wheel);
    };
  }, []);

  function timeAt(event) {
    const box = canvas.current.getBoundingClientRect();
    const fraction = Math.min(Math.max((event.clientX - box.left) / box.width, 0), 1);
    return { t: start + fraction * span, x: event.clientX - box.left, y: event.clientY - box.top };
  }
  function down(event) {
    if (event.button !== 0) return;
    canvas.current.setPointerCapture(event.pointerId);
    const { t } = timeAt(event);
    const mode = event.shiftKey || props.selecting ? "select" : "seek";
    setDrag({ mode, from: t, to: t });
    setHover(null);
  }
  function move(event) {
    const at = timeAt(event);
    if (drag) setDrag({ ...drag, to: at.t });
    if (event.pointerType === "mouse" || drag) {
      const lane = Math.min(Math.max(Math.floor((at.y - AXIS) / LANE), 0), lanes.length - 1);
      setHover({ x: at.x, t: at.t, lane });
    }
  }
  function up(event) {
    if (!drag) return;
    const { t } = timeAt(event);
    setDrag(null);
    if (event.pointerType !== "mouse") setHover(null);
    if (drag.mode === "seek") props.onSeek(t);
    else if (Math.abs(t - drag.from) >= 1000) {
      props.onSelect({ start: Math.min(drag.from, t), end: Math.max(drag.from, t) });
    }
  }
  function key(event) {
    const small = span / 120;
    const steps = { ArrowLeft: -small, ArrowRight: small, PageUp: -span / 10, PageDown: span / 10 };
    if (event.key in steps) props.onSeek(clock + steps[event.key] * (event.shiftKey ? 10 : 1));
    else if (event.key === "+" || event.key === "=") props.onZoom(1);
    else if (event.key === "-" || event.key === "_") props.onZoom(-1);
    else return;
    event.preventDefault();
  }

  const lane = hover && lanes[hover.lane];
  const preview = lane && nearestPreview(lane.previews, hover.t);
  const near = (6 * span) / Math.max(canvas.current ? canvas.current.clientWidth : 1, 1);
  const event = lane && lane.events.find((e) => Math.abs(e.start - hover.t) <= near);
  const wide = canvas.current ? canvas.current.clientWidth : 0;
  return html`<div class="timeline">
    <canvas ref=${canvas} tabindex="0" role="slider" aria-label=${S.recordings.timeline}
      aria-valuemin=${Math.round(start / 1000)} aria-valuemax=${Math.round((start + span) / 1000)}
      aria-valuenow=${Math.round(shownClock / 1000)} aria-valuetext=${localTime(shownClock, { date: true })}
      data-start=${Math.round(start)} data-span=${span} data-zoom=${zoomIndex}
      class=${props.selecting ? "selecting" : ""}
      onPointerDown=${down} onPointerMove=${move} onPointerUp=${up} onPointerCancel=${() => setDrag(null)}
      onPointerLeave=${() => !drag && setHover(null)} onKeyDown=${key}></canvas>
    ${hover && html`<div class="timeline-tip" aria-hidden="true"
        style=${{ left: `${Math.min(Math.max(hover.x - 84, 0), Math.max(wide - 168, 0))}px` }}>
      ${preview && html`<img src=${preview.url} alt="" width="160" height="90" />`}
      <span>${localTime(hover.t, { date: span > DAY })}${lanes.length > 1 && lane ? ` · ${lane.name}` : ""}</span>
      ${event && html`<strong>${fill(S.recordings.eventAt, { label: event.label, time: localTime(event.start) })}
        </strong>`}
    </div>`}
    <p class="timeline-legend muted">
      <span class="key key-recorded"></span>${S.recordings.legendRecorded}
      <span class="key key-gap"></span>${S.recordings.legendGap}
      <span class="key key-motion"></span>${S.recordings.legendMotion}
      <span class="key key-event"></span>${S.recordings.legendEvent}
      <span class="hint">${S.recordings.hint}</span>
    </p>
  </div>`;
}
