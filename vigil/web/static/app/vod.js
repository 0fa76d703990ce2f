// Recorded footage in a <video>: an HLS VOD playlist (a signed vod.m3u8 link) played with
// hls.js (load_hls.js); Safari plays HLS itself.
import { loadHls } from "/static/load_hls.js";

// Start playing `url` into `video`; returns stop(). onError(words) on a fatal error.
export function playVod(video, url, onError = () => {}) {
  let stopped = false;
  let player = null;
  loadHls().then(
    (Hls) => {
      if (stopped) return;
      if (Hls.isSupported()) {
        player = new Hls();
        player.on(Hls.Events.ERROR, (_, data) => {
          if (data.fatal) onError(data.response?.code ? `HTTP ${data.response.code}` : data.details);
        });
        player.loadSource(url);
        player.attachMedia(video);
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
  return function stop() {
    stopped = true;
    if (player !== null) player.destroy();
    video.removeAttribute("src");
    video.load();
  };
}
