// Where you are signed in, on the Account page: each session's browser, address and times;
// ending one (this browser's too, which signs you out here), or all of them.
import { html, fill, useState } from "./lib.js";
import { S } from "./strings.js";
import { ConfirmButton, Pending, Status, call, useResource, when } from "./rest.js";

const T = S.account;
const BROWSERS = [
  [/Edg\//, "Edge"],
  [/OPR\//, "Opera"],
  [/Firefox\//, "Firefox"],
  [/Chrom(e|ium)\//, "Chromium"],
  [/Safari\//, "Safari"],
  [/curl\//, "curl"],
];
const SYSTEMS = [
  [/Android/, "Android"],
  [/iPhone|iPad/, "iOS"],
  [/Windows/, "Windows"],
  [/Mac OS X/, "macOS"],
  [/Linux/, "Linux"],
];

// "Chromium on Linux" from a user agent; the whole string stays in the title.
export function browserName(agent) {
  if (!agent) return T.unknownBrowser;
  const browser = BROWSERS.find(([pattern]) => pattern.test(agent));
  const system = SYSTEMS.find(([pattern]) => pattern.test(agent));
  if (!browser) return agent.slice(0, 40);
  return system ? fill(T.browserOn, { browser: browser[1], system: system[1] }) : browser[1];
}

export function SessionsSection() {
  const sessions = useResource("/api/me/sessions");
  const [state, setState] = useState(null);
  async function end(session) {
    try {
      await call(`/api/me/sessions/${session.id}`, { method: "DELETE" });
      if (session.current) return location.assign("/login");
      setState({ ok: fill(T.sessionEnded, { browser: browserName(session.user_agent) }) });
      sessions.reload();
    } catch (error) {
      setState({ error: error.message });
    }
    return undefined;
  }
  async function endAll() {
    try {
      await call("/api/me/sessions", { method: "DELETE" });
      location.assign("/login");
    } catch (error) {
      setState({ error: error.message });
    }
  }
  if (!sessions.data) return html`<${Pending} error=${sessions.error} />`;
  return html`<${Status} state=${state} />
    <ul class="session-list">
      ${sessions.data.map((session) => {
        const browser = browserName(session.user_agent);
        return html`<li class="session" data-session=${session.id}>
          <div>
            <strong title=${session.user_agent || ""}>${browser}</strong>
            ${session.current ? html` <span class="badge on">${T.thisBrowser}</span>` : ""}
            <div class="muted">${fill(T.sessionFacts, {
              ip: session.ip || T.unknownAddress,
              since: when(session.created_at),
              seen: when(session.last_seen_at),
            })}</div>
          </div>
          <${ConfirmButton} className="" label=${T.endSession}
            ariaLabel=${fill(session.current ? T.endThisLabel : T.endSessionLabel, { browser })}
            question=${session.current ? T.endThisQuestion : T.endSessionQuestion}
            confirm=${T.endSession} onConfirm=${() => end(session)} />
        </li>`;
      })}
    </ul>
    <div class="form-actions">
      <${ConfirmButton} label=${T.endAll} question=${T.endAllQuestion} confirm=${T.endAll} onConfirm=${endAll} />
    </div>`;
}
