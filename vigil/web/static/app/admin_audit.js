// Audit log (#admin?tab=audit&…filters): who did what, when and from where, newest first;
// filters by person, action, outcome and time, kept in the address; older entries a page at
// a time; the same entries as a CSV download.
import { html, fill, goTo, useEffect, useState } from "./lib.js";
import { S } from "./strings.js";
import { Pending, call, useResource, whenExact } from "./rest.js";

const T = S.admin;
const PAGE = 50;
const FILTERS = ["user", "action", "outcome", "since", "until"];
// The actions Vigil records (docs/security.md), offered as the action filter's suggestions.
const ACTIONS = [
  "login", "logout", "setup", "invitation.accepted", "password.change", "session.revoke",
  "session.revoke_all", "key.create", "key.revoke", "key.used", "mfa.enrolment_started",
  "mfa.enable", "mfa.disable", "mfa.reset", "mfa.recovery_codes", "mfa.recovery_code_used",
  "user.invite", "user.create", "user.update", "user.delete", "org.update", "site.create",
  "site.update", "site.delete", "camera.create", "camera.update", "camera.delete", "camera.probe",
  "recording.view", "recording.download", "recording.protect", "recording.unprotect",
  "export.create", "export.download", "export.delete", "group.create", "group.update",
  "group.delete", "camera_group.create", "camera_group.update", "camera_group.delete",
  "grant.create", "grant.update", "grant.delete", "audit.export", "access.denied", "link.refused",
];

function readFilters(params) {
  return Object.fromEntries(FILTERS.map((name) => [name, params[name] || ""]));
}

// The API's query for the filters (times typed in the browser's zone).
function query(filters, extra = {}) {
  const q = new URLSearchParams();
  if (filters.user) q.set("user_id", filters.user);
  if (filters.action) q.set("action", filters.action.trim());
  if (filters.outcome) q.set("outcome", filters.outcome);
  if (filters.since) q.set("since", new Date(filters.since).toISOString());
  if (filters.until) q.set("until", new Date(filters.until).toISOString());
  for (const [key, value] of Object.entries(extra)) q.set(key, value);
  return q.toString();
}

function detailWords(detail) {
  return Object.entries(detail)
    .map(([key, value]) => `${key}: ${typeof value === "object" && value !== null ? JSON.stringify(value) : value}`)
    .join("; ");
}

function Filters({ filters, users }) {
  const [draft, setDraft] = useState(filters);
  useEffect(() => setDraft(filters), [JSON.stringify(filters)]);
  const set = (name) => (event) => setDraft({ ...draft, [name]: event.target.value });
  function apply(event) {
    event.preventDefault();
    goTo("admin", { tab: "audit", ...Object.fromEntries(Object.entries(draft).filter(([, v]) => v)) });
  }
  return html`<form class="filters audit-filters" onSubmit=${apply} aria-label=${T.auditFilters}>
    <div class="field"><label for="audit-user">${T.who}</label>
      <select id="audit-user" value=${draft.user} onChange=${set("user")}>
        <option value="">${T.anyone}</option>
        ${users.map((u) => html`<option value=${u.id}>${u.username}</option>`)}
      </select></div>
    <div class="field"><label for="audit-action">${T.action}</label>
      <input id="audit-action" list="audit-actions" value=${draft.action} onInput=${set("action")}
        placeholder=${T.anyAction} autocomplete="off" />
      <datalist id="audit-actions">${ACTIONS.map((a) => html`<option value=${a} />`)}</datalist></div>
    <div class="field"><label for="audit-outcome">${T.outcome}</label>
      <select id="audit-outcome" value=${draft.outcome} onChange=${set("outcome")}>
        <option value="">${T.anyOutcome}</option>
        ${Object.entries(T.outcomes).map(([key, words]) => html`<option value=${key}>${words}</option>`)}
      </select></div>
    <div class="field"><label for="audit-since">${T.since}</label>
      <input id="audit-since" type="datetime-local" value=${draft.since} onInput=${set("since")} /></div>
    <div class="field"><label for="audit-until">${T.until}</label>
      <input id="audit-until" type="datetime-local" value=${draft.until} onInput=${set("until")} /></div>
    <div class="form-actions">
      <button type="submit" class="primary">${T.applyFilters}</button>
      <a class="button" href="#admin?tab=audit">${T.clearFilters}</a>
    </div>
  </form>`;
}

export function AuditTab({ params }) {
  const filters = readFilters(params);
  const key = query(filters);
  const users = useResource("/api/users");
  const [log, setLog] = useState({ entries: null, next: null, error: null, busy: false });
  useEffect(() => {
    let live = true;
    setLog({ entries: null, next: null, error: null, busy: false });
    call(`/api/audit?${query(filters, { limit: PAGE })}`).then(
      (page) => live && setLog({ entries: page.entries, next: page.next_before_id, error: null, busy: false }),
      (error) => live && setLog({ entries: null, next: null, error: error.message, busy: false }),
    );
    return () => {
      live = false;
    };
  }, [key]);
  async function older() {
    setLog({ ...log, busy: true });
    try {
      const page = await call(`/api/audit?${query(filters, { limit: PAGE, before_id: log.next })}`);
      setLog({ entries: [...log.entries, ...page.entries], next: page.next_before_id, error: null, busy: false });
    } catch (error) {
      setLog({ ...log, error: error.message, busy: false });
    }
  }
  const csv = `/api/audit.csv?${key}`;
  return html`<${Filters} filters=${filters} users=${users.data || []} />
    <div class="toolbar">
      <a class="button" href=${csv} download data-audit-csv>${T.downloadCsv}</a>
      ${log.entries ? html`<span role="status" class="muted">${fill(log.next ? T.entriesMore : T.entriesShown, { n: log.entries.length })}</span>` : ""}
    </div>
    ${!log.entries
      ? html`<${Pending} error=${log.error} />`
      : log.entries.length === 0
        ? html`<p class="muted">${T.noEntries}</p>`
        : html`<table class="cards audit-table">
            <thead><tr>
              <th scope="col">${T.when}</th><th scope="col">${T.who}</th><th scope="col">${T.action}</th>
              <th scope="col">${T.outcome}</th><th scope="col">${T.target}</th><th scope="col">${T.details}</th>
              <th scope="col">${T.from}</th>
            </tr></thead>
            <tbody>${log.entries.map(
              (e) => html`<tr data-entry=${e.id}>
                <td data-label=${T.when}>${whenExact(e.at)}</td>
                <td data-label=${T.who}>${e.username || T.nobody}${e.api_key_id ? html` <small>${fill(T.viaKey, { id: e.api_key_id })}</small>` : ""}</td>
                <td data-label=${T.action}><code>${e.action}</code></td>
                <td data-label=${T.outcome}><span class=${`badge outcome-${e.outcome}`}>${T.outcomes[e.outcome]}</span></td>
                <td data-label=${T.target}>${e.target || ""}</td>
                <td data-label=${T.details} class="audit-detail">${detailWords(e.detail)}</td>
                <td data-label=${T.from} title=${e.user_agent || ""}>${e.ip || ""}</td>
              </tr>`,
            )}</tbody>
          </table>`}
    ${log.next
      ? html`<div class="form-actions"><button type="button" disabled=${log.busy} onClick=${older}>${T.olderEntries}</button></div>`
      : ""}
    ${log.error && log.entries ? html`<p class="error" role="alert">${log.error}</p>` : ""}`;
}
