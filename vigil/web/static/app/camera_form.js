// Adding a camera (URL, credentials, "Test connection" before saving) and editing one:
// recording, retention, sub stream, detection; its zones (zones.js); deleting it.
import { api, problemDetail, signInAgain } from "/static/api.js";
import { html, fill, goTo, useEffect, useRef, useState } from "./lib.js";
import { S } from "./strings.js";
import { LABELS, ZoneEditor } from "./zones.js";

const T = S.setup;

// Whether the user may change this camera: its `permissions` say, else (older servers) the role.
export function mayConfigure(camera, me) {
  if (Array.isArray(camera.permissions)) return camera.permissions.includes("configure");
  return me.role === "admin";
}

// A probe's answer in words: "H.264 Main 1920×1080 at 25 fps; audio AAC 48 kHz stereo".
export function probeWords(probe) {
  const { video, audio } = probe;
  let words = fill(T.probeVideo, {
    codec: T.codecs[video.codec] || video.codec,
    profile: video.profile ? ` ${video.profile}` : "",
    width: video.width,
    height: video.height,
    fps: video.fps ? fill(T.probeFps, { fps: Math.round(video.fps * 100) / 100 }) : "",
  });
  if (!audio) return words + T.probeNoAudio;
  const channels = T.channels[audio.channels] || (audio.channels ? fill(T.channelsN, { n: audio.channels }) : "");
  words += fill(T.probeAudio, {
    codec: T.codecs[audio.codec] || audio.codec,
    rate: audio.sample_rate ? fill(T.khz, { n: audio.sample_rate / 1000 }) : "",
    channels,
  });
  return words;
}

// A problem answer split by field: {fields: {main_url: "…"}, general: "…"}.
async function problemOf(response) {
  let problem = {};
  try {
    problem = await response.clone().json();
  } catch {
    // not JSON
  }
  const fields = {};
  for (const error of problem.errors || []) {
    const [where, name] = String(error.location).split(".");
    if (where === "body" && name) fields[name] = error.detail;
  }
  if (problem.type === "urn:vigil:problem:duplicate-camera-name") fields.name = problem.detail;
  const general = Object.keys(fields).length ? "" : await problemDetail(response, `HTTP ${response.status}`);
  return { fields, general };
}

export function Field({ id, label, hint, error, children }) {
  const described = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return html`<div class="field">
    <label for=${id}>${label}</label>
    ${children(described || undefined)}
    ${hint ? html`<small id=${`${id}-hint`}>${hint}</small>` : ""}
    ${error ? html`<span class="field-error" id=${`${id}-error`}>${error}</span>` : ""}
  </div>`;
}

function TextField({ id, label, hint, error, value, onInput, type = "text", autocomplete = "off" }) {
  return html`<${Field} id=${id} label=${label} hint=${hint} error=${error}>
    ${(described) => html`<input id=${id} type=${type} value=${value} autocomplete=${autocomplete}
      aria-invalid=${error ? "true" : undefined} aria-describedby=${described}
      onInput=${(event) => onInput(event.target.value)} />`}
  </${Field}>`;
}

// "Test connection": asks the node to open the stream and says what it sends, or why not.
function ProbeButton({ label, path, body }) {
  const [state, setState] = useState(null);
  async function run() {
    setState({ busy: true });
    const response = await api(path, { method: "POST", body: body() });
    if (response.status === 401) return signInAgain();
    if (response.ok) setState({ ok: probeWords(await response.json()) });
    else {
      const { fields, general } = await problemOf(response);
      setState({ error: general || Object.values(fields).join("; ") });
    }
    return undefined;
  }
  return html`<div class="probe">
    <button type="button" onClick=${run} disabled=${state?.busy}>${state?.busy ? T.testing : label}</button>
    <p role="status" class=${state?.error ? "error" : "probe-result"} data-probe>
      ${state?.ok || state?.error || ""}</p>
  </div>`;
}

export function CameraAdd() {
  const [values, setValues] = useState({ name: "", main_url: "", username: "", password: "", sub_url: "" });
  const [errors, setErrors] = useState({ fields: {}, general: "" });
  const [busy, setBusy] = useState(false);
  const set = (name) => (value) => setValues({ ...values, [name]: value });
  function body() {
    const out = { main_url: values.main_url };
    if (values.username) out.username = values.username;
    if (values.password) out.password = values.password;
    return out;
  }
  async function save(event) {
    event.preventDefault();
    setBusy(true);
    const payload = { ...body(), name: values.name };
    if (values.sub_url) payload.sub_url = values.sub_url;
    const response = await api("/api/cameras", { method: "POST", body: payload });
    setBusy(false);
    if (response.status === 401) return signInAgain();
    if (response.ok) return goTo("cameras");
    setErrors(await problemOf(response));
    return undefined;
  }
  const f = errors.fields;
  return html`<form class="camera-form" onSubmit=${save} novalidate>
    <h2>${T.addTitle}</h2>
    <${TextField} id="cam-name" label=${T.name} value=${values.name} error=${f.name} onInput=${set("name")} />
    <${TextField} id="cam-main-url" label=${T.mainUrl} hint=${T.mainUrlHint} value=${values.main_url}
      error=${f.main_url} onInput=${set("main_url")} />
    <${TextField} id="cam-username" label=${T.username} value=${values.username} error=${f.username}
      onInput=${set("username")} />
    <${TextField} id="cam-password" label=${T.password} type="password" autocomplete="new-password"
      value=${values.password} error=${f.password} onInput=${set("password")} />
    <${ProbeButton} key=${[values.main_url, values.username, values.password].join("\n")} label=${T.test}
      path="/api/cameras/probe" body=${body} />
    <${TextField} id="cam-sub-url" label=${T.subUrl} hint=${T.subUrlHint} value=${values.sub_url}
      error=${f.sub_url} onInput=${set("sub_url")} />
    ${errors.general ? html`<p class="error" role="alert">${fill(T.cannotSave, { detail: errors.general })}</p>` : ""}
    <div class="form-actions">
      <button type="submit" class="primary" disabled=${busy}>${busy ? T.saving : T.save}</button>
      <a class="button" href="#cameras">${T.cancel}</a>
    </div>
  </form>`;
}

function daysText(value) {
  return value === null || value === undefined ? "" : String(value);
}

// The form's values from a camera as the API gives it.
function formOf(camera) {
  const d = camera.detection;
  return {
    enabled: camera.enabled,
    recording: camera.recording,
    record_mode: camera.record_mode,
    retention_days: daysText(camera.retention_days),
    event_retention_days: daysText(camera.event_retention_days),
    sub_url: camera.sub_url || "",
    detection: Boolean(d && d.enabled),
    object_detection: d ? d.object_detection : true,
    labels: d ? [...d.labels] : ["person", "car", "dog", "cat"],
    sensitivity: d ? d.motion.sensitivity : "medium",
    motion_events: d ? d.motion_events : false,
    pre_seconds: d ? String(d.pre_seconds) : "5",
    post_seconds: d ? String(d.post_seconds) : "5",
    pinned_node: camera.pinned_node || "",
  };
}

function numberOrNull(text) {
  return text.trim() === "" ? null : Number(text);
}

// Only what changed, as PATCH /api/cameras/{id} takes it.
function changes(camera, v) {
  const was = formOf(camera);
  const out = {};
  for (const key of ["enabled", "recording", "record_mode"]) if (v[key] !== was[key]) out[key] = v[key];
  for (const key of ["retention_days", "event_retention_days"]) {
    if (v[key].trim() !== was[key]) out[key] = numberOrNull(v[key]);
  }
  if (v.sub_url.trim() !== was.sub_url) out.sub_url = v.sub_url.trim() || null;
  if (v.pinned_node !== was.pinned_node) out.pinned_node = v.pinned_node || null;
  const detectionKeys = ["detection", "object_detection", "sensitivity", "motion_events", "pre_seconds", "post_seconds"];
  const labelsChanged = [...v.labels].sort().join() !== [...was.labels].sort().join();
  if (labelsChanged || detectionKeys.some((key) => v[key] !== was[key])) {
    const base = camera.detection || {};
    out.detection = {
      ...base,
      enabled: v.detection,
      object_detection: v.object_detection,
      labels: v.labels,
      motion: { ...(base.motion || {}), sensitivity: v.sensitivity },
      motion_events: v.motion_events,
      pre_seconds: Number(v.pre_seconds),
      post_seconds: Number(v.post_seconds),
    };
  }
  return out;
}

function Check({ id, label, checked, onChange }) {
  return html`<div class="check"><input id=${id} type="checkbox" checked=${checked}
    onChange=${(event) => onChange(event.target.checked)} /><label for=${id}>${label}</label></div>`;
}

function Select({ id, label, value, options, onChange, error, hint }) {
  return html`<${Field} id=${id} label=${label} error=${error} hint=${hint}>
    ${(described) => html`<select id=${id} value=${value} aria-describedby=${described}
      onChange=${(event) => onChange(event.target.value)}>
      ${Object.entries(options).map(([key, words]) => html`<option value=${key}>${words}</option>`)}
    </select>`}
  </${Field}>`;
}

function DeleteCamera({ camera }) {
  const dialog = useRef(null);
  const [error, setError] = useState("");
  async function remove() {
    const response = await api(`/api/cameras/${camera.id}`, { method: "DELETE" });
    if (response.status === 401) return signInAgain();
    if (response.ok) {
      dialog.current.close();
      return goTo("cameras");
    }
    setError(await problemDetail(response, `HTTP ${response.status}`));
    return undefined;
  }
  const name = { name: camera.name };
  return html`<section class="camera-section">
    <h3>${T.deleteTitle}</h3>
    <button type="button" class="danger" onClick=${() => dialog.current.showModal()}>${T.deleteCamera}</button>
    <dialog ref=${dialog} aria-labelledby="delete-warning">
      <p id="delete-warning">${fill(T.deleteWarning, name)}</p>
      ${error ? html`<p class="error" role="alert">${error}</p>` : ""}
      <div class="form-actions">
        <button type="button" class="danger" onClick=${remove}>${fill(T.deleteConfirm, name)}</button>
        <button type="button" onClick=${() => dialog.current.close()}>${T.cancel}</button>
      </div>
    </dialog>
  </section>`;
}

// The media nodes an admin may pin a camera to (from /api/system); none for others.
function useNodes(me) {
  const [nodes, setNodes] = useState([]);
  useEffect(() => {
    if (me.role !== "admin") return;
    api("/api/system").then(async (response) => {
      if (response.ok) setNodes((await response.json()).nodes.map((node) => node.name));
    });
  }, [me.role]);
  return nodes;
}

// Where the camera records: shown once there is more than one node to choose from.
function NodeChoice({ camera, nodes, value, error, onChange }) {
  const names = [...new Set([...nodes, camera.node, ...(value ? [value] : [])])].sort();
  if (names.length < 2) return "";
  const options = { "": T.anyNode, ...Object.fromEntries(names.map((name) => [name, name])) };
  return html`<${Select} id="cam-node" label=${T.mediaNode} value=${value} options=${options}
    error=${error} hint=${fill(T.mediaNodeHint, { node: camera.node })} onChange=${onChange} />`;
}

export function CameraEdit({ camera: polled, me }) {
  // The camera as last saved here: the list's polling must not overwrite what is typed.
  const [camera, setCamera] = useState(polled);
  const [values, setValues] = useState(() => formOf(polled));
  const [errors, setErrors] = useState({ fields: {}, general: "" });
  const [message, setMessage] = useState("");
  const [busy, setBusy] = useState(false);
  const nodes = useNodes(me);
  const set = (name) => (value) => {
    setMessage("");
    setValues({ ...values, [name]: value });
  };
  function toggleLabel(label, on) {
    const labels = on ? [...values.labels, label] : values.labels.filter((l) => l !== label);
    set("labels")(labels);
  }
  async function save(event) {
    event.preventDefault();
    const body = changes(camera, values);
    if (Object.keys(body).length === 0) return setMessage(T.nothingChanged);
    setBusy(true);
    const response = await api(`/api/cameras/${camera.id}`, { method: "PATCH", body });
    setBusy(false);
    if (response.status === 401) return signInAgain();
    if (response.ok) {
      const saved = await response.json();
      setCamera(saved);
      setValues(formOf(saved));
      setErrors({ fields: {}, general: "" });
      setMessage(T.saved);
    } else {
      setMessage("");
      setErrors(await problemOf(response));
    }
    return undefined;
  }
  const f = errors.fields;
  const detectionError = f.detection;
  return html`<div class="camera-edit">
    <p><a href="#cameras">${T.back}</a></p>
    <h2>${fill(T.editTitle, { name: camera.name })}</h2>
    <form class="camera-form" onSubmit=${save} novalidate>
      <section class="camera-section">
        <h3>${T.streamTitle}</h3>
        <p class="main-url">${fill(T.mainStream, { url: camera.main_url })}</p>
        <${ProbeButton} label=${T.test} path=${`/api/cameras/${camera.id}/probe`} body=${() => ({})} />
        <${TextField} id="cam-sub-url" label=${T.subUrl} hint=${T.subUrlHint} value=${values.sub_url}
          error=${f.sub_url} onInput=${set("sub_url")} />
        ${values.sub_url.trim()
          ? html`<${ProbeButton} key=${values.sub_url} label=${T.testSub} path=${`/api/cameras/${camera.id}/probe`}
              body=${() => ({ main_url: values.sub_url.trim() })} />`
          : ""}
      </section>
      <section class="camera-section">
        <h3>${T.recordingTitle}</h3>
        <${Check} id="cam-enabled" label=${T.enabled} checked=${values.enabled} onChange=${set("enabled")} />
        <${Check} id="cam-recording" label=${T.recording} checked=${values.recording} onChange=${set("recording")} />
        <${Select} id="cam-record-mode" label=${T.recordMode} value=${values.record_mode} options=${T.modes}
          error=${f.record_mode} onChange=${set("record_mode")} />
        <${TextField} id="cam-retention" label=${T.retentionDays} type="number" value=${values.retention_days}
          error=${f.retention_days} onInput=${set("retention_days")} />
        <${TextField} id="cam-event-retention" label=${T.eventRetentionDays} type="number"
          value=${values.event_retention_days} error=${f.event_retention_days} onInput=${set("event_retention_days")} />
        <${NodeChoice} camera=${camera} nodes=${nodes} value=${values.pinned_node} error=${f.pinned_node}
          onChange=${set("pinned_node")} />
      </section>
      <section class="camera-section">
        <h3>${T.detectionTitle}</h3>
        <${Check} id="det-enabled" label=${T.detectionOn} checked=${values.detection} onChange=${set("detection")} />
        <${Check} id="det-objects" label=${T.objectDetection} checked=${values.object_detection}
          onChange=${set("object_detection")} />
        <fieldset class="labels">
          <legend>${T.labels}</legend>
          ${LABELS.map(
            (label) => html`<${Check} key=${label} id=${`det-label-${label}`} label=${T.labelNames[label]}
              checked=${values.labels.includes(label)} onChange=${(on) => toggleLabel(label, on)} />`,
          )}
        </fieldset>
        <${Select} id="det-sensitivity" label=${T.sensitivity} value=${values.sensitivity}
          options=${T.sensitivities} onChange=${set("sensitivity")} />
        <${Check} id="det-motion-events" label=${T.motionEvents} checked=${values.motion_events}
          onChange=${set("motion_events")} />
        <${TextField} id="det-pre" label=${T.preSeconds} type="number" value=${values.pre_seconds}
          onInput=${set("pre_seconds")} />
        <${TextField} id="det-post" label=${T.postSeconds} type="number" value=${values.post_seconds}
          onInput=${set("post_seconds")} />
        ${detectionError ? html`<span class="field-error">${detectionError}</span>` : ""}
      </section>
      ${errors.general ? html`<p class="error" role="alert">${fill(T.cannotSave, { detail: errors.general })}</p>` : ""}
      <div class="form-actions">
        <button type="submit" class="primary" disabled=${busy}>${busy ? T.saving : T.save}</button>
        <span role="status">${message}</span>
      </div>
    </form>
    <${ZoneEditor} camera=${camera} onSaved=${setCamera} />
    ${me.role === "admin" ? html`<${DeleteCamera} camera=${camera} />` : ""}
  </div>`;
}
