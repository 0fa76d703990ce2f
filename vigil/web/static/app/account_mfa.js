// Two-factor sign-in on the Account page: enrol an authenticator app by its QR code (drawn
// by the API as SVG, shown as an image) or its key, confirm with a code, keep the recovery
// codes shown once; new recovery codes; turning it off. The secret stays in this page's
// memory only, and leaves it once enrolment ends.
import { html, fill, useEffect, useRef, useState } from "./lib.js";
import { S } from "./strings.js";
import { CopyButton, DownloadButton, Pending, Status, call, useAction, useResource } from "./rest.js";

const T = S.account;

// The secret in groups of four, as authenticator apps ask for it.
function grouped(secret) {
  return secret.replace(/(.{4})(?=.)/g, "$1 ");
}

function CodeField({ id, label, value, onInput }) {
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <input id=${id} class="code-input" inputmode="numeric" autocomplete="one-time-code"
      pattern="[0-9 ]*" maxlength="8" required value=${value} onInput=${(e) => onInput(e.target.value)} />
  </div>`;
}

// A code as typed, without the spaces some apps show in it.
const digits = (code) => code.replace(/\s/g, "");

// POST a code (and whatever else `body` holds) to a route that checks it.
const postCode = (path, body) => call(path, { method: "POST", body, secretCheck: true });

// The recovery codes, shown once: copy, download, then "I have saved them".
function RecoveryCodes({ codes, onDone, username }) {
  const text = `${fill(T.codesFileTitle, { username })}\n\n${codes.join("\n")}\n`;
  const heading = useRef(null);
  useEffect(() => heading.current && heading.current.focus(), []);
  return html`<div class="recovery" data-recovery-codes>
    <h3 tabindex="-1" ref=${heading}>${T.codesTitle}</h3>
    <p>${T.codesHelp}</p>
    <ol class="codes">${codes.map((code) => html`<li><code>${code}</code></li>`)}</ol>
    <div class="form-actions">
      <${CopyButton} text=${codes.join("\n")} label=${T.copyCodes} />
      <${DownloadButton} text=${text} name="vigil-recovery-codes.txt" label=${T.downloadCodes} />
      <button type="button" class="primary" onClick=${onDone}>${T.codesSaved}</button>
    </div>
  </div>`;
}

// Scan, then confirm with the code the app shows.
function Enrolment({ enrolment, onConfirmed, onCancel, required }) {
  const [code, setCode] = useState("");
  const [state, run] = useAction();
  async function confirm(event) {
    event.preventDefault();
    const answer = await run(() => postCode("/api/me/mfa/totp/confirm", { code: digits(code) }));
    if (answer) onConfirmed(answer.recovery_codes);
  }
  const image = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(enrolment.qr_svg)}`;
  return html`<form class="enrol" onSubmit=${confirm}>
    <ol class="steps">
      <li>
        <p>${T.scan}</p>
        <img class="qr" data-qr src=${image} width="180" height="180" alt=${T.qrAlt} />
        <details>
          <summary>${T.cannotScan}</summary>
          <p>${T.typeKey}</p>
          <p><code class="secret">${grouped(enrolment.secret)}</code></p>
          <p class="muted">${T.keyKind}</p>
        </details>
      </li>
      <li><${CodeField} id="mfa-enrol-code" label=${T.enterCode} value=${code} onInput=${setCode} /></li>
    </ol>
    <div class="form-actions">
      <button type="submit" class="primary" disabled=${state?.busy}>${T.confirm}</button>
      ${required ? "" : html`<button type="button" onClick=${onCancel}>${T.cancel}</button>`}
    </div>
    <${Status} state=${state?.error ? state : null} />
  </form>`;
}

function NewCodes({ onCodes }) {
  const [code, setCode] = useState("");
  const [state, run] = useAction();
  async function submit(event) {
    event.preventDefault();
    const answer = await run(() => postCode("/api/me/mfa/recovery-codes", { code: digits(code) }));
    if (!answer) return;
    setCode("");
    onCodes(answer.recovery_codes);
  }
  return html`<form class="inline-form" onSubmit=${submit}>
    <h3>${T.newCodesTitle}</h3>
    <p class="muted">${T.newCodesHelp}</p>
    <${CodeField} id="mfa-codes-code" label=${T.currentCode} value=${code} onInput=${setCode} />
    <div class="form-actions"><button type="submit" disabled=${state?.busy}>${T.newCodes}</button></div>
    <${Status} state=${state?.error ? state : null} />
  </form>`;
}

function TurnOff({ onOff }) {
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [state, run] = useAction();
  async function submit(event) {
    event.preventDefault();
    const done = await run(async () => {
      await postCode("/api/me/mfa/disable", { password, code: digits(code) });
      return true;
    });
    if (done) onOff();
  }
  return html`<form class="inline-form" onSubmit=${submit}>
    <h3>${T.turnOffTitle}</h3>
    <div class="field">
      <label for="mfa-off-password">${T.password}</label>
      <input id="mfa-off-password" type="password" autocomplete="current-password" required
        value=${password} onInput=${(e) => setPassword(e.target.value)} />
    </div>
    <${CodeField} id="mfa-off-code" label=${T.currentCode} value=${code} onInput=${setCode} />
    <div class="form-actions"><button type="submit" class="danger" disabled=${state?.busy}>${T.turnOff}</button></div>
    <${Status} state=${state?.error ? state : null} />
  </form>`;
}

// The whole section. `required`: the organisation requires it and this account has yet to
// enrol, so enrolment starts at once and nothing else is offered; `onEnrolled` follows the
// saved recovery codes.
export function MfaSection({ me, required = false, onEnrolled }) {
  const status = useResource("/api/me/mfa");
  const [enrolment, setEnrolment] = useState(null);
  const [codes, setCodes] = useState(null);
  const [state, run, setState] = useAction();

  async function start() {
    const answer = await run(() => call("/api/me/mfa/totp", { method: "POST" }));
    if (answer) setEnrolment(answer);
  }
  useEffect(() => {
    if (required) start();
  }, []);

  function confirmed(recoveryCodes) {
    setEnrolment(null); // the secret leaves the page
    setCodes(recoveryCodes);
    setState({ ok: T.nowOn });
  }
  function codesSaved() {
    setCodes(null);
    setState(null);
    status.reload();
    if (onEnrolled) onEnrolled();
  }

  if (codes) return html`<${RecoveryCodes} codes=${codes} onDone=${codesSaved} username=${me.username} />`;
  if (enrolment) {
    return html`<${Enrolment} enrolment=${enrolment} required=${required} onConfirmed=${confirmed}
      onCancel=${() => setEnrolment(null)} />`;
  }
  if (required) return html`<${Status} state=${state} />`;
  if (!status.data) return html`<${Pending} error=${status.error} />`;
  const mfa = status.data;
  if (!mfa.enabled) {
    return html`<p data-mfa-state>${T.off}</p>
      <p class="muted">${T.offHelp}</p>
      ${mfa.required_by_org ? html`<p class="notice">${T.requiredByOrg}</p>` : ""}
      <div class="form-actions">
        <button type="button" class="primary" disabled=${state?.busy} onClick=${start}>${T.setUp}</button>
      </div>
      <${Status} state=${state} />`;
  }
  return html`<p data-mfa-state>
      <span class="badge on">${T.onBadge}</span> ${fill(T.codesLeft, { n: mfa.recovery_codes_left })}</p>
    ${mfa.recovery_codes_left <= 3 ? html`<p class="notice">${T.fewCodes}</p>` : ""}
    <${Status} state=${state} />
    <div class="mfa-forms">
      <${NewCodes} onCodes=${setCodes} />
      ${mfa.required_by_org
        ? html`<p class="muted">${T.cannotTurnOff}</p>`
        : html`<${TurnOff} onOff=${() => {
            setState({ ok: T.nowOff });
            status.reload();
          }} />`}
    </div>`;
}
