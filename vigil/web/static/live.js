// Live view of one camera: fragmented MP4 over a WebSocket into Media Source Extensions,
// kept at the live edge; the HLS window through hls.js (or the browser) where MSE is absent.
// The page's <video> carries data-camera; ?hls forces the fallback, ?stream=sub asks for the
// camera's sub stream (grid views). The stream's addresses come from live/info, signed for
// this user (they work without cookies for a few minutes): fetched again on each reconnect.
import { api, problemDetail, signInAgain } from "/static/api.js";

const LIVE_EDGE_SECONDS = 0.3; // where to sit behind the newest frame
const MAX_LAG_SECONDS = 1.0; // further behind than this, jump to the live edge
const KEEP_SECONDS = 10; // buffered media kept behind the playhead
const RECONNECT_MS = 2000;

const video = document.querySelector("video[data-camera]");
const state = document.getElementById("state");
const base = `/api/cameras/${encodeURIComponent(video.dataset.camera)}`;
const params = new URLSearchParams(location.search);
const streamQuery = params.get("stream") === "sub" ? "?stream=sub" : "";
const snapshotLink = document.querySelector("a[data-snapshot]");

function show(mode, text) {
  document.body.dataset.mode = mode;
  state.textContent = text;
}

// The signed addresses of the stream (websocket, hls, snapshot), or null when the page
// cannot play: the reason is shown, or the user is sent to sign in again.
async function liveInfo() {
  const response = await api(`${base}/live/info${streamQuery}`);
  if (response.status === 401) {
    signInAgain();
    return null;
  }
  if (!response.ok) {
    show("error", await problemDetail(response, `cannot watch (HTTP ${response.status})`));
    return null;
  }
  const info = await response.json();
  if (snapshotLink) snapshotLink.href = info.snapshot;
  return info;
}

async function playWebSocket() {
  let info;
  try {
    info = await liveInfo();
  } catch {
    show("offline", "reconnecting");
    setTimeout(playWebSocket, RECONNECT_MS);
    return;
  }
  if (info === null) return;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}${info.websocket}`);
  socket.binaryType = "arraybuffer";
  let buffer = null;
  let pending = [];

  // A text message starts a stream (first connection, or the camera's ffmpeg restarted):
  // a fresh MediaSource, since the new stream's timestamps start again.
  function begin(stream) {
    if (!MediaSource.isTypeSupported(stream.mime)) {
      show("error", `this browser cannot play ${stream.codecs}; trying HLS`);
      socket.onclose = null;
      socket.close();
      playHls();
      return;
    }
    pending = [];
    buffer = null;
    const source = new MediaSource();
    const url = URL.createObjectURL(source);
    video.src = url;
    source.addEventListener(
      "sourceopen",
      () => {
        URL.revokeObjectURL(url);
        buffer = source.addSourceBuffer(stream.mime);
        buffer.mode = "segments";
        buffer.addEventListener("updateend", () => {
          followLiveEdge();
          if (!trim()) append();
        });
        append();
      },
      { once: true },
    );
    show("mse", `live · ${stream.codecs}`);
  }

  function append() {
    if (buffer === null || buffer.updating || pending.length === 0) return;
    try {
      buffer.appendBuffer(pending.shift());
    } catch (error) {
      show("error", `cannot play: ${error.name}`);
      socket.close();
    }
  }

  function followLiveEdge() {
    const ranges = buffer.buffered;
    if (ranges.length === 0) return;
    const last = ranges.length - 1;
    const end = ranges.end(last);
    // Behind, or stuck before a gap left by skipped fragments: jump to the newest picture.
    if (video.currentTime < ranges.start(last) || end - video.currentTime > MAX_LAG_SECONDS) {
      video.currentTime = Math.max(ranges.start(last), end - LIVE_EDGE_SECONDS);
    }
    // A little behind: play slightly faster until back near the edge, without a jump.
    const lag = end - video.currentTime;
    video.playbackRate = lag > LIVE_EDGE_SECONDS + 0.2 ? 1.1 : 1.0;
    if (video.paused) video.play().catch(() => {});
  }

  function trim() {
    const ranges = buffer.buffered;
    if (ranges.length === 0 || video.currentTime - ranges.start(0) < 2 * KEEP_SECONDS) return false;
    buffer.remove(0, video.currentTime - KEEP_SECONDS);
    return true;
  }

  socket.onmessage = (event) => {
    if (typeof event.data === "string") {
      begin(JSON.parse(event.data));
    } else {
      pending.push(event.data);
      append();
    }
  };
  socket.onclose = (event) => {
    show("offline", event.code === 1013 ? "connection too slow; reconnecting" : "reconnecting");
    setTimeout(playWebSocket, RECONNECT_MS);
  };
}

async function playHls() {
  const info = await liveInfo();
  if (info === null) return;
  const playlist = info.hls;
  if (!window.Hls) {
    await new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "/static/vendor/hls.min.js";
      script.onload = resolve;
      script.onerror = reject;
      document.head.append(script);
    });
  }
  if (window.Hls.isSupported()) {
    const hls = new window.Hls({ liveSyncDurationCount: 2, manifestLoadingMaxRetry: 30 });
    hls.loadSource(playlist);
    hls.attachMedia(video);
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = playlist; // Safari plays HLS itself
  } else {
    show("error", "this browser can play neither MSE nor HLS");
    return;
  }
  video.play().catch(() => {});
  show("hls", "live (HLS)");
}

if (window.MediaSource && !params.has("hls")) {
  playWebSocket();
} else {
  playHls();
}
