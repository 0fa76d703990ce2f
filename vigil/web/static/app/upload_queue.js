// Uploads into a library event over tus (/api/uploads) with tus-js-client: each file
// resumable, two at a time, paused and resumed at will, retried when the connection drops, and
// taken up again after a reload (tus-js-client keeps each upload's address in localStorage
// under the file's fingerprint: name, type, size, date; the same file chosen again continues
// where it stopped). A refusal (not a picture or a video, over the plan's quota…) carries the
// server's words; the last answer names the library item made (Vigil-Item), or the one the
// library already had (Vigil-Duplicate).
import { csrfToken } from "/static/api.js";
import { loadTus } from "/static/load_tus.js";

const ENDPOINT = "/api/uploads";
const AT_ONCE = 2;
// The first bytes go alone: the server judges the file by them, so a refused file costs this
// much rather than its whole size, and its refusal arrives whole (a server answering in the
// middle of a large body may see the connection reset before the browser reads the answer).
const FIRST_BYTES = 64 * 1024;
// Seconds between attempts after a failure, then it waits for the person (or the network).
const RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000, 30000];
const TUS_HEADERS = { "Tus-Resumable": "1.0.0" };

// Each entry's state: waiting, uploading, retrying, paused, offline (gave up retrying),
// refused (the server said no, for good), done (an item was made) or duplicate.
const ACTIVE = new Set(["uploading", "retrying"]);

function firstBytesAlone(reader) {
  return {
    async openFile(input, chunkSize) {
      const source = await reader.openFile(input, chunkSize);
      return {
        size: source.size,
        slice: (start, end) => source.slice(start, start === 0 ? Math.min(end, FIRST_BYTES) : end),
        close: () => source.close(),
      };
    },
  };
}

// The words of a refusal: the problem's detail when the server sent one.
function refusal(error) {
  const response = error.originalResponse;
  if (!response) return null;
  const status = response.getStatus();
  if (status < 400 || status >= 500 || status === 409 || status === 423) return null;
  try {
    const problem = JSON.parse(response.getBody());
    if (problem.detail) return { status, detail: problem.detail, type: problem.type || "" };
  } catch {
    // not JSON
  }
  return { status, detail: `HTTP ${status}`, type: "" };
}

function mayRetry(error) {
  return refusal(error) === null;
}

let counter = 0;

export class UploadQueue {
  constructor({ eventId, onChange, onItem, onEnd }) {
    this.eventId = String(eventId);
    this.entries = [];
    this.onChange = onChange;
    this.onItem = onItem;
    this.onEnd = onEnd;
    this._online = () => this.entries.filter((e) => e.state === "offline").forEach((e) => this.resume(e));
    addEventListener("online", this._online);
  }

  close() {
    removeEventListener("online", this._online);
    for (const entry of this.entries) if (entry.upload) entry.upload.abort();
  }

  add(files) {
    for (const file of files) {
      counter += 1;
      this.entries.push({ key: counter, file, name: file.name, size: file.size, sent: 0, state: "waiting" });
    }
    this._changed();
    this._pump();
  }

  pause(entry) {
    if (!ACTIVE.has(entry.state) && entry.state !== "waiting") return;
    entry.state = "paused";
    entry.upload?.abort();
    this._changed();
    this._pump();
  }

  resume(entry) {
    if (!["paused", "offline"].includes(entry.state)) return;
    entry.state = "waiting";
    this._changed();
    this._pump();
  }

  // Drop an entry: a finished one leaves the list; an unfinished one is stopped and its
  // bytes on the server deleted.
  remove(entry) {
    this.entries = this.entries.filter((e) => e !== entry);
    if (entry.upload && !["done", "duplicate", "refused"].includes(entry.state)) {
      entry.upload.abort(true).catch(() => {});
    }
    this._changed();
    this._pump();
  }

  // Bytes in all (refused files left out) and bytes sent.
  totals() {
    const counted = this.entries.filter((e) => e.state !== "refused");
    return {
      files: counted.length,
      finished: counted.filter((e) => e.state === "done" || e.state === "duplicate").length,
      size: counted.reduce((sum, e) => sum + e.size, 0),
      sent: counted.reduce((sum, e) => sum + e.sent, 0),
    };
  }

  _changed() {
    this.onChange();
  }

  _pump() {
    let running = this.entries.filter((e) => ACTIVE.has(e.state)).length;
    for (const entry of this.entries) {
      if (running >= AT_ONCE) break;
      if (entry.state !== "waiting") continue;
      running += 1;
      entry.state = "uploading";
      this._start(entry).catch((error) => this._failed(entry, error));
    }
    this._changed();
  }

  async _start(entry) {
    const tus = await loadTus();
    if (entry.state !== "uploading") return; // paused or removed meanwhile
    if (!entry.upload) {
      entry.upload = new tus.Upload(entry.file, this._options(tus, entry));
      // The same file started into this event before (the fingerprint does not name the event).
      const previous = (await entry.upload.findPreviousUploads()).filter((p) => p.metadata?.event_id === this.eventId);
      if (previous.length) {
        previous.sort((a, b) => Date.parse(b.creationTime) - Date.parse(a.creationTime));
        entry.upload.resumeFromPreviousUpload(previous[0]);
      }
    }
    if (entry.state === "uploading") entry.upload.start();
  }

  _options(tus, entry) {
    return {
      endpoint: ENDPOINT,
      retryDelays: RETRY_DELAYS,
      headers: { "X-CSRF-Token": csrfToken() },
      metadata: { filename: entry.file.name, filetype: entry.file.type, event_id: this.eventId },
      fileReader: firstBytesAlone(tus.defaultOptions.fileReader),
      removeFingerprintOnSuccess: true,
      onShouldRetry: (error) => {
        const retry = mayRetry(error) && entry.state !== "paused";
        if (retry) {
          entry.state = "retrying";
          this._changed();
        }
        return retry;
      },
      onProgress: (sent) => {
        if (entry.state === "paused") return;
        entry.sent = sent;
        entry.state = "uploading";
        this._changed();
      },
      onAfterResponse: (request, response) => {
        const item = response.getHeader("Vigil-Item");
        if (item) {
          entry.itemId = Number(item);
          entry.duplicate = response.getHeader("Vigil-Duplicate") === "true";
        }
      },
      onSuccess: () => {
        entry.sent = entry.size;
        entry.state = entry.duplicate ? "duplicate" : "done";
        if (entry.itemId) this.onItem(entry.itemId, entry.duplicate);
        this.onEnd(entry);
        this._pump();
      },
      onError: (error) => this._failed(entry, error),
    };
  }

  _failed(entry, error) {
    if (entry.state === "paused") return; // an abort of ours
    const refused = refusal(error);
    if (refused) {
      entry.state = "refused";
      entry.reason = refused.detail;
      entry.problem = refused.type;
      this.onEnd(entry);
    } else {
      entry.state = "offline";
      entry.reason = error.message;
    }
    this._pump();
  }
}

// Uploads of this event left unfinished by an earlier page (a reload, a closed tab), from
// tus-js-client's storage, with how far each got: [{key, name, size, sent, url}]. Those the
// server no longer has are forgotten.
export async function unfinishedUploads(eventId) {
  const tus = await loadTus();
  const storage = tus.defaultOptions.urlStorage;
  const stored = (await storage.findAllUploads()).filter((u) => u.metadata?.event_id === String(eventId));
  const found = [];
  for (const upload of stored) {
    const response = await fetch(upload.uploadUrl, { method: "HEAD", headers: TUS_HEADERS, credentials: "same-origin" });
    if (!response.ok) {
      if (response.status === 404 || response.status === 410) await storage.removeUpload(upload.urlStorageKey);
      continue;
    }
    found.push({
      key: upload.urlStorageKey,
      name: upload.metadata.filename,
      size: upload.size,
      sent: Number(response.headers.get("Upload-Offset")) || 0,
      url: upload.uploadUrl,
    });
  }
  return found;
}

// Give up an unfinished upload: its bytes on the server go, and the browser forgets it.
export async function discardUpload(unfinished) {
  const tus = await loadTus();
  await fetch(unfinished.url, {
    method: "DELETE",
    headers: { ...TUS_HEADERS, "X-CSRF-Token": csrfToken() },
    credentials: "same-origin",
  });
  await tus.defaultOptions.urlStorage.removeUpload(unfinished.key);
}
