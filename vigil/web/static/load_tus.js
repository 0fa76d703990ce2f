// tus-js-client (vendored, its browser build: a classic script defining window.tus) loaded on
// first use by a script element, once for the page: the library's resumable uploads.
let loading = null;

export function loadTus() {
  if (window.tus) return Promise.resolve(window.tus);
  if (loading === null) {
    loading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "/static/vendor/tus-js-client/tus.min.js";
      script.onload = () => resolve(window.tus);
      script.onerror = () => {
        loading = null;
        script.remove();
        reject(new Error("tus-js-client did not load"));
      };
      document.head.append(script);
    });
  }
  return loading;
}
