// A range of the timeline and what can be done with it: marked at the playhead (Mark in,
// Mark out) or dragged on the timeline (shift+drag, or "Select by dragging" on touch), then
// exported (POST /api/exports, progress, then the MP4s and the manifest) or protected from
// retention (POST /api/cameras/{id}/recordings/protect). Export and Protect are there only
// for cameras the user may export.
import { api, problemDetail } from "/static/api.js";
import { html, fill, useEffect, useState } from "./lib.js";
import { S } from "./strings.js";
import { localTime } from "./timeline.js";

const POLL_MS = 1000;
const iso = (ms) => new Date(Math.round(ms)).toISOString();

function duration(ms) {
  const seconds = Math.round(ms / 1000);
  if (seconds < 120) return fill(S.recordings.seconds, { s: seconds });
  if (seconds < 7200) return fill(S.recordings.minutesLong, { m: Math.round(seconds / 60) });
  return fill(S.recordings.hoursLong, { h: (seconds / 3600).toFixed(1) });
}

function ExportJob({ job }) {
  const R = S.recordings;
  if (job.status === "failed") {
    return html`<p class="error" role="alert">${fill(R.exportFailed, { detail: job.error || "" })}</p>`;
  }
  if (job.status !== "done") {
    const percent = Math.round((job.progress || 0) * 100);
    return html`<p class="rec-progress" role="status">
      <label>${fill(R.exporting, { percent })} <progress max="100" value=${percent}>${percent} %</progress></label></p>`;
  }
  return html`<div class="rec-export-done" role="status">
    <p>${R.exportDone}</p>
    <ul>
      ${job.files.map((file) => html`<li>
        <a href=${file.url} download=${file.name}>${fill(R.download, { name: file.name })}</a></li>`)}
      <li><a href=${job.manifest_url} download="manifest.json">${R.manifest}</a></li>
    </ul>
  </div>`;
}

export function RangePanel({ cameras, clock, selection, onSelection, selecting, onSelecting }) {
  const R = S.recordings;
  const [job, setJob] = useState(null);
  const [note, setNote] = useState(null); // {text, error}
  const [busy, setBusy] = useState(false);
  const exportable = cameras.filter((c) => (c.permissions || []).includes("export"));

  useEffect(() => {
    if (!job || job.status === "done" || job.status === "failed") return undefined;
    const timer = setTimeout(async () => {
      const response = await api(`/api/exports/${job.id}`);
      if (response.ok) setJob(await response.json());
      else setJob({ ...job, status: "failed", error: await problemDetail(response, `HTTP ${response.status}`) });
    }, POLL_MS);
    return () => clearTimeout(timer);
  }, [job]);

  function mark(which) {
    const other = selection ? selection[which === "start" ? "end" : "start"] : null;
    const next = { start: clock, end: clock, [which === "start" ? "end" : "start"]: other ?? clock };
    onSelection({ start: Math.min(next.start, next.end), end: Math.max(next.start, next.end) });
  }

  async function startExport() {
    setBusy(true);
    setNote(null);
    try {
      const body = { camera_ids: exportable.map((c) => c.id), start: iso(selection.start), end: iso(selection.end) };
      const response = await api("/api/exports", { method: "POST", body });
      if (response.ok) setJob(await response.json());
      else setNote({ text: await problemDetail(response, `HTTP ${response.status}`), error: true });
    } finally {
      setBusy(false);
    }
  }

  async function protect() {
    setBusy(true);
    setNote(null);
    try {
      let count = 0;
      for (const camera of exportable) {
        const body = { start: iso(selection.start), end: iso(selection.end) };
        const response = await api(`/api/cameras/${camera.id}/recordings/protect`, { method: "POST", body });
        if (!response.ok) {
          setNote({ text: `${camera.name}: ${await problemDetail(response, `HTTP ${response.status}`)}`, error: true });
          return;
        }
        count += (await response.json()).segments;
      }
      setNote({ text: fill(R.protected, { count }), error: false });
    } finally {
      setBusy(false);
    }
  }

  const ready = selection && selection.end > selection.start;
  const exporting = job && !["done", "failed"].includes(job.status);
  return html`<section class="rec-range" aria-label=${R.range}>
    <div class="rec-range-row">
      <button type="button" onClick=${() => mark("start")}>${R.markIn}</button>
      <button type="button" onClick=${() => mark("end")}>${R.markOut}</button>
      <button type="button" aria-pressed=${selecting} onClick=${() => onSelecting(!selecting)}>
        ${R.selectByDragging}</button>
      <span data-selection data-start=${ready ? Math.round(selection.start) : undefined}
        data-end=${ready ? Math.round(selection.end) : undefined}>${ready
        ? fill(R.selected, {
            start: localTime(selection.start, { date: true }),
            end: localTime(selection.end),
            length: duration(selection.end - selection.start),
          })
        : R.noSelection}</span>
      ${selection ? html`<button type="button" onClick=${() => onSelection(null)}>${R.clear}</button>` : ""}
    </div>
    ${exportable.length > 0 && html`<div class="rec-range-row">
      <button type="button" class="primary" disabled=${!ready || busy || exporting}
        onClick=${startExport}>${R.export}</button>
      <button type="button" disabled=${!ready || busy} onClick=${protect}>${R.protect}</button>
      ${exportable.length < cameras.length
        ? html`<span class="muted">${fill(R.exportOnly, { names: exportable.map((c) => c.name).join(", ") })}</span>`
        : ""}
    </div>`}
    ${note && html`<p class=${note.error ? "error" : "muted"} role=${note.error ? "alert" : "status"}>${note.text}</p>`}
    ${job && html`<${ExportJob} job=${job} />`}
  </section>`;
}
