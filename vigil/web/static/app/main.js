// The app shell: who is signed in, the navigation, the theme, the keyboard shortcuts, and
// the page of the address (#live, the default, #recordings, #events, #library, #cameras,
// #search (which the top bar and "/" open), #account or #admin); someone who must enrol in
// two-factor sign-in first is shown enrolment. Pages speak only the public REST API.
import { api, problemDetail, signInAgain } from "/static/api.js";
import { fill, html, render, useEffect, useLayoutEffect, useState } from "./lib.js";
import { S } from "./strings.js";
import { useCameras } from "./cameras.js";
import { decided, homePage, navHidden, pagesFor } from "./access.js";
import { Shortcuts } from "./shortcuts.js";
import { SearchLink } from "./search_link.js";
import { PAGE_MODULES, addressPage } from "./pages.js";

const PAGES = {
  live: S.live,
  recordings: S.recordings.title,
  events: S.events.title,
  library: S.library.title,
  search: S.search.title,
  cameras: S.cameras,
  account: S.account.title,
  admin: S.admin.title,
};
const THEME_KEY = "vigil.theme";

// Each page's modules are fetched when the page is first shown (pages.js): the first screen
// waits for the shell and its own page only, which boot.js has already asked for.
const loading = {}; // page → the promise of its component
const loaded = {}; // page → its component, once there

function load(page) {
  const [file, exported] = PAGE_MODULES[page];
  loading[page] ||= import(`./${file}`).then(
    (module) => (loaded[page] = module[exported]),
    (error) => {
      delete loading[page]; // asked again when the page is shown again
      throw error;
    },
  );
  return loading[page];
}

// A page, drawn once its module is in; "Loading…" until then, and why not if it fails.
function Page({ name, ...props }) {
  const [failed, setFailed] = useState(null);
  const [, arrived] = useState(0);
  const Component = loaded[name];
  useEffect(() => {
    setFailed(null);
    if (Component) return undefined;
    let live = true;
    load(name).then(
      () => live && arrived((n) => n + 1),
      (error) => live && setFailed(error.message),
    );
    return () => {
      live = false;
    };
  }, [name]);
  if (Component) return html`<${Component} ...${props} />`;
  if (failed) return html`<p class="error" role="alert">${fill(S.cannotLoad, { detail: failed })}</p>`;
  return html`<p class="muted" role="status">${S.loading}</p>`;
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

// On a phone the bar at the bottom may hold more pages than fit, and scrolls sideways: the
// page shown is brought into it, and the bar comes to rest at a page's edge, never with a
// name cut in two.
function revealCurrent() {
  const bar = document.querySelector("nav.sidebar");
  const link = bar?.querySelector('a[aria-current="page"]');
  if (!link || bar.scrollWidth <= bar.clientWidth) return;
  const starts = [...bar.querySelectorAll("a")].map((a) => a.offsetLeft - bar.clientLeft);
  const right = link.offsetLeft + link.offsetWidth;
  if (link.offsetLeft < bar.scrollLeft) bar.scrollLeft = link.offsetLeft;
  else if (right > bar.scrollLeft + bar.clientWidth) {
    const needed = right - bar.clientWidth;
    bar.scrollLeft = starts.find((start) => start >= needed) ?? needed;
  }
}

function Shell({ me }) {
  const [asked, setPage] = useState(addressPage());
  const cameras = useCameras(!me.mfa_enrolment_required);
  const allowed = pagesFor(me, cameras);
  // Enrolment before anything else, when the organisation requires two-factor sign-in.
  const page = me.mfa_enrolment_required ? "account" : allowed.includes(asked) ? asked : homePage(me, cameras);
  useEffect(() => {
    const follow = () => setPage(addressPage());
    addEventListener("hashchange", follow);
    return () => removeEventListener("hashchange", follow);
  }, []);
  useEffect(() => {
    document.title = `${PAGES[page]} · ${S.appName}`;
  }, [page]);
  // Before the browser paints: the bar never shows the new page's name cut for a frame.
  useLayoutEffect(revealCurrent, [page]);
  let body;
  if (me.mfa_enrolment_required) body = html`<${Page} name="account" me=${me} required />`;
  else if (page === "account") body = html`<${Page} name="account" me=${me} />`;
  else if (page === "admin") body = html`<${Page} name="admin" me=${me} cameras=${cameras} />`;
  else if (!decided(me, cameras)) body = html`<p class="muted" role="status">${S.loading}</p>`;
  else if (page === "library" || page === "search") body = html`<${Page} name=${page} me=${me} />`;
  else body = html`<${Page} name=${page} cameras=${cameras} me=${me} />`;
  return html`
    <nav class="sidebar" aria-label=${S.nav}>
      <span class="brand">${S.appName}</span>
      ${Object.entries(PAGES).filter(([key]) => allowed.includes(key) && !navHidden(me, key)).map(
        ([key, words]) => html`<a href=${`#${key}`} aria-current=${page === key ? "page" : undefined}>${words}</a>`,
      )}
    </nav>
    <header class="topbar">
      <h1>${PAGES[page]}</h1>
      <div class="account">
        <${SearchLink} />
        <span class="who"><span class="long">${me.org.name} · ${S.signedInAs} </span><a href="#account" class="who-link"
          title=${S.account.title}><strong data-username>${me.username}</strong></a><span class="long"> (${me.role})</span></span>
        <${ThemeSwitch} />
        <button type="button" data-sign-out onClick=${signOut}>${S.signOut}</button>
      </div>
    </header>
    <main id="main">${body}</main>
    <${Shortcuts} />`;
}

async function start() {
  applyTheme(localStorage.getItem(THEME_KEY));
  load(addressPage()).catch(() => {}); // shown (or its failure) by Page
  const root = document.getElementById("app");
  const response = await api("/api/me");
  if (response.status === 401) return signInAgain();
  if (!response.ok) {
    const detail = await problemDetail(response, `HTTP ${response.status}`);
    root.textContent = fill(S.cannotLoad, { detail });
    return;
  }
  const me = await response.json();
  root.textContent = ""; // the server's "Loading…"
  render(html`<${Shell} me=${me} />`, root);
}

start();
