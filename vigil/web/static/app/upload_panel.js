// Adding photos and videos to a library event: drop them on the page or choose them (on a
// phone the chooser offers the camera roll), then follow each file: its progress, pause and
// resume, why it was refused, then the library's processing until it is ready to view.
import { bytes, fill, html, useEffect, useRef, useState } from "./lib.js";
import { S } from "./strings.js";
import { itemHref } from "./library_api.js";
import { UploadQueue, discardUpload, unfinishedUploads } from "./upload_queue.js";

const T = S.library;

function percent(sent, size) {
  return size ? Math.floor((100 * sent) / size) : 100;
}

// What an entry's line says: where it is, in words.
function stateText(entry, item) {
  const sent = fill(T.sent, { percent: percent(entry.sent, entry.size), sent: bytes(entry.sent), size: bytes(entry.size) });
  switch (entry.state) {
    case "waiting":
      return T.waiting;
    case "uploading":
      return sent;
    case "retrying":
      return fill(T.retrying, { sent });
    case "paused":
      return fill(T.paused, { sent });
    case "offline":
      return fill(T.offline, { sent });
    case "refused":
      return fill(T.refused, { reason: entry.reason });
    case "duplicate":
      return T.duplicate;
    default:
      if (!item || item.status === "processing") return fill(T.processing, { percent: Math.round(100 * (item?.progress ?? 0)) });
      if (item.status === "failed") return fill(T.processingFailed, { reason: item.error || "" });
      return T.ready;
  }
}

function stateName(entry, item) {
  if (entry.state !== "done") return entry.state;
  return item?.status === "ready" ? "ready" : item?.status === "failed" ? "failed" : "processing";
}

function Entry({ entry, item, queue }) {
  const state = stateName(entry, item);
  const canPause = ["waiting", "uploading", "retrying"].includes(entry.state);
  const canResume = ["paused", "offline"].includes(entry.state);
  const finished = ["done", "duplicate", "refused"].includes(entry.state);
  return html`<li class="lib-upload-entry" data-upload-state=${state} data-name=${entry.name}>
    <span class="lib-upload-name">${entry.name}</span>
    ${state === "refused"
      ? ""
      : html`<progress max="100" value=${percent(entry.sent, entry.size)} aria-label=${fill(T.progressOf, { name: entry.name })}></progress>`}
    <span class=${state === "refused" || state === "failed" ? "lib-upload-state error" : "lib-upload-state"}>${stateText(entry, item)}</span>
    <span class="lib-upload-actions">
      ${canPause ? html`<button type="button" onClick=${() => queue.pause(entry)} aria-label=${fill(T.pauseLabel, { name: entry.name })}>${T.pause}</button>` : ""}
      ${canResume ? html`<button type="button" onClick=${() => queue.resume(entry)} aria-label=${fill(T.resumeLabel, { name: entry.name })}>${T.resume}</button>` : ""}
      ${entry.itemId && (state === "ready" || state === "duplicate")
        ? html`<a class="button" href=${itemHref(item?.event_id ?? queue.eventId, entry.itemId)}>${T.open}</a>`
        : ""}
      <button type="button" onClick=${() => queue.remove(entry)}
        aria-label=${fill(finished ? T.dismissLabel : T.cancelLabel, { name: entry.name })}>${finished ? T.dismiss : T.cancelUpload}</button>
    </span>
  </li>`;
}

function Unfinished({ uploads, onDiscard }) {
  return html`<div class="lib-unfinished" role="note">
    <p>${T.unfinished}</p>
    <ul>
      ${uploads.map(
        (u) => html`<li data-name=${u.name}>
          <span>${fill(T.unfinishedEntry, { name: u.name, percent: percent(u.sent, u.size), sent: bytes(u.sent), size: bytes(u.size) })}</span>
          <button type="button" onClick=${() => onDiscard(u)} aria-label=${fill(T.discardLabel, { name: u.name })}>${T.discard}</button>
        </li>`,
      )}
    </ul>
  </div>`;
}

// `items`: the event's items by id, kept up to date by the event page (processing state);
// `onItem(id)`: an upload made (or found) this item.
export function UploadPanel({ eventId, items, onItem }) {
  const [, setVersion] = useState(0);
  const [over, setOver] = useState(false);
  const [unfinished, setUnfinished] = useState([]);
  const [announce, setAnnounce] = useState("");
  const queue = useRef(null);
  const frame = useRef(0);
  if (queue.current === null) {
    queue.current = new UploadQueue({
      eventId,
      // Progress comes many times a second: draw once a frame.
      onChange: () => {
        if (!frame.current) {
          frame.current = requestAnimationFrame(() => {
            frame.current = 0;
            setVersion((v) => v + 1);
          });
        }
      },
      onItem: (id, duplicate) => onItem(id, duplicate),
      // Said to screen readers: a file refused, a file in (not every per cent).
      onEnd: (entry) =>
        setAnnounce(
          entry.state === "refused"
            ? fill(T.refusedAnnounce, { name: entry.name, reason: entry.reason })
            : fill(T.sentAnnounce, { name: entry.name }),
        ),
    });
  }
  useEffect(() => {
    unfinishedUploads(eventId).then(setUnfinished, () => {});
    return () => queue.current.close();
  }, []);

  function add(files) {
    const list = [...files];
    if (!list.length) return;
    const names = new Set(list.map((f) => `${f.name}/${f.size}`));
    setUnfinished((left) => left.filter((u) => !names.has(`${u.name}/${u.size}`)));
    queue.current.add(list);
  }
  function drop(event) {
    event.preventDefault();
    setOver(false);
    add(event.dataTransfer.files);
  }
  async function discard(upload) {
    await discardUpload(upload).catch(() => {});
    setUnfinished((left) => left.filter((u) => u !== upload));
  }

  const entries = queue.current.entries;
  const totals = queue.current.totals();
  return html`<section class="lib-upload" aria-labelledby="lib-upload-title">
    <div class=${over ? "lib-drop over" : "lib-drop"} onDragOver=${(e) => (e.preventDefault(), setOver(true))}
      onDragLeave=${() => setOver(false)} onDrop=${drop}>
      <h3 id="lib-upload-title">${T.addTitle}</h3>
      <p class="muted">${T.dropHint}</p>
      <label class="lib-choose">${T.choose}<input type="file" multiple
        accept="image/*,video/*" class="visually-hidden"
        onChange=${(e) => (add(e.target.files), (e.target.value = ""))} /></label>
    </div>
    ${unfinished.length ? html`<${Unfinished} uploads=${unfinished} onDiscard=${discard} />` : ""}
    ${entries.length
      ? html`<div class="lib-total">
          <span>${fill(T.total, { finished: totals.finished, files: totals.files, sent: bytes(totals.sent), size: bytes(totals.size) })}</span>
          <progress max="100" value=${percent(totals.sent, totals.size)} aria-label=${T.totalLabel}></progress>
        </div>
        <ul class="lib-upload-list" aria-label=${T.uploadsLabel}>
          ${entries.map((e) => html`<${Entry} key=${e.key} entry=${e} item=${items.get(e.itemId)} queue=${queue.current} />`)}
        </ul>`
      : ""}
    <p class="visually-hidden" role="status" aria-live="polite">${announce}</p>
  </section>`;
}
