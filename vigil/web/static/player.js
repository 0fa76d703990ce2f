// Live playback of one camera into a <video>: fragmented MP4 over a WebSocket into Media
// Source Extensions, kept at the live edge; the HLS window through hls.js (or the browser)
// where MSE is absent. Used by the single-camera page (live.js) and the grid's tiles.
// The stream's addresses come from live/info, signed for this user (they work without
// cookies for a few minutes): fetched again on each reconnect. A picture that stops moving
// for STALLED_MS is reported ("stalled", then "moving" when it moves again): the camera's
// status may say so only for a moment, between its reconnection attempts. A stream stuck for
// STUCK_MS is dropped and reconnected, with no reload. A codec this browser cannot decode
// (H.265 in most) falls back to an H.264 stream: the sub stream if it is H.264, else the
// server's conversion (?stream=h264, made while watched; the server may refuse it when it
// converts as many cameras as it may, and the problem's words are shown).
import { api, problemDetail, signInAgain } from "/static/api.js";
import { loadHls } from "/static/load_hls.js";

const LIVE_EDGE_SECONDS = 0.3; // where to sit behind the newest frame
const MAX_LAG_SECONDS = 1.0; // further behind than this, jump to the live edge
const KEEP_SECONDS = 10; // buffered media kept behind the playhead
const RECONNECT_MS = 2000;
const STALLED_MS = 3000;
const STUCK_MS = 6000;

// Start playing; returns stop(). onState(mode, detail) reports the connection ("connecting",
// "mse", "hls", "offline" while reconnecting, "error" with why) and the picture ("stalled",
// "moving"); onInfo(info) receives each live/info answer.
export function play(video, cameraId, { stream = "main", hls = false, onState, onInfo } = {}) {
  const base = `/api/cameras/${encodeURIComponent(cameraId)}`;
  let variant = stream; // "main", "sub" or "h264": what this browser plays (see fallBack)
  const report = onState || (() => {});
  let stopped = false;
  let socket = null;
  let hlsPlayer = null;
  let retry = null;
  let lastTime = -1;
  let lastMove = Date.now(); // for the connection: reset on each reconnect
  let lastPicture = 0; // when the picture last moved (0: not yet)
  let stalled = false;

  function reconnect(detail) {
    if (stopped) return;
    report("offline", detail);
    clearTimeout(retry);
    retry = setTimeout(start, RECONNECT_MS);
  }

  // The next stream to try when this browser cannot decode `codecs`: the sub stream (when
  // the camera has none, the server answers with the main one, and the next step follows),
  // then the conversion to H.264. False when there is nothing left to try.
  function fallBack(codecs) {
    const next = { main: "sub", sub: "h264" }[variant];
    if (!next) return false;
    variant = next;
    const to = next === "h264" ? "H.264" : "the sub stream";
    report("connecting", `${codecs || "this video"} cannot play here; trying ${to}`);
    return true;
  }

  // The signed addresses of the stream, or null when it cannot play (the reason reported).
  async function liveInfo() {
    const query = variant === "main" ? "" : `?stream=${variant}`;
    const response = await api(`${base}/live/info${query}`);
    if (response.status === 401) {
      signInAgain();
      return null;
    }
    if (!response.ok) {
      lastPicture = 0; // refused: its reason stays shown, not "stalled" for an old picture
      report("error", await problemDetail(response, `HTTP ${response.status}`));
      retry = setTimeout(start, 5 * RECONNECT_MS);
      return null;
    }
    const info = await response.json();
    if (onInfo) onInfo(info);
    return info;
  }

  function start() {
    if (stopped) return;
    report("connecting", "");
    lastMove = Date.now();
    if (window.MediaSource && !hls) playWebSocket();
    else playHls();
  }

  async function playWebSocket() {
    let info;
    try {
      info = await liveInfo();
    } catch {
      reconnect("");
      return;
    }
    if (info === null || stopped) return;
    if (info.mime && !MediaSource.isTypeSupported(info.mime) && fallBack(info.codecs)) {
      playWebSocket();
      return;
    }
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}${info.websocket}`);
    socket = ws;
    ws.binaryType = "arraybuffer";
    let buffer = null;
    let pending = [];

    // A text message starts a stream (first connection, or the camera's ffmpeg restarted):
    // a fresh MediaSource, since the new stream's timestamps start again.
    function begin(description) {
      if (!MediaSource.isTypeSupported(description.mime)) {
        ws.onclose = null;
        ws.close();
        if (fallBack(description.codecs)) {
          playWebSocket();
          return;
        }
        hls = true;
        report("error", `cannot play ${description.codecs} here; trying HLS`);
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
          buffer = source.addSourceBuffer(description.mime);
          buffer.mode = "segments";
          buffer.addEventListener("updateend", () => {
            followLiveEdge();
            if (!trim()) append();
          });
          append();
        },
        { once: true },
      );
      report("mse", description.codecs);
    }

    function append() {
      if (buffer === null || buffer.updating || pending.length === 0) return;
      try {
        buffer.appendBuffer(pending.shift());
      } catch (error) {
        report("error", error.name);
        ws.close();
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
      if (ranges.length === 0 || video.currentTime - ranges.start(0) < 2 * KEEP_SECONDS) {
        return false;
      }
      buffer.remove(0, video.currentTime - KEEP_SECONDS);
      return true;
    }

    ws.onmessage = (event) => {
      if (typeof event.data === "string") begin(JSON.parse(event.data));
      else {
        pending.push(event.data);
        append();
      }
    };
    ws.onclose = (event) => {
      if (socket === ws) socket = null;
      reconnect(event.code === 1013 ? "too slow" : "");
    };
  }

  async function playHls() {
    const info = await liveInfo();
    if (info === null || stopped) return;
    await loadHls();
    if (stopped) return;
    if (window.Hls.isSupported()) {
      hlsPlayer = new window.Hls({ liveSyncDurationCount: 2, manifestLoadingMaxRetry: 30 });
      hlsPlayer.loadSource(info.hls);
      hlsPlayer.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = info.hls; // Safari plays HLS itself
    } else {
      report("error", "this browser can play neither MSE nor HLS");
      return;
    }
    video.play().catch(() => {});
    report("hls", "");
  }

  // A stream that stops moving (the camera stalled, the network went away without closing
  // the socket): drop it and connect again.
  const watchdog = setInterval(() => {
    const now = Date.now();
    const moved = video.currentTime > lastTime;
    lastTime = video.currentTime; // a new stream starts again at 0: not a move
    if (moved) {
      lastMove = lastPicture = now;
      if (stalled) {
        stalled = false;
        report("moving", "");
      }
      return;
    }
    if (lastPicture && !stalled && now - lastPicture > STALLED_MS) {
      stalled = true;
      report("stalled", new Date(lastPicture).toLocaleTimeString());
    }
    if (now - lastMove > STUCK_MS && socket !== null) {
      lastMove = now;
      socket.close(); // its onclose reconnects
    }
  }, 1000);

  start();
  return function stop() {
    stopped = true;
    clearTimeout(retry);
    clearInterval(watchdog);
    if (socket !== null) {
      socket.onclose = null;
      socket.close();
    }
    if (hlsPlayer !== null) hlsPlayer.destroy();
    video.removeAttribute("src");
    video.load();
  };
}
