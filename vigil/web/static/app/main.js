// The app shell: who is signed in, the navigation, the theme, the keyboard shortcuts, and
// the page of the address (#live, the default, #recordings, #events or #cameras). Pages
// speak only the public REST API.
import { api, problemDetail, signInAgain } from "/static/api.js";
import { html, render, useEffect, useState } from "./lib.js";
import { S } from "./strings.js";
import { useCameras } from "./cameras.js";
import { CameraTable } from "./table.js";
import { LiveGrid } from "./grid.js";
import { RecordingsPage } from "./recordings.js";
import { EventsPage } from "./events.js";
import { Shortcuts } from "./shortcuts.js";

const PAGES = { live: S.live, recordings: S.recordings.title, events: S.events.title, cameras: S.cameras };
const THEME_KEY = "vigil.theme";

function currentPage() {
  const name = location.hash.replace(/^#/, "").split("?")[0];
  return name in PAGES ? name : "live";
}

function applyTheme(theme) {
  if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}

function ThemeSwitch() {
  const [theme, setTheme] = useState(localStorage.getItem(THEME_KEY) || "system");
  useEffect(() => applyTheme(theme), [theme]);
  function choose(event) {
    const value = event.target.value;
    localStorage.setItem(THEME_KEY, value);
    setTheme(value);
  }
  return html`<label class="theme"><span class="long">${S.theme} </span>
    <select value=${theme} onChange=${choose}>
      ${Object.entries(S.themes).map(([key, words]) => html`<option value=${key}>${words}</option>`)}
    </select></label>`;
}

async function signOut(event) {
  event.currentTarget.disabled = true;
  try {
    await api("/api/auth/logout", { method: "POST" });
  } finally {
    location.assign("/login");
  }
}

function Shell({ me }) {
  const [page, setPage] = useState(currentPage());
  const cameras = useCameras(!me.mfa_enrolment_required);
  useEffect(() => {
    const follow = () => setPage(currentPage());
    addEventListener("hashchange", follow);
    return () => removeEventListener("hashchange", follow);
  }, []);
  useEffect(() => {
    document.title = `${PAGES[page]} · ${S.appName}`;
  }, [page]);
  let body;
  if (me.mfa_enrolment_required) body = html`<p class="notice">${S.mfaRequired}</p>`;
  else if (page === "cameras") body = html`<${CameraTable} cameras=${cameras} me=${me} />`;
  else if (page === "recordings") body = html`<${RecordingsPage} cameras=${cameras} me=${me} />`;
  else if (page === "events") body = html`<${EventsPage} cameras=${cameras} me=${me} />`;
  else body = html`<${LiveGrid} cameras=${cameras} me=${me} />`;
  return html`
    <nav class="sidebar" aria-label=${S.nav}>
      <span class="brand">${S.appName}</span>
      ${Object.entries(PAGES).map(
        ([key, words]) => html`<a href=${`#${key}`} aria-current=${page === key ? "page" : undefined}>${words}</a>`,
      )}
    </nav>
    <header class="topbar">
      <h1>${PAGES[page]}</h1>
      <div class="account">
        <span class="who"><span class="long">${me.org.name} · ${S.signedInAs} </span><strong
          data-username>${me.username}</strong><span class="long"> (${me.role})</span></span>
        <${ThemeSwitch} />
        <button type="button" data-sign-out onClick=${signOut}>${S.signOut}</button>
      </div>
    </header>
    <main id="main">${body}</main>
    <${Shortcuts} />`;
}

async function start() {
  applyTheme(localStorage.getItem(THEME_KEY));
  const root = document.getElementById("app");
  const response = await api("/api/me");
  if (response.status === 401) return signInAgain();
  if (!response.ok) {
    const detail = await problemDetail(response, `HTTP ${response.status}`);
    root.textContent = S.cannotLoad.replace("{detail}", detail);
    return;
  }
  const me = await response.json();
  root.textContent = ""; // the server's "Loading…"
  render(html`<${Shell} me=${me} />`, root);
}

start();
