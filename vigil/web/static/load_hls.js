// hls.js (vendored, a classic script) loaded on first use by a script element, once for the
// page however many players ask: the live player's fallback, recorded playback, clips.
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
