// The Recordings page: one camera or a synchronised set of up to four, played from the
// recordings (player_vod.js) on one wall clock, with the timeline (timeline.js) to seek,
// zoom and select a range, and the range's export and protection (range.js).
// Address: #recordings?camera=1,2&at=<ISO 8601>, so a moment can be linked.
import { api, problemDetail, signInAgain } from "/static/api.js";
import { html, fill, hashParams, goTo, useEffect, useRef, useState } from "./lib.js";
import { S } from "./strings.js";
import { Loading } from "./tile.js";
import { VodPlayer } from "./player_vod.js";
import { Timeline, ZOOMS, localTime } from "./timeline.js";
import { RangePanel } from "./range.js";

const MAX_CAMERAS = 4;
const SPEEDS = [0.5, 1, 2, 4, 8, 16];
const DRIFT_MS = 300; // a player further than this from the master clock is moved to it
const TICK_MS = 250;
const PREVIEWS = 240;
const REFRESH_MS = 15_000;
const MAX_FETCH_MS = 31 * 24 * 3_600_000;

const canView = (camera) => (camera.permissions || []).includes("view_recordings");

function instantOf(text) {
  if (!text) return null;
  const number = Number(text);
  const ms = Number.isFinite(number) ? number * 1000 : Date.parse(text);
  return Number.isFinite(ms) ? ms : null;
}

// The value of a datetime-local field for an instant, in the browser's time zone.
function localInput(ms) {
  const d = new Date(ms);
  const two = (n) => String(n).padStart(2, "0");
  const date = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
  return `${date}T${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

function idsOf(text) {
  return (text || "").split(",").map(Number).filter((id) => Number.isInteger(id) && id > 0);
}

// The timeline of each camera over a range: spans, motion, events and previews, in ms.
function useTimelines(ids, range) {
  const [data, setData] = useState({});
  const key = `${ids.join(",")}|${range.start}|${range.end}`;
  useEffect(() => {
    let live = true;
    let timer = null;
    async function load() {
      const query = `start=${range.start / 1000}&end=${range.end / 1000}&previews=${PREVIEWS}`;
      const entries = await Promise.all(
        ids.map(async (id) => {
          try {
            const response = await api(`/api/cameras/${id}/timeline?${query}`);
            if (response.status === 401) signInAgain();
            if (!response.ok) return [id, { error: await problemDetail(response, `HTTP ${response.status}`) }];
            return [id, parseTimeline(await response.json())];
          } catch {
            return [id, null]; // the network: keep what was shown, try again
          }
        }),
      );
      if (!live) return;
      setData((old) => {
        const next = {};
        for (const [id, value] of entries) next[id] = value || old[id] || null;
        return next;
      });
      if (range.end > Date.now() - REFRESH_MS) timer = setTimeout(load, REFRESH_MS);
    }
    load();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [key]);
  return data;
}

function parseTimeline(body) {
  const pair = (i) => [Date.parse(i.start), Date.parse(i.end)];
  return {
    spans: body.spans.map(pair),
    motion: body.motion.map(pair),
    events: body.events.map((e) => ({ id: e.id, label: e.label, start: Date.parse(e.start) })),
    previews: body.previews.map((p) => ({ time: Date.parse(p.time), url: p.url })),
  };
}

function CameraPicker({ cameras, ids, onChange }) {
  function toggle(id, on) {
    onChange(on ? [...ids, id] : ids.filter((other) => other !== id));
  }
  return html`<fieldset class="rec-cameras">
    <legend>${fill(S.recordings.pick, { max: MAX_CAMERAS })}</legend>
    ${cameras.map(
      (camera) => html`<label>
        <input type="checkbox" checked=${ids.includes(camera.id)}
          disabled=${!ids.includes(camera.id) && ids.length >= MAX_CAMERAS}
          onChange=${(event) => toggle(camera.id, event.currentTarget.checked)} />
        ${camera.name}</label>`,
    )}
  </fieldset>`;
}

// One camera's recorded picture; its player is handed to the page (register) to drive.
function PlayerFigure({ camera, register, onSeeked }) {
  const video = useRef(null);
  const [state, setState] = useState("loading");
  useEffect(() => {
    const player = new VodPlayer(video.current, camera.id, (next) => setState(next));
    const seeked = () => onSeeked(camera.id);
    video.current.addEventListener("seeked", seeked);
    register(camera.id, player);
    const element = video.current;
    return () => {
      element.removeEventListener("seeked", seeked);
      register(camera.id, null);
      player.destroy();
    };
  }, [camera.id]);
  const words = { loading: S.loading, none: S.recordings.noFootage, error: S.recordings.playError };
  return html`<figure class="rec-player" data-camera=${camera.id} data-state=${state}>
    <video muted playsinline ref=${video} aria-label=${fill(S.recordings.videoLabel, { name: camera.name })}></video>
    <figcaption><span class="name">${camera.name}</span>
      ${state in words ? html`<span class="reason" role="status">${words[state]}</span>` : ""}</figcaption>
  </figure>`;
}

export function RecordingsPage({ cameras, me }) {
  if (!Array.isArray(cameras)) return html`<${Loading} cameras=${cameras} />`;
  const viewable = cameras.filter(canView);
  if (viewable.length === 0) {
    return html`<div class="empty"><p>${S.recordings.noCameras}</p></div>`;
  }
  return html`<${Recordings} cameras=${viewable} me=${me} />`;
}

function Recordings({ cameras }) {
  const start = hashParams();
  const known = new Set(cameras.map((c) => c.id));
  const firstIds = idsOf(start.camera).filter((id) => known.has(id)).slice(0, MAX_CAMERAS);
  const [ids, setIds] = useState(firstIds.length ? firstIds : [cameras[0].id]);
  const [clock, setClock] = useState(() => instantOf(start.at) ?? Date.now() - 30_000);
  const [playing, setPlaying] = useState(false);
  const [rate, setRate] = useState(1);
  const [zoom, setZoom] = useState(3);
  const [viewStart, setViewStart] = useState(clock - ZOOMS[3] / 2);
  const [selection, setSelection] = useState(null);
  const [selecting, setSelecting] = useState(false);
  const [message, setMessage] = useState("");
  const [picked, setPicked] = useState(localInput(clock));
  const players = useRef(new Map());
  const state = useRef({});
  state.current = { clock, playing, rate, ids };
  const chosen = ids.map((id) => cameras.find((c) => c.id === id)).filter(Boolean);
  const span = ZOOMS[zoom];

  // The view follows the playhead when it leaves the middle of the timeline.
  useEffect(() => {
    if (clock < viewStart + span * 0.02 || clock > viewStart + span * 0.98) setViewStart(clock - span / 2);
  }, [clock, span]);

  // The timelines of a range twice the view, on quarter-view steps (a pan refetches rarely).
  const quarter = span / 4;
  const fetchStart = Math.floor((viewStart - span / 2) / quarter) * quarter;
  const fetchEnd = Math.min(fetchStart + span * 2.5, fetchStart + MAX_FETCH_MS);
  const timelines = useTimelines(ids, { start: fetchStart, end: fetchEnd });
  const lanes = chosen.map((camera) => {
    const data = timelines[camera.id];
    const ok = data && !data.error;
    return {
      name: camera.name,
      spans: ok ? data.spans : [],
      motion: ok ? data.motion : [],
      events: ok ? data.events : [],
      previews: ok ? data.previews : [],
    };
  });

  const lanesRef = useRef(lanes);
  lanesRef.current = lanes;

  // The address holds the cameras and the time, for links and bookmarks.
  useEffect(() => {
    const query = new URLSearchParams({ camera: ids.join(","), at: new Date(Math.round(clock)).toISOString() });
    history.replaceState(null, "", `#recordings?${query}`);
  }, [ids.join(","), playing ? Math.floor(clock / 10_000) : clock]);
  useEffect(() => {
    function follow() {
      const params = hashParams();
      const asked = idsOf(params.camera).filter((id) => known.has(id)).slice(0, MAX_CAMERAS);
      if (asked.length && asked.join(",") !== state.current.ids.join(",")) setIds(asked);
      const at = instantOf(params.at);
      if (at !== null && Math.abs(at - state.current.clock) > 2000) seek(at);
    }
    addEventListener("hashchange", follow);
    return () => removeEventListener("hashchange", follow);
  }, []);

  function register(id, player) {
    if (player === null) {
      players.current.delete(id);
      return;
    }
    player.setRate(state.current.rate);
    players.current.set(id, player);
    player.onReady = () => state.current.playing && player.video.play().catch(() => {});
    player.seek(state.current.clock);
  }

  // The master clock: the first player showing footage leads; the others follow it.
  function leader() {
    for (const id of state.current.ids) {
      const player = players.current.get(id);
      if (player && !player.loading() && player.now() !== null) return player;
    }
    return null;
  }

  function seek(t) {
    const at = Math.min(t, Date.now());
    setClock(at);
    setPicked(localInput(at));
    for (const player of players.current.values()) player.seek(at);
  }

  // A player that landed past a gap takes the clock with it while paused.
  function onSeeked(id) {
    const first = leader();
    if (state.current.playing || !first || first !== players.current.get(id)) return;
    const shown = first.now();
    if (shown !== null && Math.abs(shown - state.current.clock) > 1000) {
      setClock(shown);
      for (const player of players.current.values()) if (player !== first) player.seek(shown);
    }
  }

  useEffect(() => {
    if (!playing) return undefined;
    let lastWall = null;
    let stuck = 0;
    const timer = setInterval(() => {
      const first = leader();
      if (!first) {
        // Nothing to show here, and nothing on its way: the footage has ended.
        if (![...players.current.values()].some((p) => p.loading())) pause();
        return;
      }
      const wall = first.now();
      // The last frames of a window can leave the video waiting short of its end.
      stuck = wall === lastWall ? stuck + 1 : 0;
      lastWall = wall;
      if (first.video.ended || (stuck >= 2 && wall >= first.lastEnd() - 1000)) {
        stuck = 0;
        // The window's footage ends: on to the next footage the timeline knows of (a
        // new window); after the last recording, stop there.
        const next = nextFootage(wall + 500);
        if (next !== null) seek(next);
        else pause();
        return;
      }
      setClock(wall);
      for (const player of players.current.values()) {
        if (player === first) continue;
        const shown = player.now();
        if (shown === null || Math.abs(shown - wall) > DRIFT_MS) player.seek(wall);
        if (player.video.paused && player.covers(wall)) player.video.play().catch(() => {});
      }
    }, TICK_MS);
    for (const player of players.current.values()) player.video.play().catch(() => {});
    return () => clearInterval(timer);
  }, [playing]);

  // The start of the first recorded span after t on any chosen camera's timeline.
  function nextFootage(t) {
    let next = null;
    for (const lane of lanesRef.current) {
      const span = lane.spans.find(([, end]) => end > t + 1000);
      if (span) next = Math.min(next ?? Infinity, Math.max(span[0], t));
    }
    return next;
  }

  function pause() {
    setPlaying(false);
    for (const player of players.current.values()) player.video.pause();
  }
  function changeRate(event) {
    const value = Number(event.currentTarget.value);
    setRate(value);
    for (const player of players.current.values()) player.setRate(value);
  }
  function step(direction) {
    pause();
    const fps = Math.max(...chosen.map((c) => c.status.fps || 10));
    seek(clock + (direction * 1000) / fps);
  }
  function jumpEvent(direction) {
    const events = lanes.flatMap((lane) => lane.events.map((e) => ({ ...e, camera: lane.name })));
    events.sort((a, b) => a.start - b.start);
    const target = direction > 0
      ? events.find((e) => e.start > clock + 500)
      : events.reverse().find((e) => e.start < clock - 500);
    if (target === undefined) setMessage(direction > 0 ? S.recordings.noNextEvent : S.recordings.noPreviousEvent);
    else {
      const words = { label: target.label, time: localTime(target.start) };
      const text = fill(S.recordings.eventAt, words);
      setMessage(chosen.length > 1 ? `${text} · ${target.camera}` : text);
      seek(target.start);
    }
  }
  function zoomBy(direction) {
    const next = Math.min(Math.max(zoom + direction, 0), ZOOMS.length - 1);
    setZoom(next);
    setViewStart(clock - ZOOMS[next] / 2);
  }
  function go(event) {
    event.preventDefault();
    const at = Date.parse(picked); // a datetime-local value is local time
    if (Number.isFinite(at)) seek(at);
  }
  function changeCameras(next) {
    setIds(next);
    goTo("recordings", { camera: next.join(","), at: new Date(Math.round(clock)).toISOString() });
  }

  const R = S.recordings;
  return html`<section class="recordings">
    ${cameras.length > 1 ? html`<${CameraPicker} cameras=${cameras} ids=${ids} onChange=${changeCameras} />` : ""}
    <div class=${`rec-players rec-count-${chosen.length}`}>
      ${chosen.map((camera) => html`<${PlayerFigure} key=${camera.id} camera=${camera}
        register=${register} onSeeked=${onSeeked} />`)}
    </div>
    <div class="rec-controls" role="group" aria-label=${R.controls}>
      <button type="button" class="primary" data-play onClick=${() => (playing ? pause() : setPlaying(true))}>
        ${playing ? R.pause : R.play}</button>
      <button type="button" onClick=${() => step(-1)} aria-label=${R.frameBackLabel}>${R.frameBack}</button>
      <button type="button" onClick=${() => step(1)} aria-label=${R.frameForwardLabel}>${R.frameForward}</button>
      <button type="button" onClick=${() => jumpEvent(-1)}>${R.previousEvent}</button>
      <button type="button" onClick=${() => jumpEvent(1)}>${R.nextEvent}</button>
      <label>${R.speed}
        <select value=${rate} onChange=${changeRate}>
          ${SPEEDS.map((s) => html`<option value=${s}>${fill(R.speedValue, { speed: s })}</option>`)}
        </select></label>
      <output class="rec-clock" data-clock=${Math.round(clock)}>${localTime(clock, { date: true })}</output>
    </div>
    <${Timeline} start=${viewStart} span=${span} lanes=${lanes} clock=${clock} selection=${selection}
      selecting=${selecting} zoomIndex=${zoom} onSeek=${seek} onZoom=${zoomBy} onSelect=${setSelection} />
    <div class="rec-bar">
      <div class="segmented" role="group" aria-label=${R.zoom}>
        ${ZOOMS.map((_, i) => html`<button type="button" aria-pressed=${i === zoom}
          onClick=${() => zoomBy(i - zoom)}>${R.zooms[i]}</button>`)}
      </div>
      <form class="rec-goto" onSubmit=${go}>
        <label>${R.goTo} <input type="datetime-local" step="1" value=${picked}
          onInput=${(event) => setPicked(event.currentTarget.value)} /></label>
        <button type="submit">${R.go}</button>
      </form>
    </div>
    ${message && html`<p class="muted" role="status">${message}</p>`}
    ${chosen.map((camera) => timelines[camera.id] && timelines[camera.id].error
      ? html`<p class="error" role="alert">${camera.name}: ${timelines[camera.id].error}</p>` : "")}
    <${RangePanel} cameras=${chosen} clock=${clock} selection=${selection} onSelection=${setSelection}
      selecting=${selecting} onSelecting=${setSelecting} />
  </section>`;
}
