// API keys on the Account page: your keys (never their secrets), a new one with its scopes
// and expiry (its secret shown once, to copy), revoking one.
import { html, fill, useEffect, useRef, useState } from "./lib.js";
import { S } from "./strings.js";
import { ConfirmButton, CopyButton, Pending, Status, call, problemWords, useResource, when } from "./rest.js";

const T = S.account;
const DAY_MS = 86_400_000;

function keyState(key) {
  if (key.revoked_at) return "revoked";
  if (key.expires_at && Date.parse(key.expires_at) <= Date.now()) return "expired";
  return "active";
}

// The new key's secret, shown this once.
function NewKey({ created, onDone }) {
  const box = useRef(null);
  useEffect(() => box.current && box.current.focus(), []);
  return html`<div class="new-secret" data-new-key>
    <h3 tabindex="-1" ref=${box}>${fill(T.keyMade, { name: created.name })}</h3>
    <p>${T.keyOnce}</p>
    <p><label for="new-key-secret">${T.keySecret}</label>
      <input id="new-key-secret" class="secret-field" readonly value=${created.key}
        onFocus=${(e) => e.target.select()} /></p>
    <p class="muted">${T.keyUse}</p>
    <div class="form-actions">
      <${CopyButton} text=${created.key} label=${T.copyKey} />
      <button type="button" class="primary" onClick=${onDone}>${T.keyCopied}</button>
    </div>
  </div>`;
}

function KeyForm({ onCreated }) {
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState(new Set());
  const [days, setDays] = useState("90");
  const [state, setState] = useState(null);
  function toggle(scope, on) {
    const next = new Set(scopes);
    if (on) next.add(scope);
    else next.delete(scope);
    setScopes(next);
  }
  async function submit(event) {
    event.preventDefault();
    if (scopes.size === 0) return setState({ error: T.scopesNeeded });
    setState({ busy: true });
    const expires = days ? new Date(Date.now() + Number(days) * DAY_MS).toISOString() : null;
    try {
      const created = await call("/api/me/keys", {
        method: "POST",
        body: { name, scopes: [...scopes], expires_at: expires },
      });
      setName("");
      setScopes(new Set());
      setState(null);
      onCreated(created);
    } catch (error) {
      setState({ error: problemWords(error) });
    }
    return undefined;
  }
  return html`<form class="key-form" onSubmit=${submit}>
    <h3>${T.newKey}</h3>
    <div class="field">
      <label for="key-name">${T.keyName}</label>
      <input id="key-name" required maxlength="100" value=${name} onInput=${(e) => setName(e.target.value)} />
    </div>
    <fieldset class="scopes">
      <legend>${T.scopes}</legend>
      ${Object.entries(T.scopeNames).map(
        ([scope, [words, hint]]) => html`<label class="check">
          <input type="checkbox" checked=${scopes.has(scope)} onChange=${(e) => toggle(scope, e.target.checked)} />
          <span><strong>${words}</strong> <small>${hint}</small></span></label>`,
      )}
    </fieldset>
    <div class="field">
      <label for="key-expiry">${T.expires}</label>
      <select id="key-expiry" value=${days} onChange=${(e) => setDays(e.target.value)}>
        ${Object.entries(T.expiries).map(([value, words]) => html`<option value=${value}>${words}</option>`)}
      </select>
    </div>
    <div class="form-actions"><button type="submit" class="primary" disabled=${state?.busy}>${T.createKey}</button></div>
    <${Status} state=${state?.error ? state : null} />
  </form>`;
}

export function KeysSection() {
  const keys = useResource("/api/me/keys");
  const [created, setCreated] = useState(null);
  const [state, setState] = useState(null);
  async function revoke(key) {
    setState(null);
    try {
      await call(`/api/me/keys/${key.id}`, { method: "DELETE" });
      setState({ ok: fill(T.keyRevoked, { name: key.name }) });
      keys.reload();
    } catch (error) {
      setState({ error: error.message });
    }
  }
  function made(key) {
    setCreated(key);
    keys.reload();
  }
  const list = keys.data;
  return html`
    ${created ? html`<${NewKey} created=${created} onDone=${() => setCreated(null)} />` : ""}
    <${Status} state=${state} />
    ${!list
      ? html`<${Pending} error=${keys.error} />`
      : list.length === 0
        ? html`<p class="muted">${T.noKeys}</p>`
        : html`<table class="cards keys-table">
            <thead><tr>
              <th scope="col">${T.keyName}</th><th scope="col">${T.scopes}</th>
              <th scope="col">${T.created}</th><th scope="col">${T.expires}</th>
              <th scope="col">${T.lastUsed}</th><th scope="col">${T.state}</th>
              <th scope="col"><span class="visually-hidden">${T.actions}</span></th>
            </tr></thead>
            <tbody>${list.map((key) => {
              const state = keyState(key);
              return html`<tr data-key=${key.id}>
                <th scope="row" data-label=${T.keyName}>${key.name}</th>
                <td data-label=${T.scopes}>${key.scopes.map((s) => (T.scopeNames[s] || [s])[0]).join(", ")}</td>
                <td data-label=${T.created}>${when(key.created_at)}</td>
                <td data-label=${T.expires}>${key.expires_at ? when(key.expires_at) : T.noExpiry}</td>
                <td data-label=${T.lastUsed}>${when(key.last_used_at)}${key.last_used_ip ? ` (${key.last_used_ip})` : ""}</td>
                <td data-label=${T.state}><span class=${`badge key-${state}`}>${T.keyStates[state]}</span></td>
                <td data-label=${T.actions}>${state === "active"
                  ? html`<${ConfirmButton} label=${T.revoke} ariaLabel=${fill(T.revokeLabel, { name: key.name })}
                      question=${fill(T.revokeQuestion, { name: key.name })} confirm=${T.revokeConfirm}
                      onConfirm=${() => revoke(key)} />`
                  : ""}</td>
              </tr>`;
            })}</tbody>
          </table>`}
    <${KeyForm} onCreated=${made} />`;
}
