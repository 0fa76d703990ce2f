// The Search page (#search?q=…): one box with suggestions (search_box.js), the filters in force
// as chips and the facets that narrow them (search_facets.js), then what was found: library
// events by name, camera events by label, and items as cards with thumbnails
// (search_results.js), newest first when no words are given. Everything is in the address
// (search_state.js), so Back, reload and a shared link show the same search. "/" anywhere in
// the app comes here, into the box.
import { api, problemDetail, signInAgain } from "/static/api.js";
import { html, fill, useEffect, useRef, useState } from "./lib.js";
import { S } from "./strings.js";
import { focusRequested } from "./search_link.js";
import { SearchBox } from "./search_box.js";
import { Chips, Facets } from "./search_facets.js";
import { EventResults, ItemResults } from "./search_results.js";
import { apiQuery, goSearch, isEmpty, readSearch, withValue } from "./search_state.js";

const T = S.search;

async function call(path) {
  const response = await api(path);
  if (response.status === 401) {
    signInAgain();
    throw new Error(`HTTP ${response.status}`);
  }
  if (!response.ok) throw new Error(await problemDetail(response, `HTTP ${response.status}`));
  return response.json();
}

// Library events whose names match the words (the suggestions' list, longer).
async function matchingEvents(q) {
  if (!q.trim()) return [];
  const found = await call(`/api/library/search/suggest?${new URLSearchParams({ q, limit: "8" })}`);
  return found.events;
}

const EMPTY = { items: [], total: 0, exact: true, facets: null, names: { events: {}, cameras: {} }, next_cursor: null };

export function SearchPage({ me }) {
  const [state, setState] = useState(readSearch);
  const [found, setFound] = useState({ ...EMPTY, loading: true, error: null });
  const [events, setEvents] = useState([]);
  const [more, setMore] = useState({ busy: false, error: null });
  const [facetsOpen, setFacetsOpen] = useState(false);
  const box = useRef(null);
  const key = JSON.stringify(state);
  const canShare = me.role === "admin" || me.role === "operator";

  useEffect(() => {
    const follow = () => {
      if (location.hash.startsWith("#search")) setState(readSearch());
    };
    addEventListener("hashchange", follow);
    if (focusRequested()) box.current?.focus();
    return () => removeEventListener("hashchange", follow);
  }, []);

  useEffect(() => {
    let live = true;
    setFound((was) => ({ ...was, loading: true, error: null }));
    setMore({ busy: false, error: null });
    Promise.all([call(`/api/library/search?${apiQuery(state)}`), matchingEvents(state.q)]).then(
      ([page, named]) => {
        if (!live) return;
        setFound({ ...page, loading: false, error: null });
        setEvents(named);
      },
      (error) => live && setFound({ ...EMPTY, loading: false, error: error.message }),
    );
    return () => {
      live = false;
    };
  }, [key]);

  const go = (next) => goSearch(next);

  async function loadMore() {
    setMore({ busy: true, error: null });
    try {
      const page = await call(`/api/library/search?${apiQuery(state, found.next_cursor)}`);
      setFound((was) => ({ ...was, items: [...was.items, ...page.items], next_cursor: page.next_cursor }));
      setMore({ busy: false, error: null });
    } catch (error) {
      setMore({ busy: false, error: error.message });
    }
  }

  const names = found.names;
  let summary = "";
  if (!found.loading && !found.error) {
    const count = found.total === 1 ? T.oneFound : fill(T.found, { n: found.total.toLocaleString() });
    summary = found.exact ? count : fill(T.broad, { n: found.total.toLocaleString() });
  }
  const active = ["kind", "event", "tag", "camera", "label"].reduce((n, k) => n + state[k].length, 0) + (state.since || state.until ? 1 : 0);
  return html`<div class="search-page">
    <div class="search-top">
      <${SearchBox} value=${state.q} inputRef=${box}
        onSearch=${(q) => go({ ...state, q })} onPick=${(k, v) => go(withValue({ ...state, q: "" }, k, v))} />
      <label class="search-sort">${T.sort}
        <select value=${state.sort} onChange=${(event) => go({ ...state, sort: event.target.value })}>
          ${Object.entries(T.sorts).map(([value, words]) => html`<option value=${value}>${words}</option>`)}
        </select></label>
    </div>
    <${Chips} state=${state} names=${names} go=${go} />
    <div class="search-body">
      <aside class=${`search-facets${facetsOpen ? " open" : ""}`} aria-label=${T.narrow}>
        <button type="button" class="facets-toggle" aria-expanded=${facetsOpen ? "true" : "false"}
          aria-controls="search-facet-list" onClick=${() => setFacetsOpen(!facetsOpen)}>
          ${active ? fill(T.filtersOn, { n: active }) : T.filtersButton}</button>
        <div id="search-facet-list">
          ${found.facets ? html`<${Facets} facets=${found.facets} names=${names} state=${state} go=${go} />` : ""}
        </div>
      </aside>
      <section class="search-results" aria-busy=${found.loading ? "true" : "false"} aria-labelledby="search-summary">
        <p id="search-summary" class="search-summary" role="status">
          ${found.loading ? S.loading : isEmpty(state) ? html`${T.newest} · ${summary}` : summary}</p>
        ${found.error ? html`<p class="error" role="alert">${fill(S.cannotLoad, { detail: found.error })}</p>` : ""}
        <${EventResults} events=${events} />
        ${state.label.length
          ? html`<p class="result-camera-events">${state.label.map(
              (label) => html`<a href=${`#events?${new URLSearchParams({ label, reviewed: "all" })}`}>
                ${fill(T.cameraEvents, { label })}</a> `,
            )}</p>`
          : ""}
        ${!found.loading && !found.error && !found.items.length
          ? html`<section class="empty"><h2>${T.nothing}</h2><p>${isEmpty(state) ? T.emptyLibrary : T.nothingHint}</p></section>`
          : html`<${ItemResults} items=${found.items} names=${names} canShare=${canShare} />`}
        ${found.next_cursor
          ? html`<button type="button" class="search-more" disabled=${more.busy} onClick=${loadMore}>${T.more}</button>`
          : ""}
        ${more.error ? html`<p class="error" role="alert">${fill(S.cannotLoad, { detail: more.error })}</p>` : ""}
      </section>
    </div>
  </div>`;
}
