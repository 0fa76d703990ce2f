// The search box: words, and suggestions while they are typed (GET /api/library/search/suggest)
// in a list under it (the ARIA combobox pattern: arrows move through it, Enter picks, Esc
// closes). A tag, library event, camera or label picked becomes a filter; an item picked opens.
import { api } from "/static/api.js";
import { html, fill, useEffect, useRef, useState } from "./lib.js";
import { S } from "./strings.js";
import { itemHref } from "./search_results.js";

const T = S.search;
const WAIT_MS = 150; // after the last key, before asking
const KINDS = ["events", "tags", "labels", "cameras", "items"];

// The suggestions as one list of options, each {key, kind, label, count?, pick}.
function options(found) {
  const list = [];
  for (const e of found.events) list.push({ key: `e${e.id}`, kind: "events", label: e.name, count: e.count, pick: ["event", String(e.id)] });
  for (const t of found.tags) list.push({ key: `t${t.value}`, kind: "tags", label: t.value, count: t.count, pick: ["tag", t.value] });
  for (const l of found.labels) list.push({ key: `l${l.value}`, kind: "labels", label: l.value, count: l.count, pick: ["label", l.value] });
  for (const c of found.cameras) list.push({ key: `c${c.id}`, kind: "cameras", label: c.name, count: c.count, pick: ["camera", String(c.id)] });
  for (const i of found.items) list.push({ key: `i${i.id}`, kind: "items", label: i.title, thumb: i.thumb, href: itemHref(i) });
  list.sort((a, b) => KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind));
  return list;
}

export function SearchBox({ value, onSearch, onPick, inputRef }) {
  const [text, setText] = useState(value);
  const [list, setList] = useState([]);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const asked = useRef(0);
  const timer = useRef(null);
  useEffect(() => setText(value), [value]);
  useEffect(() => () => clearTimeout(timer.current), []);

  function ask(words) {
    clearTimeout(timer.current);
    const ticket = ++asked.current;
    if (!words.trim()) {
      setList([]);
      setOpen(false);
      return;
    }
    timer.current = setTimeout(async () => {
      try {
        const response = await api(`/api/library/search/suggest?${new URLSearchParams({ q: words, limit: "5" })}`);
        if (!response.ok || ticket !== asked.current) return;
        const found = options(await response.json());
        if (ticket !== asked.current) return;
        setList(found);
        setActive(-1);
        setOpen(found.length > 0);
      } catch {
        // no suggestions this time: the search itself still works
      }
    }, WAIT_MS);
  }

  function close() {
    asked.current += 1;
    clearTimeout(timer.current);
    setOpen(false);
    setActive(-1);
  }

  function choose(option) {
    close();
    if (option.href) {
      location.hash = option.href;
      return;
    }
    setText("");
    onPick(option.pick[0], option.pick[1]);
  }

  function onKey(event) {
    if (event.key === "ArrowDown" && list.length) {
      event.preventDefault();
      setOpen(true);
      setActive((at) => (at + 1) % list.length);
    } else if (event.key === "ArrowUp" && list.length) {
      event.preventDefault();
      setOpen(true);
      setActive((at) => (at <= 0 ? list.length - 1 : at - 1));
    } else if (event.key === "Escape" && open) {
      event.preventDefault();
      event.stopPropagation();
      close();
    } else if (event.key === "Enter" && open && active >= 0) {
      event.preventDefault();
      choose(list[active]);
    }
  }

  function submit(event) {
    event.preventDefault();
    close();
    onSearch(text.trim());
  }

  const shown = open && list.length > 0;
  let lastKind = null;
  return html`<form class="search-box" role="search" onSubmit=${submit}>
    <label for="search-words" class="visually-hidden">${T.label}</label>
    <div class="search-field">
      <input id="search-words" ref=${inputRef} type="search" value=${text} placeholder=${T.placeholder}
        autocomplete="off" spellcheck="false" maxlength="500"
        role="combobox" aria-autocomplete="list" aria-expanded=${shown ? "true" : "false"}
        aria-controls="search-suggestions" aria-describedby="search-hint"
        aria-activedescendant=${shown && active >= 0 ? `suggestion-${active}` : undefined}
        onInput=${(event) => {
          setText(event.target.value);
          ask(event.target.value);
        }}
        onKeyDown=${onKey} onBlur=${() => setTimeout(close, 150)} />
      <ul id="search-suggestions" role="listbox" aria-label=${T.suggestions} class="search-suggestions" hidden=${!shown}>
        ${list.map((option, index) => {
          const heading = option.kind !== lastKind ? T.kinds[option.kind] : null;
          lastKind = option.kind;
          return html`<li id=${`suggestion-${index}`} role="option" aria-selected=${index === active ? "true" : "false"}
            class=${index === active ? "active" : undefined} data-kind=${option.kind}
            onMouseDown=${(event) => event.preventDefault()} onClick=${() => choose(option)}>
            ${heading ? html`<span class="suggestion-kind">${heading}</span>` : ""}
            <span class="suggestion-main">
              ${option.thumb ? html`<img src=${option.thumb} alt="" width="32" height="32" />` : ""}
              <span class="suggestion-label">${option.label}</span>
              ${option.count !== undefined ? html`<span class="muted">${fill(T.count, { n: option.count })}</span>` : ""}
            </span>
          </li>`;
        })}
      </ul>
    </div>
    <button type="submit" class="primary">${T.button}</button>
    <p id="search-hint" class="visually-hidden">${T.hint}</p>
  </form>`;
}
