// Calling Vigil's API from its pages: the session cookie goes along by itself; writes echo
// the CSRF token (the readable vigil_csrf cookie) in X-CSRF-Token, as the API requires.

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === "vigil_csrf") return decodeURIComponent(value.join("="));
  }
  return "";
}

// fetch() for the API: JSON in, the Response out (the caller reads the status).
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!SAFE_METHODS.has(method)) headers["X-CSRF-Token"] = csrfToken();
  return fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

// The words of an RFC 9457 problem response, or `fallback` when it carries none.
export async function problemDetail(response, fallback) {
  try {
    const problem = await response.json();
    if (typeof problem.detail === "string" && problem.detail) return problem.detail;
  } catch {
    // not JSON: keep the fallback
  }
  return fallback;
}

// The login page, bringing the user back to this page once signed in.
export function signInAgain() {
  const here = location.pathname + location.search;
  location.assign(`/login?next=${encodeURIComponent(here)}`);
}
