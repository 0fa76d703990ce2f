// The Administration page (#admin?tab=…), for the organisation's admins: people, groups,
// who may see what (the grants matrix), the organisation's rules, the audit log, storage
// and the system's health. Anyone else is told it is not theirs (the API refuses them too).
import { html, hashParams, useEffect, useState } from "./lib.js";
import { S } from "./strings.js";
import { PeopleTab } from "./admin_people.js";
import { GroupsTab } from "./admin_groups.js";
import { AccessTab } from "./admin_access.js";
import { OrgTab } from "./admin_org.js";
import { AuditTab } from "./admin_audit.js";
import { StorageTab } from "./admin_storage.js";
import { SystemTab } from "./admin_system.js";

const T = S.admin;
const TABS = {
  people: PeopleTab,
  groups: GroupsTab,
  access: AccessTab,
  organisation: OrgTab,
  audit: AuditTab,
  storage: StorageTab,
  system: SystemTab,
};

export function AdminPage({ me, cameras }) {
  const [params, setParams] = useState(hashParams());
  useEffect(() => {
    const follow = () => setParams(hashParams());
    addEventListener("hashchange", follow);
    return () => removeEventListener("hashchange", follow);
  }, []);
  useEffect(() => {
    if (me.role === "admin") document.title = `${T.tabs[params.tab in TABS ? params.tab : "people"]} · ${T.title} · ${S.appName}`;
  }, [params.tab]);
  if (me.role !== "admin") {
    return html`<section class="empty"><h2>${T.notAdminTitle}</h2><p>${T.notAdmin}</p></section>`;
  }
  const tab = params.tab in TABS ? params.tab : "people";
  const Tab = TABS[tab];
  return html`<div class="admin">
    <nav class="tabs" aria-label=${T.sections}>
      ${Object.keys(TABS).map(
        (key) => html`<a href=${`#admin?tab=${key}`} aria-current=${key === tab ? "page" : undefined}>${T.tabs[key]}</a>`,
      )}
    </nav>
    <div class="admin-body">
      <h2 class="tab-title">${T.tabs[tab]}</h2>
      <${Tab} me=${me} cameras=${cameras} params=${params} />
    </div>
  </div>`;
}
