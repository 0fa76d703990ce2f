// Recorded footage in a <video>: an HLS VOD playlist (a signed vod.m3u8 link) played with
// hls.js (load_hls.js); Safari plays HLS itself. Footage this browser cannot decode (H.265 in
// most) is played from the server's conversion to H.264 instead (the same link, video=h264).
import { loadHls } from "/static/load_hls.js";

// hls.js errors that mean "this browser cannot decode that codec".
export const CODEC_ERRORS = new Set([
  "manifestIncompatibleCodecsError",
  "bufferAddCodecError",
  "bufferIncompatibleCodecsError",
]);

// The playlist of the same footage converted to H.264.
export function h264Url(url) {
  return `${url}${url.includes("?") ? "&" : "?"}video=h264`;
}

// Start playing `url` into `video`; returns stop(). onError(words) on a fatal error.
export function playVod(video, url, onError = () => {}) {
  let stopped = false;
  let player = null;
  loadHls().then(
    (Hls) => {
      if (stopped) return;
      if (Hls.isSupported()) {
        start(Hls, url);
      } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
        video.src = url;
      } else {
        onError("this browser cannot play HLS");
        return;
      }
      video.play().catch(() => {}); // refused autoplay: the controls are there
    },
    (error) => onError(error.message),
  );

  function start(Hls, source) {
    const converted = source !== url;
    player = new Hls();
    player.on(Hls.Events.ERROR, (_, data) => {
      if (stopped) return;
      if (!converted && CODEC_ERRORS.has(data.details)) {
        player.destroy();
        start(Hls, h264Url(url));
        video.play().catch(() => {});
        return;
      }
      if (data.fatal) onError(data.response?.code ? `HTTP ${data.response.code}` : data.details);
    });
    player.loadSource(source);
    player.attachMedia(video);
  }

  return function stop() {
    stopped = true;
    if (player !== null) player.destroy();
    video.removeAttribute("src");
    video.load();
  };
}
