// Storage used over time as stacked areas, one a kind (recordings, then the library's
// kinds), drawn as SVG at the width it is given, with the plan's limit as a line; a legend
// with each kind's latest figure, and the numbers as a table for those who cannot see it.
import { bytes, fill, html, useEffect, useRef, useState } from "./lib.js";
import { S } from "./strings.js";

const T = S.admin;
const HEIGHT = 240;
const PAD = { top: 12, right: 12, bottom: 28, left: 64 };
const MAX_TABLE_ROWS = 60;

// The kinds over the samples, recordings first, then the library's by size.
export function seriesOf(samples) {
  const last = samples[samples.length - 1] || { by_kind: {} };
  const kinds = [...new Set(samples.flatMap((s) => Object.keys(s.by_kind)))];
  kinds.sort((a, b) => (last.by_kind[b] || 0) - (last.by_kind[a] || 0) || a.localeCompare(b));
  return [
    { key: "recordings", name: T.kinds.recordings, value: (s) => s.recordings_bytes },
    ...kinds.map((kind) => ({ key: kind, name: T.kinds[kind] || kind, value: (s) => s.by_kind[kind] || 0 })),
  ];
}

// A round top for the axis above `max`, and its step (1, 2 or 5 × a power of ten).
function niceScale(max) {
  if (max <= 0) return { top: 1, step: 0.25 };
  const rough = max / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough);
  return { top: Math.ceil(max / step) * step, step };
}

function useWidth(ref) {
  const [width, setWidth] = useState(640);
  useEffect(() => {
    if (!ref.current) return undefined;
    const observer = new ResizeObserver(([entry]) => setWidth(Math.max(240, Math.floor(entry.contentRect.width))));
    observer.observe(ref.current);
    return () => observer.disconnect();
  }, []);
  return width;
}

function dayLabel(ms, span) {
  const at = new Date(ms);
  if (span < 2 * 86_400_000) return at.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
  return at.toLocaleDateString([], { month: "short", day: "numeric" });
}

export function UsageChart({ samples, limit }) {
  const box = useRef(null);
  const width = useWidth(box);
  const series = seriesOf(samples);
  // One sample: drawn flat across a day up to it, so that there is an area to see.
  const points = samples.length === 1 ? [{ ...samples[0], at: new Date(Date.parse(samples[0].at) - 86_400_000).toISOString() }, samples[0]] : samples;
  const times = points.map((s) => Date.parse(s.at));
  const t0 = times[0];
  const t1 = Math.max(times[times.length - 1], t0 + 1);
  const totals = points.map((s) => series.reduce((sum, kind) => sum + kind.value(s), 0));
  const peak = Math.max(...totals, 0);
  const showLimit = limit && limit <= peak * 2.5;
  const { top, step } = niceScale(Math.max(peak, showLimit ? limit : 0));
  const inner = { w: width - PAD.left - PAD.right, h: HEIGHT - PAD.top - PAD.bottom };
  const x = (t) => PAD.left + ((t - t0) / (t1 - t0)) * inner.w;
  const y = (v) => PAD.top + inner.h - (v / top) * inner.h;

  // Stacked: each kind's band lies on the ones before it.
  const below = points.map(() => 0);
  const bands = series.map((kind, index) => {
    const lower = below.slice();
    const upper = points.map((s, i) => (below[i] += kind.value(s)));
    const edge = upper.map((v, i) => `${x(times[i]).toFixed(1)},${y(v).toFixed(1)}`);
    const back = lower.map((v, i) => `${x(times[i]).toFixed(1)},${y(v).toFixed(1)}`).reverse();
    return { ...kind, index, d: `M${edge.join("L")}L${back.join("L")}Z` };
  });
  const yTicks = [];
  for (let v = 0; v <= top + step / 2; v += step) yTicks.push(v);
  const xTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => t0 + f * (t1 - t0));
  const last = samples[samples.length - 1];
  const summary = fill(T.chartSummary, {
    from: new Date(Date.parse(samples[0].at)).toLocaleDateString(),
    to: new Date(Date.parse(last.at)).toLocaleDateString(),
    total: bytes(series.reduce((sum, kind) => sum + kind.value(last), 0)),
  });
  return html`<figure class="usage-chart" ref=${box}>
    <svg width=${width} height=${HEIGHT} viewBox=${`0 0 ${width} ${HEIGHT}`} role="img" aria-labelledby="usage-chart-title" data-usage-chart>
      <title id="usage-chart-title">${summary}</title>
      ${yTicks.map((v) => html`<g class="tick">
        <line x1=${PAD.left} x2=${width - PAD.right} y1=${y(v)} y2=${y(v)} />
        <text x=${PAD.left - 6} y=${y(v) + 4} text-anchor="end">${bytes(v)}</text></g>`)}
      ${xTicks.map((t, i) => html`<text class="tick" x=${x(t)} y=${HEIGHT - 8}
        text-anchor=${i === 0 ? "start" : i === xTicks.length - 1 ? "end" : "middle"}>${dayLabel(t, t1 - t0)}</text>`)}
      ${bands.map((band) => html`<path class=${`band series-${band.index % 8}`} d=${band.d} data-series=${band.key}
        data-latest=${band.value(last)} />`)}
      ${showLimit
        ? html`<g class="limit"><line x1=${PAD.left} x2=${width - PAD.right} y1=${y(limit)} y2=${y(limit)} />
            <text x=${width - PAD.right} y=${y(limit) - 4} text-anchor="end">${fill(T.limitLine, { limit: bytes(limit) })}</text></g>`
        : ""}
    </svg>
    <figcaption>
      <ul class="legend">${bands.map((band) => html`<li data-legend=${band.key}>
        <span class=${`swatch series-${band.index % 8}`} aria-hidden="true"></span>${band.name}: <strong>${bytes(band.value(last))}</strong></li>`)}
      </ul>
    </figcaption>
    <details>
      <summary>${T.showNumbers}</summary>
      <div class="table-scroll"><table class="usage-numbers">
        <thead><tr><th scope="col">${T.when}</th>${bands.map((band) => html`<th scope="col">${band.name}</th>`)}</tr></thead>
        <tbody>${samples.slice(-MAX_TABLE_ROWS).reverse().map((s) => html`<tr>
          <th scope="row">${new Date(Date.parse(s.at)).toLocaleString([], { dateStyle: "medium", timeStyle: "short" })}</th>
          ${bands.map((band) => html`<td>${bytes(band.value(s))}</td>`)}</tr>`)}</tbody>
      </table></div>
    </details>
  </figure>`;
}
