// One event beside the list (below it, instead of it, on a phone): its picture, its clip played
// in place, what the camera saw, and what the caller may do with it (review, protect, save its
// snapshot or clip to the library, open its moment in Recordings). Actions the API would refuse
// this user are absent.
import { html, fill, useEffect, useRef, useState } from "./lib.js";
import { S } from "./strings.js";
import { getEvent, saveClip, saveSnapshot, thumbnailUrl } from "./event_api.js";
import { Badges, duration, eventName, localTime, score } from "./event_list.js";
import { playVod } from "./vod.js";

const T = S.events;

function Player({ event, playing, onPlay }) {
  const video = useRef(null);
  const [error, setError] = useState("");
  useEffect(() => {
    if (!playing) return undefined;
    let stop = () => {};
    let live = true;
    setError("");
    // Fresh details for a fresh signed link: the one from selecting may have expired.
    getEvent(event.id).then(
      (details) => {
        if (live) stop = playVod(video.current, details.links.vod_url, (why) => setError(why));
      },
      (why) => live && setError(why.message),
    );
    return () => {
      live = false;
      stop();
    };
  }, [playing, event.id]);
  const name = eventName(event);
  const thumb = thumbnailUrl(event);
  return html`<div class="event-media">
    ${playing
      ? html`<video ref=${video} controls playsinline aria-label=${fill(T.clipLabel, { event: name })}></video>`
      : thumb
        ? html`<img src=${thumb} alt=${fill(T.snapshotAlt, { event: name })} />`
        : html`<span class="event-nopicture">${T.noPicture}</span>`}
    ${playing ? "" : html`<button type="button" class="primary event-play" onClick=${onPlay}>${T.play}</button>`}
    ${error ? html`<p class="error" role="alert">${fill(T.cannotPlay, { detail: error })}</p>` : ""}
  </div>`;
}

function Facts({ event }) {
  const f = T.facts;
  return html`<dl class="event-facts">
    <dt>${f.camera}</dt><dd>${event.camera_name}</dd>
    <dt>${f.label}</dt><dd>${event.label}</dd>
    <dt>${f.score}</dt><dd>${score(event)}</dd>
    <dt>${f.zones}</dt><dd>${event.zones.length ? event.zones.join(", ") : T.none}</dd>
    <dt>${f.start}</dt><dd><time datetime=${event.start}>${localTime(event.start)}</time></dd>
    <dt>${f.duration}</dt><dd>${duration(event)}</dd>
    <dt>${f.state}</dt><dd><${Badges} event=${event} /></dd>
  </dl>`;
}

// may: {protect, library, clip}: what this user may do on the event's camera.
export function EventDetail({ event, may, playing, onPlay, change, onChanged, onBack, announce, headingRef }) {
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState("");
  const name = eventName(event);

  async function act(work) {
    setBusy(true);
    setMessage("");
    try {
      await work();
    } catch (error) {
      setMessage(fill(T.failed, { detail: error.message }));
    } finally {
      setBusy(false);
    }
  }
  const review = () =>
    act(async () => {
      onChanged(await change(event.id, { reviewed: !event.reviewed }));
      announce(fill(event.reviewed ? T.markedUnreviewed : T.markedReviewed, { event: name }));
    });
  const protect = () =>
    act(async () => {
      onChanged(await change(event.id, { protected: !event.protected }));
      announce(fill(event.protected ? T.unprotectedDone : T.protectedDone, { event: name }));
    });
  const keepSnapshot = () =>
    act(async () => {
      setMessage(T.saving);
      const item = await saveSnapshot(event.id);
      setMessage(fill(T.saved, { title: item.title }));
    });
  const keepClip = () =>
    act(async () => {
      setMessage(fill(T.exporting, { percent: 0 }));
      const item = await saveClip(event.id, (p) => setMessage(fill(T.exporting, { percent: Math.round(p * 100) })));
      setMessage(fill(T.saved, { title: item.title }));
    });
  const recordings = `#recordings?${new URLSearchParams({ camera: event.camera_id, at: event.start })}`;

  return html`<section class="event-detail" aria-labelledby="event-heading" data-event=${event.id}>
    <button type="button" class="event-back" onClick=${onBack}>${T.back}</button>
    <h2 id="event-heading" tabindex="-1" ref=${headingRef}>
      ${fill(T.heading, { label: event.label, camera: event.camera_name })}</h2>
    <${Player} event=${event} playing=${playing} onPlay=${onPlay} />
    <div class="event-actions">
      <button type="button" disabled=${busy} onClick=${review}>
        ${event.reviewed ? T.markUnreviewed : T.markReviewed}</button>
      ${may.protect
        ? html`<button type="button" disabled=${busy} onClick=${protect}>${event.protected ? T.unprotect : T.protect}</button>`
        : ""}
      ${may.library && event.snapshot
        ? html`<button type="button" disabled=${busy} onClick=${keepSnapshot}>${T.saveSnapshot}</button>`
        : ""}
      ${may.clip ? html`<button type="button" disabled=${busy} onClick=${keepClip}>${T.saveClip}</button>` : ""}
      <a class="button" href=${recordings}>${T.openRecordings}</a>
    </div>
    <p class="event-message" role="status">${message}</p>
    <${Facts} event=${event} />
  </section>`;
}
