// The cameras the API lists for this user, each with its status, polled every few seconds:
// null while loading, {error} when the list cannot be read and none was read before.
import { api, problemDetail, signInAgain } from "/static/api.js";
import { useEffect, useState } from "./lib.js";

const POLL_MS = 2000;

export function useCameras(enabled = true) {
  const [cameras, setCameras] = useState(null);
  useEffect(() => {
    if (!enabled) return undefined;
    let timer = null;
    let live = true;
    async function poll() {
      try {
        const response = await api("/api/cameras");
        if (response.status === 401) return signInAgain();
        if (!live) return undefined;
        if (response.ok) setCameras(await response.json());
        else {
          // A refusal (the database away for a moment: 503) keeps the list already shown,
          // and with it whatever is being typed into a camera's form.
          const error = await problemDetail(response, `HTTP ${response.status}`);
          setCameras((shown) => (Array.isArray(shown) ? shown : { error }));
        }
      } catch {
        // the server is restarting, or the network is down: keep the last list, try again
      }
      if (live) timer = setTimeout(poll, POLL_MS);
      return undefined;
    }
    poll();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [enabled]);
  return cameras;
}
