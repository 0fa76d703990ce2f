// Recorded playback of one camera: hls.js (loaded by vod.js) on the VOD playlist of a window
// of time around the playhead (GET /api/cameras/{id}/vod.m3u8), with wall-clock time mapped
// to media time and back through each fragment's program date time. Gaps are left out of the
// playlist, so the media timeline runs straight over them; a seek into a gap lands on the
// footage after it. Footage this browser cannot decode (H.265 in most) is played again from
// the server's conversion to H.264 (vod.m3u8?video=h264, one file a media segment).
import { loadHls } from "/static/load_hls.js";
import { CODEC_ERRORS, h264Url } from "./vod.js";

const BEFORE_MS = 10 * 60_000; // a window: 10 min before the playhead,
const AFTER_MS = 30 * 60_000; // 30 min after it (never past now)
// At least this far into a fragment (past a gap, or at its very start): after a file
// boundary the first frame is buffered from a hair after the fragment's start, and a seek
// to the start itself would show the frame before.
const LAND_S = 0.01;

export class VodPlayer {
  // onState(state, detail): "loading", "ready", "none" (no footage in the window), "error".
  constructor(video, cameraId, onState) {
    this.video = video;
    this.cameraId = cameraId;
    this.onState = onState;
    this.hls = null;
    this.fragments = []; // [{wall, media, end}] wall ms, media s, end wall ms; time order
    this.window = null; // {start, end} wall ms of the playlist asked for
    this.pending = null; // the wall time to show once the playlist is in
    this.rate = 1;
    this.onReady = null; // called when a window's footage is ready to play
    this.h264 = false; // playing the conversion to H.264: this browser cannot decode the original
  }

  // The wall-clock instant shown (ms), or null before footage is loaded.
  now() {
    const media = this.video.currentTime;
    let found = null;
    for (const f of this.fragments) {
      if (f.media > media + 1e-3) break;
      found = f;
    }
    if (found === null) return null;
    return Math.min(found.wall + (media - found.media) * 1000, found.end);
  }

  // Media time of a wall-clock instant: inside a fragment, or the start of the next one
  // (over a gap); null when the window holds nothing at or after it.
  mediaAt(wall) {
    for (const f of this.fragments) {
      if (wall < f.wall) return f.media + LAND_S;
      if (wall < f.end) return f.media + Math.max((wall - f.wall) / 1000, LAND_S);
    }
    return null;
  }

  // Whether the loaded window holds footage at or after ``wall`` (up to its end).
  covers(wall) {
    if (!this.window || this.pending !== null || this.fragments.length === 0) return false;
    const last = this.fragments[this.fragments.length - 1];
    return wall >= this.window.start && wall < last.end && wall < this.window.end;
  }

  // Where the window's footage ends (wall ms), or null with none.
  lastEnd() {
    const last = this.fragments[this.fragments.length - 1];
    return last ? last.end : null;
  }

  // A window's playlist is on its way.
  loading() {
    return this.pending !== null;
  }

  seek(wall) {
    if (this.covers(wall)) {
      const media = this.mediaAt(wall);
      if (media !== null && Math.abs(this.video.currentTime - media) > 0.001) {
        this.video.currentTime = media;
      }
      return;
    }
    if (this.pending !== null && this.window && wall >= this.window.start && wall < this.window.end) {
      this.pending = wall; // the playlist of this window is on its way
      return;
    }
    this.load(wall);
  }

  setRate(rate) {
    this.rate = rate;
    this.video.playbackRate = rate;
  }

  async load(wall) {
    const start = Math.round(wall - BEFORE_MS);
    const end = Math.round(Math.min(wall + AFTER_MS, Date.now()));
    this.pending = wall;
    this.fragments = [];
    this.window = { start, end: Math.max(end, start + 1000) };
    this.onState("loading");
    try {
      await loadHls();
    } catch (error) {
      this.pending = null;
      this.onState("error", error.message);
      return;
    }
    if (this.video === null) return; // destroyed meanwhile
    if (this.hls) this.hls.destroy();
    const recorded =
      `/api/cameras/${this.cameraId}/vod.m3u8?start=${this.window.start / 1000}` +
      `&end=${this.window.end / 1000}`;
    const url = this.h264 ? h264Url(recorded) : recorded;
    const hls = new window.Hls({ autoStartLoad: false, maxBufferLength: 20, manifestLoadingMaxRetry: 2 });
    this.hls = hls;
    hls.on(window.Hls.Events.LEVEL_LOADED, (_, data) => {
      if (hls !== this.hls || this.pending === null) return;
      this.fragments = fragmentsOf(data.details.fragments);
      const target = this.pending;
      this.pending = null;
      const media = this.mediaAt(target);
      if (media === null) {
        this.fragments = []; // nothing from the playhead on
        this.onState("none");
        return;
      }
      hls.startLoad(media);
      this.video.currentTime = media;
      this.video.playbackRate = this.rate;
      this.onState("ready");
      if (this.onReady) this.onReady();
    });
    hls.on(window.Hls.Events.ERROR, (_, data) => {
      if (hls !== this.hls) return;
      if (!this.h264 && CODEC_ERRORS.has(data.details)) {
        this.h264 = true;
        this.load(this.now() ?? wall);
        return;
      }
      if (!data.fatal) return;
      this.pending = null;
      const status = data.response && data.response.code;
      if (status === 404) this.onState("none");
      else this.onState("error", data.details);
    });
    hls.loadSource(url);
    hls.attachMedia(this.video);
  }

  destroy() {
    if (this.hls) this.hls.destroy();
    this.hls = null;
    this.video = null;
  }
}

// hls.js fragments as {wall, media, end}: program date times are on each file's first
// fragment and carried forward by hls.js; any it lacks follow from the one before.
function fragmentsOf(fragments) {
  const out = [];
  for (const frag of fragments) {
    const previous = out[out.length - 1];
    const wall = frag.programDateTime ?? (previous ? previous.end : null);
    if (wall === null) continue;
    out.push({ wall, media: frag.start, end: wall + frag.duration * 1000 });
  }
  return out;
}
