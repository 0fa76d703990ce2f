// What the account and administration pages share: API calls that answer JSON or throw the
// API's problem in words (with the fields it names), a hook that loads one resource, times
// in the browser's zone, and handing a secret to the person (copy, download).
import { api, problemDetail, signInAgain } from "/static/api.js";
import { html, fill, useEffect, useRef, useState } from "./lib.js";
import { S } from "./strings.js";

export class Problem extends Error {
  constructor(message, status, fields = {}, type = "") {
    super(message);
    this.status = status;
    this.fields = fields; // {username: "…"}: the body fields the API refused, in its words
    this.type = type;
  }
}

async function problemOf(response) {
  let problem = {};
  try {
    problem = await response.clone().json();
  } catch {
    // not JSON: the status alone
  }
  const fields = {};
  for (const error of problem.errors || []) {
    const [where, name] = String(error.location || "").split(".");
    if (where === "body" && name) fields[name] = error.detail;
  }
  const detail = await problemDetail(response, fill(S.admin.httpError, { status: response.status }));
  return new Problem(detail, response.status, fields, problem.type || "");
}

// The API's JSON answer (null for 204). A 401 means signed out, except where the route
// checks a password or code (`secretCheck`): there it is the answer to show.
export async function call(path, { method = "GET", body, secretCheck = false } = {}) {
  let response;
  try {
    response = await api(path, { method, body });
  } catch {
    throw new Problem(S.admin.unreachable, 0);
  }
  if (response.status === 401 && !secretCheck) {
    signInAgain();
    throw new Problem(S.admin.signedOut, 401);
  }
  if (!response.ok) throw await problemOf(response);
  return response.status === 204 ? null : response.json();
}

// One resource: {data, error, reload}; data is null until the first answer. `path` null:
// nothing is asked.
export function useResource(path) {
  const [state, setState] = useState({ data: null, error: null });
  useEffect(() => {
    if (path === null) return undefined;
    let live = true;
    call(path).then(
      (data) => live && setState({ data, error: null }),
      (error) => live && setState((old) => ({ data: old.data, error: error.message })),
    );
    return () => {
      live = false;
    };
  }, [path]);
  // reload's promise settles once the new answer is in the state.
  const reload = () =>
    path === null
      ? Promise.resolve()
      : call(path).then(
          (data) => setState({ data, error: null }),
          (error) => setState((old) => ({ data: old.data, error: error.message })),
        );
  return { ...state, reload };
}

// A problem in words: the fields the API refused, else its detail.
export function problemWords(error) {
  return Object.values(error.fields || {}).join("; ") || error.message;
}

// One form's request: `[state, run, setState]`. `run(work, ok)` shows it busy, awaits
// `work()` and returns its answer with `{ok}` shown (or nothing, when `ok` is absent); a
// failure shows its words and returns undefined.
export function useAction() {
  const [state, setState] = useState(null);
  async function run(work, ok = null) {
    setState({ busy: true });
    try {
      const answer = await work();
      setState(ok ? { ok } : null);
      return answer;
    } catch (error) {
      setState({ error: problemWords(error) });
      return undefined;
    }
  }
  return [state, run, setState];
}

// "Loading…" or the reason a resource cannot be shown.
export function Pending({ error }) {
  if (error) return html`<p class="error" role="alert">${fill(S.cannotLoad, { detail: error })}</p>`;
  return html`<p class="muted" role="status" data-pending>${S.loading}</p>`;
}

export function when(iso) {
  if (!iso) return S.admin.never;
  return new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

export function whenExact(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "medium" });
}

// Words of a status line, announced politely: {ok: "…"} or {error: "…"}.
export function Status({ state, id }) {
  const error = state && state.error;
  return html`<p id=${id} class=${error ? "error" : "saved-note"} role=${error ? "alert" : "status"}>
    ${(state && (state.error || state.ok)) || ""}</p>`;
}

// The clipboard API needs a secure context (HTTPS or this machine); over plain HTTP on a
// LAN the older way still copies what is selected.
async function toClipboard(text) {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
  const area = document.createElement("textarea");
  area.value = text;
  area.className = "visually-hidden";
  area.setAttribute("readonly", "");
  document.body.append(area);
  area.select();
  const done = document.execCommand("copy");
  area.remove();
  if (!done) throw new Error("copy refused");
  return undefined;
}

// Copy `text` to the clipboard; says so (or that it could not) on the button for a moment.
export function CopyButton({ text, label }) {
  const [said, setSaid] = useState(null);
  async function copy() {
    try {
      await toClipboard(text);
      setSaid(S.admin.copied);
    } catch {
      setSaid(S.admin.copyFailed);
    }
    setTimeout(() => setSaid(null), 2500);
  }
  return html`<button type="button" onClick=${copy}>${said || label || S.admin.copy}</button>`;
}

// A link that saves `text` as the file `name` (made in the browser: the text never travels
// again).
export function DownloadButton({ text, name, label }) {
  const [url, setUrl] = useState(null);
  useEffect(() => {
    const made = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
    setUrl(made);
    return () => URL.revokeObjectURL(made);
  }, [text]);
  return html`<a class="button" href=${url || undefined} download=${name}>${label}</a>`;
}

// A button for something that cannot be undone: the first press asks, in words, beside it.
export function ConfirmButton({ label, ariaLabel, question, confirm, onConfirm, className = "danger" }) {
  const [asking, setAsking] = useState(false);
  const yes = useRef(null);
  useEffect(() => {
    if (asking && yes.current) yes.current.focus();
  }, [asking]);
  if (!asking) {
    return html`<button type="button" class=${className} aria-label=${ariaLabel}
      onClick=${() => setAsking(true)}>${label}</button>`;
  }
  return html`<span class="confirm" role="group" aria-label=${question}>
    <span>${question}</span>
    <button type="button" class="danger" ref=${yes} onClick=${() => {
      setAsking(false);
      onConfirm();
    }}>${confirm}</button>
    <button type="button" onClick=${() => setAsking(false)}>${S.admin.cancel}</button>
  </span>`;
}
