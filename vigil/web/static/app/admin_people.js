// People (#admin?tab=people): everyone in the organisation with role, groups, two-factor
// sign-in and state; inviting someone (the invitation link is shown once, to copy or email);
// one person's page (#admin?tab=people&user=ID): role, groups, disable, reset two-factor,
// a new invitation link, sign out everywhere, delete.
import { html, fill, goTo, useEffect, useRef, useState } from "./lib.js";
import { S } from "./strings.js";
import { ConfirmButton, CopyButton, Pending, Status, call, useResource, when } from "./rest.js";

const T = S.admin;
const ROLES = ["viewer", "operator", "admin"];

function personState(user) {
  if (user.disabled) return "disabled";
  if (!user.has_password) return "invited";
  return "active";
}

// The invitation link, shown once, with ways to pass it on.
function Invitation({ invitation, user, onDone }) {
  const link = new URL(invitation.url, location.origin).href;
  const heading = useRef(null);
  useEffect(() => heading.current && heading.current.focus(), [link]);
  const mail = user.email
    ? `mailto:${encodeURIComponent(user.email)}?subject=${encodeURIComponent(T.mailSubject)}&body=${encodeURIComponent(
        fill(T.mailBody, { username: user.username, link }),
      )}`
    : null;
  return html`<div class="new-secret" data-invitation>
    <h3 tabindex="-1" ref=${heading}>${fill(T.invitationFor, { username: user.username })}</h3>
    <p>${fill(T.invitationOnce, { expires: when(invitation.expires_at) })}</p>
    <p><label for="invite-link">${T.invitationLink}</label>
      <input id="invite-link" class="secret-field" readonly value=${link} onFocus=${(e) => e.target.select()} /></p>
    <div class="form-actions">
      <${CopyButton} text=${link} label=${T.copyLink} />
      ${mail ? html`<a class="button" href=${mail}>${fill(T.emailLink, { email: user.email })}</a>` : ""}
      ${onDone ? html`<button type="button" onClick=${onDone}>${T.done}</button>` : ""}
    </div>
  </div>`;
}

function InviteForm({ onInvited, onCancel }) {
  const [fields, setFields] = useState({ username: "", display_name: "", email: "", role: "viewer" });
  const [state, setState] = useState(null);
  const set = (name) => (event) => setFields({ ...fields, [name]: event.target.value });
  async function submit(event) {
    event.preventDefault();
    setState({ busy: true });
    const body = { username: fields.username, role: fields.role };
    if (fields.display_name.trim()) body.display_name = fields.display_name;
    if (fields.email.trim()) body.email = fields.email;
    try {
      onInvited(await call("/api/users", { method: "POST", body }));
    } catch (error) {
      setState({ error: error.message, fields: error.fields });
    }
  }
  const fieldError = (name) =>
    state?.fields?.[name] ? html`<span class="field-error" id=${`invite-${name}-error`}>${state.fields[name]}</span>` : "";
  const input = (name, label, type = "text", required = false) => html`<div class="field">
    <label for=${`invite-${name}`}>${label}</label>
    <input id=${`invite-${name}`} type=${type} required=${required} value=${fields[name]} onInput=${set(name)}
      aria-invalid=${state?.fields?.[name] ? "true" : undefined}
      aria-describedby=${state?.fields?.[name] ? `invite-${name}-error` : undefined} />
    ${fieldError(name)}</div>`;
  return html`<form class="panel inline-form" onSubmit=${submit} aria-labelledby="invite-title">
    <h3 id="invite-title">${T.inviteTitle}</h3>
    <p class="muted">${T.inviteHelp}</p>
    ${input("username", T.username, "text", true)}
    ${input("display_name", T.displayName)}
    ${input("email", T.email, "email")}
    <div class="field"><label for="invite-role">${T.role}</label>
      <select id="invite-role" value=${fields.role} onChange=${set("role")}>
        ${ROLES.map((role) => html`<option value=${role}>${T.roleHints[role]}</option>`)}
      </select></div>
    <div class="form-actions">
      <button type="submit" class="primary" disabled=${state?.busy}>${T.invite}</button>
      <button type="button" onClick=${onCancel}>${T.cancel}</button>
    </div>
    <${Status} state=${state?.error && !Object.keys(state.fields || {}).length ? state : null} />
  </form>`;
}

function PeopleList({ users, groups, onInvite }) {
  const names = Object.fromEntries(groups.map((g) => [g.id, g.name]));
  return html`<div class="toolbar"><button type="button" class="primary" onClick=${onInvite}>${T.invitePerson}</button></div>
    <table class="cards people-table">
      <thead><tr>
        <th scope="col">${T.person}</th><th scope="col">${T.role}</th><th scope="col">${T.groups}</th>
        <th scope="col">${T.twoFactor}</th><th scope="col">${T.state}</th>
      </tr></thead>
      <tbody>${users.map((user) => {
        const state = personState(user);
        return html`<tr data-user=${user.id}>
          <th scope="row" data-label=${T.person}>
            <a href=${`#admin?tab=people&user=${user.id}`}>${user.username}</a>
            ${user.display_name ? html`<div class="muted">${user.display_name}</div>` : ""}
          </th>
          <td data-label=${T.role}>${T.roles[user.role]}</td>
          <td data-label=${T.groups}>${user.groups.map((id) => names[id]).filter(Boolean).join(", ") || T.none}</td>
          <td data-label=${T.twoFactor}>${user.mfa_enabled ? T.on : T.off}</td>
          <td data-label=${T.state}><span class=${`badge person-${state}`}>${T.personStates[state]}</span></td>
        </tr>`;
      })}</tbody>
    </table>`;
}

// One person: each change saved on its own, its outcome said beside it.
function Person({ user, groups, me, onChanged }) {
  const [role, setRole] = useState(user.role);
  const [member, setMember] = useState(new Set(user.groups));
  const [state, setState] = useState(null);
  const [invitation, setInvitation] = useState(null);
  const self = user.id === me.id;

  async function run(action, ok) {
    setState({ busy: true });
    try {
      const answer = await action();
      setState({ ok });
      onChanged();
      return answer;
    } catch (error) {
      setState({ error: error.message });
      return undefined;
    }
  }
  const patch = (body, ok) => run(() => call(`/api/users/${user.id}`, { method: "PATCH", body }), ok);
  async function saveGroups() {
    const changed = groups.filter((g) => g.user_ids.includes(user.id) !== member.has(g.id));
    await run(async () => {
      for (const group of changed) {
        const ids = member.has(group.id) ? [...group.user_ids, user.id] : group.user_ids.filter((id) => id !== user.id);
        await call(`/api/user-groups/${group.id}`, { method: "PATCH", body: { user_ids: ids } });
      }
    }, changed.length ? T.groupsSaved : T.nothingChanged);
  }
  async function invite() {
    const answer = await run(() => call(`/api/users/${user.id}/invitation`, { method: "POST" }), T.invitationMade);
    if (answer) setInvitation(answer);
  }
  async function remove() {
    const done = await run(() => call(`/api/users/${user.id}`, { method: "DELETE" }).then(() => true), "");
    if (done) goTo("admin", { tab: "people" });
  }
  function toggle(id, on) {
    const next = new Set(member);
    if (on) next.add(id);
    else next.delete(id);
    setMember(next);
  }
  const state_ = personState(user);
  return html`<div class="person" data-person=${user.id}>
    <p><a href="#admin?tab=people">${T.backToPeople}</a></p>
    <h3 class="person-name">${user.username} <span class=${`badge person-${state_}`}>${T.personStates[state_]}</span></h3>
    <dl class="facts">
      ${user.display_name ? html`<div><dt>${T.displayNameFact}</dt><dd>${user.display_name}</dd></div>` : ""}
      <div><dt>${T.emailFact}</dt><dd>${user.email || T.none}</dd></div>
      <div><dt>${T.twoFactor}</dt><dd>${user.mfa_enabled ? T.on : T.off}</dd></div>
      <div><dt>${T.added}</dt><dd>${when(user.created_at)}</dd></div>
    </dl>
    <${Status} state=${state?.busy ? null : state} id="person-status" />
    ${invitation ? html`<${Invitation} invitation=${invitation} user=${user} onDone=${() => setInvitation(null)} />` : ""}
    <section class="panel" aria-labelledby="role-title">
      <h4 id="role-title">${T.role}</h4>
      <div class="inline-row">
        <label for="person-role" class="visually-hidden">${fill(T.roleOf, { username: user.username })}</label>
        <select id="person-role" value=${role} onChange=${(e) => setRole(e.target.value)}>
          ${ROLES.map((r) => html`<option value=${r}>${T.roleHints[r]}</option>`)}
        </select>
        <button type="button" disabled=${state?.busy || role === user.role}
          onClick=${() => patch({ role }, fill(T.roleSaved, { role: T.roles[role] }))}>${T.saveRole}</button>
      </div>
    </section>
    <section class="panel" aria-labelledby="groups-title">
      <h4 id="groups-title">${T.userGroups}</h4>
      ${groups.length === 0
        ? html`<p class="muted">${T.noUserGroups} <a href="#admin?tab=groups">${T.tabs.groups}</a></p>`
        : html`<fieldset class="checks"><legend class="visually-hidden">${fill(T.groupsOf, { username: user.username })}</legend>
            ${groups.map((g) => html`<label class="check"><input type="checkbox" checked=${member.has(g.id)}
              onChange=${(e) => toggle(g.id, e.target.checked)} />${g.name}</label>`)}
          </fieldset>
          <button type="button" disabled=${state?.busy} onClick=${saveGroups}>${T.saveGroups}</button>`}
    </section>
    <section class="panel" aria-labelledby="access-title">
      <h4 id="access-title">${T.signingIn}</h4>
      <div class="form-actions">
        ${self
          ? ""
          : user.disabled
            ? html`<button type="button" onClick=${() => patch({ disabled: false }, T.enabledNow)}>${T.enable}</button>`
            : html`<${ConfirmButton} label=${T.disable} question=${fill(T.disableQuestion, { username: user.username })}
                confirm=${T.disable} onConfirm=${() => patch({ disabled: true }, T.disabledNow)} />`}
        ${user.mfa_enabled
          ? html`<${ConfirmButton} label=${T.resetMfa} question=${fill(T.resetMfaQuestion, { username: user.username })}
              confirm=${T.resetMfa} onConfirm=${() => run(() => call(`/api/users/${user.id}/mfa`, { method: "DELETE" }), T.mfaReset)} />`
          : ""}
        <button type="button" onClick=${invite}>${user.has_password ? T.resetPassword : T.newInvitation}</button>
        <${ConfirmButton} className="" label=${T.signOutEverywhere} question=${fill(T.signOutQuestion, { username: user.username })}
          confirm=${T.signOutEverywhere} onConfirm=${() => run(() => call(`/api/users/${user.id}/sessions`, { method: "DELETE" }), T.signedOut)} />
      </div>
    </section>
    ${self
      ? ""
      : html`<section class="panel" aria-labelledby="delete-title">
          <h4 id="delete-title">${T.deletePerson}</h4>
          <p class="muted">${T.deleteHelp}</p>
          <${ConfirmButton} label=${fill(T.deleteLabel, { username: user.username })}
            question=${fill(T.deleteQuestion, { username: user.username })} confirm=${T.delete} onConfirm=${remove} />
        </section>`}
  </div>`;
}

export function PeopleTab({ me, params }) {
  const users = useResource("/api/users");
  const groups = useResource("/api/user-groups");
  const [inviting, setInviting] = useState(false);
  const [invited, setInvited] = useState(null);
  if (!users.data || !groups.data) return html`<${Pending} error=${users.error || groups.error} />`;
  const reload = () => {
    users.reload();
    groups.reload();
  };
  if (params.user) {
    const user = users.data.find((u) => String(u.id) === params.user);
    if (!user) return html`<p class="error" role="alert">${fill(T.noPerson, { id: params.user })}</p>
      <p><a href="#admin?tab=people">${T.backToPeople}</a></p>`;
    return html`<${Person} key=${user.id} user=${user} groups=${groups.data} me=${me} onChanged=${reload} />`;
  }
  return html`
    ${invited
      ? html`<${Invitation} invitation=${invited.invitation} user=${invited.user} onDone=${() => setInvited(null)} />`
      : ""}
    ${inviting
      ? html`<${InviteForm} onCancel=${() => setInviting(false)} onInvited=${(answer) => {
          setInviting(false);
          setInvited(answer);
          reload();
        }} />`
      : ""}
    <${PeopleList} users=${users.data} groups=${groups.data} onInvite=${() => {
      setInvited(null);
      setInviting(true);
    }} />`;
}
