// Storage and plan (#admin?tab=storage): what the organisation stores against its plan, how
// long the plan and the recordings disk last at the present rate, usage by kind over time
// (usage_chart.js), and each camera's footage.
import { bytes, fill, html } from "./lib.js";
import { S } from "./strings.js";
import { Pending, useResource, when } from "./rest.js";
import { UsageChart } from "./usage_chart.js";

const T = S.admin;
const DAY_MS = 86_400_000;
const RATE_WINDOW_MS = 7 * DAY_MS;

function total(sample) {
  return sample.library_bytes + sample.recordings_bytes;
}

// Growth a day over the last week of samples (or all of them, if less), or null.
export function growthPerDay(samples) {
  if (samples.length < 2) return null;
  const last = samples[samples.length - 1];
  const end = Date.parse(last.at);
  const first = samples.find((s) => Date.parse(s.at) >= end - RATE_WINDOW_MS);
  const span = end - Date.parse(first.at);
  if (span < DAY_MS / 24) return null; // under an hour says little
  return ((total(last) - total(first)) / span) * DAY_MS;
}

function days(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return null;
  return n >= 10 ? Math.round(n) : Math.round(n * 10) / 10;
}

function Plan({ usage, rate, fallbackRate }) {
  const perDay = rate !== null ? rate : fallbackRate;
  const left = usage.limit_bytes !== null && perDay > 0 ? days(usage.remaining_bytes / perDay) : null;
  return html`<section class="panel stat" aria-labelledby="plan-title" data-plan>
    <h3 id="plan-title">${usage.plan ? fill(T.planNamed, { plan: usage.plan }) : T.planNone}</h3>
    ${usage.limit_bytes !== null
      ? html`<p><label for="plan-meter">${fill(T.usedOf, { used: bytes(usage.total_bytes), limit: bytes(usage.limit_bytes) })}</label></p>
          <meter id="plan-meter" min="0" max=${usage.limit_bytes} value=${usage.total_bytes}
            high=${usage.limit_bytes * 0.8} optimum="0">${bytes(usage.total_bytes)}</meter>
          <p>${fill(T.remaining, { n: bytes(usage.remaining_bytes) })}</p>`
      : html`<p>${fill(T.usedNoLimit, { used: bytes(usage.total_bytes) })}</p>`}
    <p data-projection>${perDay === null || perDay <= 0
      ? T.noGrowth
      : left !== null
        ? fill(rate !== null ? T.planDaysLeft : T.planDaysLeftDisk, { days: left, rate: bytes(perDay) })
        : fill(T.growth, { rate: bytes(perDay) })}</p>
  </section>`;
}

function Disk({ storage }) {
  if (storage.total_bytes === null) return html`<section class="panel stat"><h3>${T.disk}</h3><p>${T.diskUnknown}</p></section>`;
  return html`<section class="panel stat" aria-labelledby="disk-title" data-disk>
    <h3 id="disk-title">${T.disk}</h3>
    <p><label for="disk-meter">${fill(T.diskUsed, { used: bytes(storage.used_bytes), total: bytes(storage.total_bytes) })}</label></p>
    <meter id="disk-meter" min="0" max=${storage.total_bytes} value=${storage.used_bytes}
      high=${storage.total_bytes * 0.9} optimum="0">${bytes(storage.used_bytes)}</meter>
    <p>${fill(T.diskFree, { free: bytes(storage.free_bytes), recordings: bytes(storage.recordings_bytes) })}</p>
    <p data-disk-days>${storage.days_left !== null
      ? fill(T.diskDaysLeft, { days: days(storage.days_left), rate: bytes(storage.bytes_per_day) })
      : T.diskNoRate}</p>
  </section>`;
}

function PerCamera({ storage, cameras }) {
  const names = Object.fromEntries((Array.isArray(cameras) ? cameras : []).map((c) => [c.id, c.name]));
  const rows = [...storage.cameras].sort((a, b) => b.bytes - a.bytes);
  const most = Math.max(1, ...rows.map((r) => r.bytes));
  return html`<section aria-labelledby="per-camera-title">
    <h3 id="per-camera-title">${T.perCamera}</h3>
    ${rows.length === 0
      ? html`<p class="muted">${T.noCameras}</p>`
      : html`<table class="cards per-camera">
          <thead><tr><th scope="col">${T.camera}</th><th scope="col">${T.footage}</th>
            <th scope="col">${T.share}</th><th scope="col">${T.oldest}</th><th scope="col">${T.newest}</th></tr></thead>
          <tbody>${rows.map((row) => {
            const name = names[row.camera_id] || `#${row.camera_id}`;
            const share = storage.recordings_bytes ? Math.round((row.bytes / storage.recordings_bytes) * 100) : 0;
            return html`<tr data-camera-storage=${row.camera_id}>
              <th scope="row" data-label=${T.camera}>${name}</th>
              <td data-label=${T.footage}>${bytes(row.bytes)} <small>${fill(T.segments, { n: row.segments })}</small></td>
              <td data-label=${T.share}><meter min="0" max=${most} value=${row.bytes}
                aria-label=${fill(T.shareLabel, { name, share })}></meter> ${share} %</td>
              <td data-label=${T.oldest}>${row.oldest ? when(row.oldest) : T.none}</td>
              <td data-label=${T.newest}>${row.newest ? when(row.newest) : T.none}</td>
            </tr>`;
          })}</tbody>
        </table>`}
  </section>`;
}

export function StorageTab({ cameras }) {
  const usage = useResource("/api/library/usage");
  const history = useResource("/api/library/usage/history");
  const storage = useResource("/api/storage");
  const waiting = [usage, history, storage].find((r) => !r.data);
  if (waiting) return html`<${Pending} error=${waiting.error} />`;
  const samples = history.data;
  return html`<div class="stats">
      <${Plan} usage=${usage.data} rate=${growthPerDay(samples)} fallbackRate=${storage.data.bytes_per_day} />
      <${Disk} storage=${storage.data} />
    </div>
    <section aria-labelledby="chart-title">
      <h3 id="chart-title">${T.overTime}</h3>
      ${samples.length
        ? html`<${UsageChart} samples=${samples} limit=${usage.data.limit_bytes} />`
        : html`<p class="muted">${T.noHistory}</p>`}
    </section>
    <${PerCamera} storage=${storage.data} cameras=${cameras} />`;
}
