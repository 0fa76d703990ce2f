// Sharing an item or a library event: with user groups (classes) of the organisation, or by a
// link for people without an account (an expiry, a password if wanted), and the links made
// before, each with its views, to withdraw. For admins and operators: the page that shows the
// button decides, the API checks.
//   html`<${ShareButton} item_id=${42} title="Relay" />`
//   html`<${ShareButton} library_event_id=${7} title="Sports day" onSaved=${setEvent} />`
// onSaved (optional) is given the item or event as the API answers it once its groups are
// saved, for a page that shows them.
import { api, problemDetail } from "/static/api.js";
import { html, fill, useEffect, useRef, useState } from "./lib.js";
import { S } from "./strings.js";

const T = S.share;
const DAYS = [1, 7, 30, 90, 365];

async function call(path, options) {
  const response = await api(path, options);
  if (!response.ok) throw new Error(await problemDetail(response, `HTTP ${response.status}`));
  return response.status === 204 ? null : response.json();
}

function when(iso) {
  return new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

function linkState(link) {
  if (link.revoked) return T.withdrawn;
  if (Date.parse(link.expires_at) <= Date.now()) return T.expired;
  return fill(T.expires, { when: when(link.expires_at) });
}

// The groups it is shared with, as ticks; saved with one button.
function Groups({ target, onSaved }) {
  const [groups, setGroups] = useState(null);
  const [chosen, setChosen] = useState(new Set());
  const [saved, setSaved] = useState(new Set());
  const [status, setStatus] = useState({ busy: false, message: "", error: "" });
  useEffect(() => {
    Promise.all([call("/api/library/groups"), call(target.path)]).then(
      ([all, thing]) => {
        setGroups(all);
        setChosen(new Set(thing.group_ids));
        setSaved(new Set(thing.group_ids));
      },
      (error) => setStatus({ busy: false, message: "", error: error.message }),
    );
  }, []);
  function toggle(id) {
    const next = new Set(chosen);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setChosen(next);
  }
  async function save(event) {
    event.preventDefault();
    setStatus({ busy: true, message: "", error: "" });
    try {
      const thing = await call(target.path, { method: "PATCH", body: { group_ids: [...chosen].sort((a, b) => a - b) } });
      setSaved(new Set(thing.group_ids));
      setStatus({ busy: false, message: T.groupsSaved, error: "" });
      onSaved?.(thing);
    } catch (error) {
      setStatus({ busy: false, message: "", error: fill(T.failed, { detail: error.message }) });
    }
  }
  const changed = groups && (chosen.size !== saved.size || [...chosen].some((id) => !saved.has(id)));
  return html`<form class="share-groups" onSubmit=${save}>
    <fieldset>
      <legend>${T.groupsTitle}</legend>
      <p class="muted">${target.event ? T.groupsEventHint : T.groupsItemHint}</p>
      ${groups === null && !status.error ? html`<p class="muted">${S.loading}</p>` : ""}
      ${groups && !groups.length ? html`<p class="muted">${T.noGroups}</p>` : ""}
      ${groups?.length
        ? html`<ul class="share-group-list">
            ${groups.map(
              (g) => html`<li><label><input type="checkbox" checked=${chosen.has(g.id)}
                onChange=${() => toggle(g.id)} /> ${g.name}</label></li>`,
            )}
          </ul>`
        : ""}
    </fieldset>
    ${groups?.length ? html`<button type="submit" disabled=${status.busy || !changed}>${T.saveGroups}</button>` : ""}
    <p class="share-status" role="status">${status.message}</p>
    ${status.error ? html`<p class="error" role="alert">${status.error}</p>` : ""}
  </form>`;
}

// A new link: how long, a password if wanted; its address is shown once, to copy.
function NewLink({ target, onMade }) {
  const [days, setDays] = useState("7");
  const [password, setPassword] = useState("");
  const [made, setMade] = useState(null);
  const [status, setStatus] = useState({ busy: false, error: "", copied: false });
  const address = useRef(null);
  async function create(event) {
    event.preventDefault();
    setStatus({ busy: true, error: "", copied: false });
    const body = { [target.key]: target.id, days: Number(days) };
    if (password) body.password = password;
    try {
      const link = await call("/api/library/shares", { method: "POST", body });
      setMade({ ...link, address: new URL(link.page_url, location.origin).href });
      setPassword("");
      setStatus({ busy: false, error: "", copied: false });
      onMade(link);
    } catch (error) {
      setStatus({ busy: false, error: fill(T.failed, { detail: error.message }), copied: false });
    }
  }
  useEffect(() => {
    if (made) address.current?.select();
  }, [made]);
  async function copy() {
    try {
      await navigator.clipboard.writeText(made.address);
      setStatus({ ...status, copied: true });
    } catch {
      address.current?.select(); // no clipboard here: selected, for the keyboard's copy
    }
  }
  return html`<form class="share-new" onSubmit=${create}>
    <fieldset>
      <legend>${T.linkTitle}</legend>
      <p class="muted">${T.linkHint}</p>
      <label>${T.expiresAfter}
        <select value=${days} onChange=${(event) => setDays(event.target.value)}>
          ${DAYS.map((d) => html`<option value=${String(d)}>${d === 1 ? T.oneDay : fill(T.days, { n: d })}</option>`)}
        </select></label>
      <label>${T.password}
        <input type="password" value=${password} autocomplete="new-password" minlength="8" maxlength="200"
          aria-describedby="share-password-hint" onInput=${(event) => setPassword(event.target.value)} /></label>
      <small id="share-password-hint">${T.passwordHint}</small>
    </fieldset>
    <button type="submit" class="primary" disabled=${status.busy}>${T.create}</button>
    ${status.error ? html`<p class="error" role="alert">${status.error}</p>` : ""}
    ${made
      ? html`<div class="share-made" role="status">
          <p>${made.has_password ? T.madeWithPassword : T.made}</p>
          <div class="share-address">
            <label class="visually-hidden" for="share-address">${T.address}</label>
            <input id="share-address" ref=${address} readonly value=${made.address} />
            <button type="button" onClick=${copy}>${status.copied ? T.copied : T.copy}</button>
          </div>
          <p class="muted">${T.onceOnly}</p>
        </div>`
      : ""}
  </form>`;
}

// The links made before, newest first, each with its state and views, to withdraw.
function Links({ links, onChange }) {
  const [error, setError] = useState("");
  if (links === null) return html`<p class="muted">${S.loading}</p>`;
  async function revoke(link) {
    setError("");
    try {
      await call(`/api/library/shares/${link.id}`, { method: "DELETE" });
      onChange();
    } catch (failure) {
      setError(fill(T.failed, { detail: failure.message }));
    }
  }
  return html`<section class="share-links" aria-labelledby="share-links-title">
    <h3 id="share-links-title">${T.linksTitle}</h3>
    ${links.length
      ? html`<ul>
          ${links.map((link) => {
            const live = !link.revoked && Date.parse(link.expires_at) > Date.now();
            return html`<li data-share=${link.id} class=${live ? "" : "share-dead"}>
              <span>${[
                linkState(link),
                link.has_password ? T.withPassword : "",
                link.views === 1 ? T.oneView : fill(T.views, { n: link.views }),
              ].filter(Boolean).join(" · ")}</span>
              ${live
                ? html`<button type="button" onClick=${() => revoke(link)}
                    aria-label=${fill(T.withdrawLabel, { made: when(link.created_at) })}>${T.withdraw}</button>`
                : ""}
            </li>`;
          })}
        </ul>`
      : html`<p class="muted">${T.noLinks}</p>`}
    ${error ? html`<p class="error" role="alert">${error}</p>` : ""}
  </section>`;
}

export function ShareDialog({ target, title, onClose, onSaved }) {
  const dialog = useRef(null);
  const [links, setLinks] = useState(null);
  const [error, setError] = useState("");
  function reload() {
    call(`/api/library/shares?${target.key}=${target.id}`).then(setLinks, (failure) => setError(failure.message));
  }
  useEffect(() => {
    dialog.current.showModal();
    reload();
  }, []);
  return html`<dialog ref=${dialog} class="share-dialog" aria-labelledby="share-title" onClose=${onClose}>
    <header>
      <h2 id="share-title">${title ? fill(T.titleNamed, { name: title }) : T.title}</h2>
      <button type="button" class="share-close" onClick=${() => dialog.current.close()} aria-label=${T.close}>×</button>
    </header>
    <${Groups} target=${target} onSaved=${onSaved} />
    <${NewLink} target=${target} onMade=${reload} />
    ${error ? html`<p class="error" role="alert">${fill(T.failed, { detail: error })}</p>` : ""}
    <${Links} links=${links} onChange=${reload} />
  </dialog>`;
}

// Props in the API's words: item_id, library_event_id.
export function ShareButton({ item_id, library_event_id, title = "", onSaved }) {
  const [open, setOpen] = useState(false);
  const button = useRef(null);
  const event = library_event_id !== undefined && library_event_id !== null;
  const target = event
    ? { key: "event_id", id: library_event_id, path: `/api/library/events/${library_event_id}`, event: true }
    : { key: "item_id", id: item_id, path: `/api/library/items/${item_id}`, event: false };
  function close() {
    setOpen(false);
    button.current?.focus();
  }
  return html`<button type="button" ref=${button} class="share-button" aria-haspopup="dialog"
      aria-label=${title ? fill(T.buttonLabel, { name: title }) : T.button} onClick=${() => setOpen(true)}>
      ${T.button}</button>
    ${open ? html`<${ShareDialog} target=${target} title=${title} onClose=${close} onSaved=${onSaved} />` : ""}`;
}
