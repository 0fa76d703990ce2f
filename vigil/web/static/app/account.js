// The Account page (#account), for everyone signed in: who you are, your password,
// two-factor sign-in, your API keys and where you are signed in. When the organisation
// requires two-factor sign-in and you have yet to enrol, it is the only thing shown,
// enrolment first (the API refuses everything else until then).
import { html, fill, useState } from "./lib.js";
import { S } from "./strings.js";
import { MfaSection } from "./account_mfa.js";
import { KeysSection } from "./account_keys.js";
import { SessionsSection } from "./account_sessions.js";
import { Status, call, problemWords, useAction } from "./rest.js";

const T = S.account;

function Section({ id, title, children }) {
  return html`<section class="panel" aria-labelledby=${id}>
    <h2 id=${id}>${title}</h2>
    ${children}
  </section>`;
}

function Profile({ me }) {
  const [name, setName] = useState(me.display_name || "");
  const [email, setEmail] = useState(me.email || "");
  const [state, run] = useAction();
  function submit(event) {
    event.preventDefault();
    const body = { display_name: name.trim() || null, email: email.trim() || null };
    run(() => call("/api/me", { method: "PATCH", body }), T.saved);
  }
  return html`<dl class="facts">
      <div><dt>${T.username}</dt><dd>${me.username}</dd></div>
      <div><dt>${T.role}</dt><dd>${S.admin.roles[me.role] || me.role}</dd></div>
      <div><dt>${T.organisation}</dt><dd>${me.org.name}</dd></div>
    </dl>
    <form class="inline-form" onSubmit=${submit}>
      <div class="field"><label for="me-name">${T.displayName}</label>
        <input id="me-name" maxlength="200" autocomplete="name" value=${name} onInput=${(e) => setName(e.target.value)} /></div>
      <div class="field"><label for="me-email">${T.email}</label>
        <input id="me-email" type="email" autocomplete="email" value=${email} onInput=${(e) => setEmail(e.target.value)} /></div>
      <div class="form-actions"><button type="submit" disabled=${state?.busy}>${T.save}</button></div>
      <${Status} state=${state?.busy ? null : state} />
    </form>`;
}

function Password() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [repeat, setRepeat] = useState("");
  const [state, setState] = useState(null);
  async function submit(event) {
    event.preventDefault();
    if (next !== repeat) return setState({ error: T.passwordsDiffer });
    setState({ busy: true });
    try {
      await call("/api/me/password", {
        method: "POST",
        body: { current_password: current, new_password: next },
        secretCheck: true,
      });
      setCurrent("");
      setNext("");
      setRepeat("");
      setState({ ok: T.passwordChanged });
    } catch (error) {
      const words = error.status === 401 ? T.wrongPassword : problemWords(error);
      setState({ error: words });
    }
    return undefined;
  }
  const field = (id, label, value, set, autocomplete) => html`<div class="field">
    <label for=${id}>${label}</label>
    <input id=${id} type="password" required autocomplete=${autocomplete} value=${value}
      onInput=${(e) => set(e.target.value)} /></div>`;
  return html`<form class="inline-form" onSubmit=${submit}>
    ${field("pw-current", T.currentPassword, current, setCurrent, "current-password")}
    ${field("pw-new", T.newPassword, next, setNext, "new-password")}
    ${field("pw-repeat", T.repeatPassword, repeat, setRepeat, "new-password")}
    <p class="muted">${T.passwordHelp}</p>
    <div class="form-actions"><button type="submit" disabled=${state?.busy}>${T.changePassword}</button></div>
    <${Status} state=${state?.busy ? null : state} />
  </form>`;
}

export function AccountPage({ me, required = false }) {
  if (required) {
    return html`<div class="account-page">
      <${Section} id="mfa-title" title=${T.requiredTitle}>
        <p class="notice" role="status">${fill(T.requiredHelp, { org: me.org.name })}</p>
        <${MfaSection} me=${me} required onEnrolled=${() => location.assign("/")} />
      </${Section}>
    </div>`;
  }
  return html`<div class="account-page">
    <${Section} id="profile-title" title=${T.profileTitle}><${Profile} me=${me} /></${Section}>
    <${Section} id="password-title" title=${T.passwordTitle}><${Password} /></${Section}>
    <${Section} id="mfa-title" title=${T.mfaTitle}><${MfaSection} me=${me} /></${Section}>
    <${Section} id="keys-title" title=${T.keysTitle}>
      <p class="muted">${T.keysHelp}</p>
      <${KeysSection} />
    </${Section}>
    <${Section} id="sessions-title" title=${T.sessionsTitle}><${SessionsSection} /></${Section}>
  </div>`;
}
