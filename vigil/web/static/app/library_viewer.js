// The viewer: one picture (zoomable) or video (with its poster, playing) over the page, in a
// modal dialog. Previous and next with the buttons, ← and →, or a swipe; Esc or Close goes
// back to the grid. Download the original; admins and operators edit the title, description
// and tags, and share the item (share.js: with classes or by a link). Its address is
// #library?event=<id>&item=<id>; moving to another item replaces it (Back leaves the viewer
// rather than stepping back through every picture seen).
import { bytes, fill, html, useEffect, useLayoutEffect, useRef, useState } from "./lib.js";
import { S } from "./strings.js";
import { typing } from "./shortcuts.js";
import { changeItem, itemHref, mayEdit, unsigned } from "./library_api.js";
import { clock, dateTime, parseTags } from "./library_format.js";
import { useGestures } from "./library_gestures.js";
import { ShareButton } from "./share.js";

const T = S.library;

function ItemForm({ item, onSaved, onCancel }) {
  const [title, setTitle] = useState(item.title);
  const [description, setDescription] = useState(item.description ?? "");
  const [tags, setTags] = useState(item.tags.join(", "));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  async function submit(event) {
    event.preventDefault();
    if (!title.trim()) {
      setError(T.titleNeeded);
      return;
    }
    setBusy(true);
    setError("");
    try {
      const body = { title: title.trim(), description: description.trim() || null, tags: parseTags(tags) };
      onSaved(await changeItem(item.id, body));
    } catch (failure) {
      setError(fill(T.cannotSave, { detail: failure.message }));
      setBusy(false);
    }
  }
  return html`<form class="lib-form" onSubmit=${submit} aria-label=${T.editItem}>
    <label>${T.itemTitle}<input value=${title} onInput=${(e) => setTitle(e.target.value)} required maxlength="200" /></label>
    <label>${T.itemDescription}<textarea rows="3" value=${description} onInput=${(e) => setDescription(e.target.value)}></textarea></label>
    <label>${T.itemTags}<input value=${tags} onInput=${(e) => setTags(e.target.value)} aria-describedby="lib-tags-hint" /></label>
    <p id="lib-tags-hint" class="muted">${T.tagsHint}</p>
    ${error ? html`<p class="error" role="alert">${error}</p>` : ""}
    <div class="lib-form-actions">
      <button type="submit" class="primary" disabled=${busy}>${busy ? T.saving : T.save}</button>
      <button type="button" onClick=${onCancel}>${T.cancel}</button>
    </div>
  </form>`;
}

function Info({ item, me, onChanged }) {
  const [editing, setEditing] = useState(false);
  const [saved, setSaved] = useState("");
  useEffect(() => {
    setEditing(false);
    setSaved("");
  }, [item.id]);
  const size = item.width && item.height ? ` · ${item.width}×${item.height}` : "";
  return html`<aside class="lib-viewer-info" aria-label=${T.details}>
    ${editing
      ? html`<${ItemForm} item=${item} onCancel=${() => setEditing(false)}
          onSaved=${(changed) => (setEditing(false), setSaved(T.saved), onChanged(changed))} />`
      : html`${item.description ? html`<p class="lib-description">${item.description}</p>` : ""}
          ${item.tags.length
            ? html`<p class="lib-chips" aria-label=${T.itemTags}>${item.tags.map((t) => html`<span class="lib-chip">${t}</span>`)}</p>`
            : ""}
          <dl class="lib-facts">
            <div><dt>${T.taken}</dt><dd><time datetime=${item.captured_at}>${dateTime(item.captured_at)}</time></dd></div>
            ${item.uploader ? html`<div><dt>${T.uploadedBy}</dt><dd>${item.uploader}</dd></div>` : ""}
            <div><dt>${T.file}</dt><dd>${item.filename} · ${bytes(item.size)}${size}</dd></div>
            ${item.duration_seconds ? html`<div><dt>${T.length}</dt><dd>${clock(item.duration_seconds)}</dd></div>` : ""}
          </dl>
          ${mayEdit(me) ? html`<button type="button" onClick=${() => (setSaved(""), setEditing(true))}>${T.edit}</button>` : ""}`}
    <p class="muted" role="status">${saved}</p>
  </aside>`;
}

function Media({ item, gestures }) {
  const video = useRef(null);
  useEffect(() => {
    video.current?.play().catch(() => {}); // refused autoplay: the controls are there
  }, [item.id]);
  if (item.status !== "ready" || !item.files) {
    const words = item.status === "failed" ? fill(T.processingFailed, { reason: item.error || "" })
      : fill(T.processing, { percent: Math.round(100 * item.progress) });
    return html`<p class="lib-viewer-wait">${words}</p>`;
  }
  const files = item.files;
  if (item.kind === "video") {
    return html`<video ref=${video} class="lib-viewer-video" controls playsinline preload="metadata"
      poster=${unsigned(files.poster)} src=${unsigned(files.web || files.original)}
      aria-label=${fill(T.videoLabel, { title: item.title })}></video>`;
  }
  const { scale, x, y } = gestures.view;
  return html`<img class=${scale > 1 ? "lib-viewer-photo zoomed" : "lib-viewer-photo"}
    src=${unsigned(files.web || files.thumb)} alt=${item.title} draggable="false"
    style=${{ transform: `translate(${x}px, ${y}px) scale(${scale})` }} />`;
}

// `items`: the list the viewer steps through (the grid's order; the event page reads more of
// it as the viewer nears its end).
export function Viewer({ me, item, items, eventId, onChanged, onClose }) {
  const dialog = useRef(null);
  const at = items.findIndex((i) => i.id === item.id);
  const previous = at > 0 ? items[at - 1] : null;
  const next = at >= 0 && at < items.length - 1 ? items[at + 1] : null;

  function go(target) {
    if (target) location.replace(itemHref(eventId, target.id));
  }
  function step(direction) {
    go(direction < 0 ? previous : next);
  }
  const gestures = useGestures(step);

  useEffect(() => {
    const element = dialog.current;
    if (!element.open) element.showModal();
    return () => element.open && element.close();
  }, []);
  // Another item shows whole, before a key can zoom it (an effect would run after a paint,
  // and undo a zoom asked for in between).
  useLayoutEffect(() => gestures.reset(), [item.id]);

  // Keys of the latest render behind one listener.
  const onKey = useRef(null);
  onKey.current = (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
    if (event.target.closest?.("dialog") !== dialog.current) return; // the share dialog's keys
    const actions = {
      ArrowLeft: () => step(-1),
      ArrowRight: () => step(1),
      "+": () => gestures.zoomBy(1.5),
      "=": () => gestures.zoomBy(1.5),
      "-": () => gestures.zoomBy(1 / 1.5),
      0: () => gestures.reset(),
    };
    const action = actions[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  };
  function cancel(event) {
    event.preventDefault(); // Esc: leave through the address, as Close does
    onClose();
  }

  const photo = item.kind !== "video" && item.status === "ready";
  const position = at >= 0 ? fill(T.position, { n: at + 1, total: items.length }) : "";
  return html`<dialog ref=${dialog} class="lib-viewer" aria-labelledby="lib-viewer-title"
      onCancel=${cancel} onKeyDown=${(e) => onKey.current(e)}>
    <header class="lib-viewer-bar">
      <h2 id="lib-viewer-title">${item.title}</h2>
      <span class="lib-viewer-position muted">${position}</span>
      <span class="lib-viewer-actions">
        ${photo
          ? html`<span class="segmented" role="group" aria-label=${T.zoom}>
              <button type="button" onClick=${() => gestures.zoomBy(1 / 1.5)} aria-label=${T.zoomOut}>−</button>
              <button type="button" onClick=${() => gestures.reset()}
                aria-label=${fill(T.zoomFit, { percent: Math.round(gestures.view.scale * 100) })}>${Math.round(gestures.view.scale * 100)}%</button>
              <button type="button" onClick=${() => gestures.zoomBy(1.5)} aria-label=${T.zoomIn}>+</button>
            </span>`
          : ""}
        ${item.files
          ? html`<a class="button" href=${unsigned(item.files.original)} download=${item.filename}>${T.download}</a>`
          : ""}
        ${mayEdit(me) ? html`<${ShareButton} key=${item.id} item_id=${item.id} title=${item.title} onSaved=${onChanged} />` : ""}
        <button type="button" class="lib-close" onClick=${onClose} autofocus>${T.close}</button>
      </span>
    </header>
    <div class="lib-viewer-body">
      <div class=${gestures.view.scale > 1 ? "lib-viewer-stage zoomed" : "lib-viewer-stage"} ...${gestures.handlers}>
        <${Media} key=${item.id} item=${item} gestures=${gestures} />
        ${previous ? html`<button type="button" class="lib-step lib-previous" onClick=${() => go(previous)} aria-label=${T.previous}>‹</button>` : ""}
        ${next ? html`<button type="button" class="lib-step lib-next" onClick=${() => go(next)} aria-label=${T.next}>›</button>` : ""}
      </div>
      <${Info} item=${item} me=${me} onChanged=${onChanged} />
    </div>
  </dialog>`;
}
