// The single-camera live page: its <video> carries data-camera; ?hls forces the HLS
// fallback, ?stream=sub asks for the camera's sub stream. Playback is player.js, shared with
// the grid's tiles.
import { play } from "/static/player.js";

const video = document.querySelector("video[data-camera]");
const state = document.getElementById("state");
const snapshotLink = document.querySelector("a[data-snapshot]");
const params = new URLSearchParams(location.search);

const WORDS = { connecting: "connecting…", offline: "reconnecting", hls: "live (HLS)" };

play(video, video.dataset.camera, {
  stream: params.get("stream") === "sub" ? "sub" : "main",
  hls: params.has("hls"),
  onState(mode, detail) {
    if (mode === "stalled") {
      state.textContent = `stalled: no picture since ${detail}`;
      return;
    }
    if (mode === "moving") {
      state.textContent = "live";
      return;
    }
    document.body.dataset.mode = mode;
    if (mode === "mse") state.textContent = `live · ${detail}`;
    else if (mode === "error") state.textContent = `cannot play: ${detail}`;
    else state.textContent = WORDS[mode] + (detail ? ` (${detail})` : "");
  },
  onInfo(info) {
    if (snapshotLink) snapshotLink.href = info.snapshot;
  },
});
