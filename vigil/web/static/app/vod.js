// Recorded footage in a <video>: an HLS VOD playlist (a signed vod.m3u8 link) played with
// hls.js, loaded on first use by a script element (a classic script, vendored); Safari plays
// HLS itself.
let loading = null;

export function loadHls() {
  if (window.Hls) return Promise.resolve(window.Hls);
  if (loading === null) {
    loading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "/static/vendor/hls.min.js";
      script.onload = () => resolve(window.Hls);
      script.onerror = () => {
        loading = null;
        script.remove();
        reject(new Error("hls.js did not load"));
      };
      document.head.append(script);
    });
  }
  return loading;
}

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
