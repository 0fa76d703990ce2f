// The Library page: the gallery of library events (#library), an event's pictures and videos
// (#library?event=<id>) and one of them in the viewer (#library?event=<id>&item=<id>; the
// search page links there too). An item alone (#library?item=<id>) opens in its event.
import { html, fill, hashParams, useEffect, useState } from "./lib.js";
import { S } from "./strings.js";
import { getItem, itemHref, listGroups } from "./library_api.js";
import { Gallery } from "./library_gallery.js";
import { EventPage } from "./library_event.js";
import { Viewer } from "./library_viewer.js";

const T = S.library;

function useParams() {
  const [params, setParams] = useState(hashParams);
  useEffect(() => {
    const follow = () => setParams(hashParams());
    addEventListener("hashchange", follow);
    return () => removeEventListener("hashchange", follow);
  }, []);
  return params;
}

// An item named without its event: shown in its event's page, or alone over the gallery when
// it belongs to none.
function ItemAlone({ me, itemId, groups }) {
  const [item, setItem] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    getItem(itemId).then(
      (found) => {
        if (found.event_id !== null) location.replace(itemHref(found.event_id, found.id));
        else setItem(found);
      },
      (failure) => setError(failure.message),
    );
  }, [itemId]);
  return html`<${Gallery} me=${me} groups=${groups} />
    ${error ? html`<p class="error" role="alert">${fill(S.cannotLoad, { detail: error })}</p>` : ""}
    ${item
      ? html`<${Viewer} me=${me} item=${item} items=${[item]} eventId=${null}
          onChanged=${setItem} onClose=${() => location.replace(itemHref(null, null))} />`
      : ""}`;
}

export function LibraryPage({ me }) {
  const params = useParams();
  const [groups, setGroups] = useState([]);
  useEffect(() => {
    listGroups().then(setGroups, () => setGroups([]));
  }, []);
  const eventId = Number(params.event) || null;
  const itemId = Number(params.item) || null;
  if (eventId !== null) {
    return html`<${EventPage} key=${eventId} me=${me} eventId=${eventId} itemId=${itemId} groups=${groups} />`;
  }
  if (itemId !== null) return html`<${ItemAlone} me=${me} itemId=${itemId} groups=${groups} />`;
  return html`<${Gallery} me=${me} groups=${groups} />`;
}
