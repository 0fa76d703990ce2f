// Making or changing a library event (admins and operators): its name, when, where, what it
// was, and the groups (classes) it is shared with. A refusal is shown in the API's words.
import { html, fill, useState } from "./lib.js";
import { S } from "./strings.js";
import { changeEvent, createEvent } from "./library_api.js";
import { fromLocalInput, localInput } from "./library_format.js";

const T = S.library;

export function EventForm({ event = null, groups, onSaved, onCancel }) {
  const [name, setName] = useState(event?.name ?? "");
  const [start, setStart] = useState(localInput(event?.start ?? new Date().toISOString()));
  const [place, setPlace] = useState(event?.place ?? "");
  const [description, setDescription] = useState(event?.description ?? "");
  const [chosen, setChosen] = useState(new Set(event?.group_ids ?? []));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");

  function toggle(id) {
    const next = new Set(chosen);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setChosen(next);
  }

  async function submit(e) {
    e.preventDefault();
    if (!name.trim()) {
      setError(T.nameNeeded);
      return;
    }
    setBusy(true);
    setError("");
    const body = {
      name: name.trim(),
      start: fromLocalInput(start) ?? new Date().toISOString(),
      place: place.trim() || null,
      description: description.trim() || null,
      group_ids: [...chosen],
    };
    try {
      onSaved(event ? await changeEvent(event.id, body) : await createEvent(body));
    } catch (failure) {
      setError(fill(T.cannotSave, { detail: failure.message }));
      setBusy(false);
    }
  }

  const title = event ? T.editEvent : T.newEvent;
  return html`<form class="lib-form" onSubmit=${submit} aria-label=${title}>
    <h3>${title}</h3>
    <label>${T.eventName}<input value=${name} onInput=${(e) => setName(e.target.value)} required maxlength="200" /></label>
    <label>${T.eventStart}<input type="datetime-local" value=${start} onInput=${(e) => setStart(e.target.value)} required /></label>
    <label>${T.eventPlace}<input value=${place} onInput=${(e) => setPlace(e.target.value)} maxlength="200" /></label>
    <label>${T.eventDescription}<textarea rows="3" value=${description} onInput=${(e) => setDescription(e.target.value)}></textarea></label>
    ${groups.length
      ? html`<fieldset><legend>${T.sharedWith}</legend>
          ${groups.map(
            (g) => html`<label class="lib-check"><input type="checkbox" checked=${chosen.has(g.id)}
              onChange=${() => toggle(g.id)} />${g.name}</label>`,
          )}
          <p class="muted">${T.sharedHint}</p></fieldset>`
      : ""}
    ${error ? html`<p class="error" role="alert">${error}</p>` : ""}
    <div class="lib-form-actions">
      <button type="submit" class="primary" disabled=${busy}>${busy ? T.saving : event ? T.save : T.create}</button>
      <button type="button" onClick=${onCancel}>${T.cancel}</button>
    </div>
  </form>`;
}
