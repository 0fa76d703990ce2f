// The login, first-run setup and invitation forms: each posts JSON to /api/auth/… and, once
// signed in, leaves the page. The form's data-form names which one this page shows.
import { api, problemDetail } from "/static/api.js";

const form = document.querySelector("form[data-form]");
const error = form.querySelector(".error");

function fail(text) {
  error.textContent = text;
  error.hidden = false;
}

// Only a path on this site: "//host" or "/\host" would leave it.
function nextPage() {
  const next = new URLSearchParams(location.search).get("next");
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  const url = new URL(next, location.origin);
  return url.origin === location.origin ? url.pathname + url.search + url.hash : "/";
}

// An invitation link carries its token in the fragment (#token or #token=…), which no
// server and no Referer header ever sees; it leaves the address bar at once.
const invitation = location.hash.slice(1).replace(/^token=/, "");
if (form.dataset.form === "invite") {
  history.replaceState(null, "", location.pathname + location.search);
  if (!invitation) fail("This invitation link is incomplete: open the whole link you were sent.");
}

const value = (name) => form.elements[name].value;

async function submit() {
  const kind = form.dataset.form;
  if ((kind === "setup" || kind === "invite") && value("password") !== value("repeat")) {
    return fail("The two passwords differ.");
  }
  let response;
  if (kind === "login") {
    const code = value("code").trim();
    response = await api("/api/auth/login", {
      method: "POST",
      body: { username: value("username"), password: value("password"), code: code || null },
    });
    if (response.ok) return location.assign(nextPage());
    if (response.status === 401) return fail("Wrong username, password or code.");
  } else if (kind === "setup") {
    response = await api("/api/auth/setup", {
      method: "POST",
      body: {
        organisation: value("organisation"),
        username: value("username"),
        password: value("password"),
      },
    });
    if (response.ok) return location.assign("/");
    if (response.status === 403) return location.assign("/login"); // someone else was first
  } else {
    if (!invitation) return fail("This invitation link is incomplete: open the whole link you were sent.");
    response = await api("/api/auth/invitation", {
      method: "POST",
      body: { token: invitation, password: value("password") },
    });
    if (response.ok) return location.assign("/");
  }
  fail(await problemDetail(response, `That did not work (HTTP ${response.status}); try again.`));
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await submit();
  } catch {
    fail("Vigil cannot be reached; check the connection and try again.");
  } finally {
    button.disabled = false;
  }
});
