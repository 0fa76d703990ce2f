// The live grid's view picker: all cameras, the user's saved views, the organisation's
// camera groups (read-only); "Save view" names a set of cameras in order with the layout,
// "Delete view" removes one of the user's own.
import { html, fill, useState } from "./lib.js";
import { S } from "./strings.js";
import { createView, deleteView, viewKey } from "./prefs.js";

function SaveForm({ cameras, chosen, layout, onSaved, onCancel }) {
  const [name, setName] = useState("");
  const [picked, setPicked] = useState(new Set(chosen));
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  function toggle(id) {
    const next = new Set(picked);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setPicked(next);
  }
  async function submit(event) {
    event.preventDefault();
    const cameraIds = cameras.map((camera) => camera.id).filter((id) => picked.has(id));
    if (!name.trim()) return setError(S.grid.nameNeeded);
    if (cameraIds.length === 0) return setError(S.grid.camerasNeeded);
    setBusy(true);
    try {
      onSaved(await createView({ name: name.trim(), layout, camera_ids: cameraIds }));
    } catch (failure) {
      setError(failure.message);
      setBusy(false);
    }
    return undefined;
  }
  return html`<form class="view-form" aria-label=${S.grid.saveViewTitle} onSubmit=${submit}>
    <label>${S.grid.viewName}
      <input type="text" value=${name} maxlength="100" required autofocus
        onInput=${(event) => setName(event.target.value)} /></label>
    <fieldset>
      <legend>${S.grid.viewCameras}</legend>
      ${cameras.map(
        (camera) => html`<label class="check"><input type="checkbox" checked=${picked.has(camera.id)}
          onChange=${() => toggle(camera.id)} /> ${camera.name}</label>`,
      )}
    </fieldset>
    ${error ? html`<p class="error" role="alert">${error}</p>` : ""}
    <div class="buttons">
      <button type="submit" class="primary" disabled=${busy}>${S.grid.save}</button>
      <button type="button" onClick=${onCancel}>${S.grid.cancel}</button>
    </div>
  </form>`;
}

// views: every view; view: the one shown (null: all cameras); onChoose(view or null);
// onChanged(): the list changed on the server; layout, cameras, chosen: for a new view.
export function ViewPicker({ views, view, onChoose, onChanged, layout, cameras, chosen }) {
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState("");
  const own = views.filter((each) => each.kind === "user");
  const groups = views.filter((each) => each.kind === "group");
  function pick(event) {
    onChoose(views.find((each) => viewKey(each) === event.target.value) || null);
  }
  async function remove() {
    try {
      await deleteView(view.id);
      onChoose(null);
      onChanged();
    } catch (failure) {
      setError(fill(S.grid.notDeleted, { detail: failure.message }));
    }
  }
  function saved(created) {
    setSaving(false);
    onChanged();
    onChoose(created);
  }
  const option = (each) => html`<option value=${viewKey(each)}>${each.name}</option>`;
  return html`<div class="views">
    <label for="view-picker">${S.grid.view}</label>
    <select id="view-picker" value=${view ? viewKey(view) : ""} onChange=${pick}>
        <option value="">${S.grid.allCameras}</option>
        ${own.length ? html`<optgroup label=${S.grid.myViews}>${own.map(option)}</optgroup>` : ""}
        ${groups.length ? html`<optgroup label=${S.grid.groups}>${groups.map(option)}</optgroup>` : ""}
    </select>
    <button type="button" aria-expanded=${saving ? "true" : "false"} onClick=${() => setSaving(!saving)}>
      ${S.grid.saveView}</button>
    ${view && view.kind === "user"
      ? html`<button type="button" onClick=${remove} aria-label=${fill(S.grid.deleteViewLabel, { name: view.name })}>
          ${S.grid.deleteView}</button>`
      : ""}
    ${error ? html`<p class="error" role="alert">${error}</p>` : ""}
    ${saving
      ? html`<${SaveForm} cameras=${cameras} chosen=${chosen} layout=${layout} onSaved=${saved}
          onCancel=${() => setSaving(false)} />`
      : ""}
  </div>`;
}
