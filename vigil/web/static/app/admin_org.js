// Organisation (#admin?tab=organisation): its name, and the rule that everyone signs in with
// a second factor. Turning the rule on applies to the admin too: one who has not enrolled is
// taken to enrolment at once.
import { html, fill, useState } from "./lib.js";
import { S } from "./strings.js";
import { Pending, Status, call, useAction, useResource } from "./rest.js";

const T = S.admin;

export function OrgTab({ me }) {
  const org = useResource("/api/org");
  const users = useResource("/api/users");
  const [name, setName] = useState(null);
  const [state, run] = useAction();
  if (!org.data || !users.data) return html`<${Pending} error=${org.error || users.error} />`;
  const shownName = name === null ? org.data.name : name;
  const without = users.data.filter((u) => !u.mfa_enabled && !u.disabled);

  async function save(change, ok) {
    const answer = await run(() => call("/api/org", { method: "PATCH", body: change }), ok);
    if (answer === undefined) return;
    org.reload();
    // The rule applies to this admin too: the app leads them to enrolment.
    if (answer.require_mfa && !me.mfa_enabled) location.assign("/");
  }
  async function rename(event) {
    event.preventDefault();
    await save({ name: shownName }, fill(T.orgRenamed, { name: shownName }));
  }
  const required = org.data.require_mfa;
  return html`<section class="panel" aria-labelledby="org-name-title">
      <h3 id="org-name-title">${T.orgName}</h3>
      <form class="inline-row" onSubmit=${rename}>
        <label for="org-name" class="visually-hidden">${T.orgName}</label>
        <input id="org-name" required maxlength="100" value=${shownName} onInput=${(e) => setName(e.target.value)} />
        <button type="submit" disabled=${state?.busy || shownName === org.data.name}>${T.rename}</button>
      </form>
    </section>
    <section class="panel" aria-labelledby="org-mfa-title">
      <h3 id="org-mfa-title">${T.requireMfaTitle}</h3>
      <label class="check switch">
        <input type="checkbox" role="switch" checked=${required} disabled=${state?.busy}
          onChange=${(e) => save({ require_mfa: e.target.checked }, e.target.checked ? T.mfaRequiredNow : T.mfaOptionalNow)} />
        ${T.requireMfa}
      </label>
      <p class="muted">${T.requireMfaHelp}</p>
      ${!me.mfa_enabled && !required ? html`<p class="notice">${T.requireMfaYou}</p>` : ""}
      <p data-without-mfa>${without.length === 0
        ? T.everyoneEnrolled
        : fill(T.notEnrolled, { n: without.length, names: without.map((u) => u.username).join(", ") })}</p>
    </section>
    <${Status} state=${state?.busy ? null : state} />`;
}
