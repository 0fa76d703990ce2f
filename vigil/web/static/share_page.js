// The page a share link opens (/s/<token>), for people without an account: asks for the
// password when the link has one, then shows the item, or the library event's pictures and
// videos as a gallery with a viewer (videos play, everything downloads). It speaks only to
// /api/share/<token>, without cookies; the file links the API answers are signed for this
// link, so the player and the downloads need no password. A link that expired, was withdrawn
// or never existed says so.
import { html, fill, render, useEffect, useRef, useState } from "./app/lib.js";
import { S } from "./app/strings.js";

const T = S.shared;
const root = document.getElementById("shared");
const token = decodeURIComponent(location.pathname.replace(/^\/s\//, "").split("/")[0]);

async function openLink(password) {
  const headers = { Accept: "application/json" };
  if (password) headers["Share-Password"] = password;
  const response = await fetch(`/api/share/${encodeURIComponent(token)}`, { headers, credentials: "omit" });
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: said by the status alone
  }
  return { status: response.status, body, retryAfter: Number(response.headers.get("Retry-After")) || 0 };
}

function when(iso) {
  return new Date(iso).toLocaleString([], { dateStyle: "long", timeStyle: "short" });
}

function length(seconds) {
  if (!seconds) return T.video;
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function PasswordForm({ wrong, throttled, onOpen }) {
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const input = useRef(null);
  useEffect(() => input.current?.focus(), [wrong, throttled]);
  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    await onOpen(password);
    setBusy(false);
  }
  let error = "";
  if (throttled) error = fill(T.throttled, { s: throttled });
  else if (wrong) error = T.wrongPassword;
  return html`<form class="card shared-password" onSubmit=${submit}>
    <h1>${T.passwordTitle}</h1>
    <p>${T.passwordHint}</p>
    <label>${T.password}
      <input ref=${input} type="password" name="password" autocomplete="current-password" required maxlength="200"
        value=${password} onInput=${(event) => setPassword(event.target.value)}
        aria-invalid=${error ? "true" : undefined} aria-describedby=${error ? "shared-error" : undefined} /></label>
    <p id="shared-error" class="error" role="alert">${error}</p>
    <button type="submit" class="primary" disabled=${busy}>${T.submit}</button>
  </form>`;
}

function Problem({ title, detail }) {
  return html`<section class="card shared-problem" role="alert">
    <h1>${title}</h1>
    <p>${detail}</p>
  </section>`;
}

function Media({ item }) {
  const files = item.files;
  if (item.kind === "video") {
    return html`<video class="shared-media" controls playsinline preload="metadata"
      src=${files.web || files.original} poster=${files.poster || undefined}
      aria-label=${fill(T.videoLabel, { name: item.title })}></video>`;
  }
  return html`<img class="shared-media" src=${files.original} alt=${item.title}
    width=${item.width || undefined} height=${item.height || undefined} />`;
}

// One item; in a gallery (onStep, onClose) with its title, which takes the focus.
function Viewer({ item, at, count, onStep, onClose }) {
  const heading = useRef(null);
  const inGallery = Boolean(onClose);
  useEffect(() => {
    if (inGallery) heading.current?.focus();
  }, [item.id]);
  useEffect(() => {
    function onKey(event) {
      if (event.target.closest?.("input, video")) return;
      if (event.key === "ArrowLeft" && onStep) onStep(-1);
      else if (event.key === "ArrowRight" && onStep) onStep(1);
      else if (event.key === "Escape" && onClose) onClose();
    }
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [item.id]);
  return html`<article class="shared-viewer" data-item=${item.id}>
    <${Media} item=${item} />
    <div class="shared-caption">
      ${inGallery ? html`<h2 ref=${heading} tabindex="-1">${item.title}</h2>` : ""}
      ${item.description ? html`<p>${item.description}</p>` : ""}
      <p class="muted"><time datetime=${item.captured_at}>${when(item.captured_at)}</time>
        ${count > 1 ? html` · ${fill(T.position, { at: at + 1, n: count })}` : ""}</p>
      <div class="shared-actions">
        ${onClose ? html`<button type="button" onClick=${onClose}>${T.close}</button>` : ""}
        ${onStep ? html`<button type="button" onClick=${() => onStep(-1)} disabled=${at === 0}>${T.previous}</button>
          <button type="button" onClick=${() => onStep(1)} disabled=${at === count - 1}>${T.next}</button>` : ""}
        <a class="button" href=${item.files.original} download
          aria-label=${fill(T.downloadLabel, { name: item.title })}>${T.download}</a>
      </div>
    </div>
  </article>`;
}

function Gallery({ items, onOpen }) {
  return html`<ul class="shared-gallery" aria-label=${fill(T.items, { n: items.length })}>
    ${items.map(
      (item, index) => html`<li key=${item.id}>
        <button type="button" class="shared-thumb" onClick=${() => onOpen(index)}
          aria-label=${item.kind !== "video"
            ? fill(T.open, { name: item.title })
            : fill(T.openVideo, { name: item.title, length: length(item.duration_seconds) })}>
          <span class="shared-thumb-picture">
            ${item.files.thumb ? html`<img src=${item.files.thumb} alt="" loading="lazy" width="240" height="180" />` : ""}
            ${item.kind === "video" ? html`<span class="result-length">${length(item.duration_seconds)}</span>` : ""}
          </span>${" "}<span class="shared-thumb-title">${item.title}</span>
        </button>
      </li>`,
    )}
  </ul>`;
}

function Shared({ shared }) {
  const [open, setOpen] = useState(null); // the gallery's item in the viewer
  const items = shared.items;
  useEffect(() => {
    document.title = `${shared.title} · ${T.title}`;
  }, []);
  useEffect(() => {
    // Back closes the viewer: it is an entry of its own in the history.
    const follow = () => setOpen(history.state?.item ?? null);
    addEventListener("popstate", follow);
    return () => removeEventListener("popstate", follow);
  }, []);
  function show(index) {
    if (open === null) history.pushState({ item: index }, "");
    else history.replaceState({ item: index }, "");
    setOpen(index);
  }
  let body;
  if (!items.length) body = html`<p class="muted">${T.empty}</p>`;
  else if (shared.kind === "item") body = html`<${Viewer} item=${items[0]} at=${0} count=${1} />`;
  else if (open !== null && items[open]) {
    body = html`<${Viewer} item=${items[open]} at=${open} count=${items.length}
      onStep=${(delta) => show(Math.min(Math.max(open + delta, 0), items.length - 1))}
      onClose=${() => history.back()} />`;
  } else body = html`<${Gallery} items=${items} onOpen=${show} />`;
  return html`<header class="shared-header">
      <h1>${shared.title}</h1>
      <p class="muted">${fill(T.expiresOn, { when: when(shared.expires_at) })}
        ${shared.kind === "event" ? html` · ${fill(T.items, { n: items.length })}` : ""}</p>
    </header>
    ${body}
    <footer class="shared-footer muted">${T.poweredBy}</footer>`;
}

function Page() {
  const [view, setView] = useState({ state: "loading" });
  async function attempt(password) {
    let answer;
    try {
      answer = await openLink(password);
    } catch (error) {
      setView({ state: "failed", detail: error.message });
      return;
    }
    const { status, body } = answer;
    if (status === 200) setView({ state: "shared", shared: body });
    else if (status === 401) setView({ state: "password", wrong: Boolean(password) });
    else if (status === 429) setView({ state: "password", throttled: answer.retryAfter || 1 });
    else if (status === 410) setView({ state: "gone", withdrawn: body?.reason === "withdrawn" });
    else if (status === 404 || status === 422) setView({ state: "missing" });
    else setView({ state: "failed", detail: body?.detail || `HTTP ${status}` });
  }
  useEffect(() => {
    attempt(null);
  }, []);
  if (view.state === "loading") return html`<p class="muted" role="status">${S.loading}</p>`;
  if (view.state === "password") {
    return html`<${PasswordForm} wrong=${view.wrong} throttled=${view.throttled} onOpen=${attempt} />`;
  }
  if (view.state === "gone") {
    return html`<${Problem} title=${T.gone} detail=${view.withdrawn ? T.goneWithdrawn : T.goneExpired} />`;
  }
  if (view.state === "missing") return html`<${Problem} title=${T.notFound} detail=${T.notFoundHint} />`;
  if (view.state === "failed") return html`<${Problem} title=${T.title} detail=${fill(T.failed, { detail: view.detail })} />`;
  return html`<${Shared} shared=${view.shared} />`;
}

root.textContent = "";
render(html`<${Page} />`, root);
