// Access (#admin?tab=access): who may do what on which cameras, as a matrix of user groups
// (rows) by camera groups (columns), each cell the permissions the grant between them gives;
// grants to single people below. A tick is saved at once (a grant made, changed, or taken
// away when its last permission goes) and takes effect on the people's next request.
import { html, fill, useEffect, useState } from "./lib.js";
import { S } from "./strings.js";
import { Pending, Status, call, useResource } from "./rest.js";

const T = S.admin;
const PERMISSIONS = ["view_live", "view_recordings", "export", "ptz", "configure"];

// Make the grants between a subject and a camera group give exactly `permissions`: the first
// grant is changed (or made), any others taken away.
async function setGrant(existing, subject, cameraGroupId, permissions) {
  const [first, ...others] = existing;
  for (const extra of others) await call(`/api/grants/${extra.id}`, { method: "DELETE" });
  if (permissions.length === 0) {
    if (first) await call(`/api/grants/${first.id}`, { method: "DELETE" });
    return;
  }
  if (first) {
    await call(`/api/grants/${first.id}`, { method: "PATCH", body: { permissions } });
  } else {
    await call("/api/grants", { method: "POST", body: { ...subject, camera_group_id: cameraGroupId, permissions } });
  }
}

// One cell: five boxes, saved on every change.
function Cell({ label, grants, subject, cameraGroup, onSaved, announce }) {
  const stored = grants.map((g) => `${g.id}:${g.permissions.join()}`).join(" ");
  // What was last ticked here, shown until the grants read back say so too. Grants read
  // while a later tick is being saved are older than it: they do not untick it.
  const [ticked, setTicked] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!busy) setTicked(null);
  }, [stored, busy]);
  const given = ticked || new Set(grants.flatMap((g) => g.permissions));
  async function change(permission, on) {
    const next = new Set(given);
    if (on) next.add(permission);
    else next.delete(permission);
    const permissions = PERMISSIONS.filter((p) => next.has(p));
    setBusy(true);
    setTicked(next);
    try {
      await setGrant(grants, subject, cameraGroup.id, permissions);
      announce({
        ok: permissions.length
          ? fill(T.grantSaved, { who: label, group: cameraGroup.name, what: permissions.map((p) => T.permissions[p]).join(", ") })
          : fill(T.grantRemoved, { who: label, group: cameraGroup.name }),
      });
    } catch (error) {
      setTicked(null);
      announce({ error: error.message });
    }
    // Held until the grants are read back: a tick made before would act on the old ones
    // (and make a second grant where the first was just made).
    await onSaved();
    setBusy(false);
  }
  return html`<fieldset class="perms" disabled=${busy}>
    <legend class="visually-hidden">${fill(T.cellLegend, { who: label, group: cameraGroup.name })}</legend>
    ${PERMISSIONS.map((p) => html`<label class="perm"><input type="checkbox" data-permission=${p}
      checked=${given.has(p)} onChange=${(e) => change(p, e.target.checked)} />${T.permissions[p]}</label>`)}
  </fieldset>`;
}

function Matrix({ userGroups, cameraGroups, grants, onSaved, announce }) {
  if (userGroups.length === 0 || cameraGroups.length === 0) {
    return html`<p class="muted">${T.matrixNeedsGroups} <a href="#admin?tab=groups">${T.tabs.groups}</a></p>`;
  }
  return html`<div class="matrix-scroll"><table class="cards matrix">
    <caption class="visually-hidden">${T.matrixCaption}</caption>
    <thead><tr><th scope="col">${T.userGroupColumn}</th>
      ${cameraGroups.map((cg) => html`<th scope="col">${cg.name}</th>`)}</tr></thead>
    <tbody>${userGroups.map(
      (ug) => html`<tr data-user-group=${ug.id}>
        <th scope="row">${ug.name}<div class="muted">${ug.user_ids.length === 1 ? T.memberOne : fill(T.memberCount, { n: ug.user_ids.length })}</div></th>
        ${cameraGroups.map(
          (cg) => html`<td data-label=${cg.name} data-cell=${`${ug.id}:${cg.id}`}>
            <${Cell} label=${ug.name} subject=${{ user_group_id: ug.id }} cameraGroup=${cg}
              grants=${grants.filter((g) => g.user_group_id === ug.id && g.camera_group_id === cg.id)}
              onSaved=${onSaved} announce=${announce} />
          </td>`,
        )}
      </tr>`,
    )}</tbody>
  </table></div>`;
}

function PersonalGrants({ users, cameraGroups, grants, onSaved, announce }) {
  const [userId, setUserId] = useState("");
  const [groupId, setGroupId] = useState("");
  const personal = grants.filter((g) => g.user_id !== null);
  const pairs = [...new Set(personal.map((g) => `${g.user_id}:${g.camera_group_id}`))];
  const userOf = Object.fromEntries(users.map((u) => [u.id, u]));
  const groupOf = Object.fromEntries(cameraGroups.map((g) => [g.id, g]));
  async function add(event) {
    event.preventDefault();
    try {
      await call("/api/grants", {
        method: "POST",
        body: { user_id: Number(userId), camera_group_id: Number(groupId), permissions: ["view_live"] },
      });
      announce({ ok: T.personalAdded });
    } catch (error) {
      announce({ error: error.message });
    }
    onSaved();
  }
  return html`<section aria-labelledby="personal-title">
    <h3 id="personal-title">${T.personalTitle}</h3>
    <p class="muted">${T.personalHelp}</p>
    ${pairs.length
      ? html`<table class="cards personal-grants"><thead><tr>
          <th scope="col">${T.person}</th><th scope="col">${T.cameraGroup}</th><th scope="col">${T.permissionsTitle}</th>
        </tr></thead><tbody>${pairs.map((pair) => {
          const [uid, gid] = pair.split(":").map(Number);
          const name = userOf[uid] ? userOf[uid].username : `#${uid}`;
          const group = groupOf[gid] || { id: gid, name: `#${gid}` };
          return html`<tr data-personal=${pair}>
            <th scope="row" data-label=${T.person}>${name}</th>
            <td data-label=${T.cameraGroup}>${group.name}</td>
            <td data-label=${T.permissionsTitle}><${Cell} label=${name} subject=${{ user_id: uid }} cameraGroup=${group}
              grants=${personal.filter((g) => g.user_id === uid && g.camera_group_id === gid)}
              onSaved=${onSaved} announce=${announce} /></td>
          </tr>`;
        })}</tbody></table>`
      : html`<p class="muted">${T.noPersonal}</p>`}
    ${users.length && cameraGroups.length
      ? html`<form class="inline-row" onSubmit=${add}>
          <label for="personal-user">${T.person}</label>
          <select id="personal-user" required value=${userId} onChange=${(e) => setUserId(e.target.value)}>
            <option value="">${T.choose}</option>
            ${users.map((u) => html`<option value=${u.id}>${u.username}</option>`)}
          </select>
          <label for="personal-group">${T.cameraGroup}</label>
          <select id="personal-group" required value=${groupId} onChange=${(e) => setGroupId(e.target.value)}>
            <option value="">${T.choose}</option>
            ${cameraGroups.map((g) => html`<option value=${g.id}>${g.name}</option>`)}
          </select>
          <button type="submit">${T.addPersonal}</button>
        </form>`
      : ""}
  </section>`;
}

export function AccessTab() {
  const userGroups = useResource("/api/user-groups");
  const cameraGroups = useResource("/api/camera-groups");
  const grants = useResource("/api/grants");
  const users = useResource("/api/users");
  const [state, setState] = useState(null);
  const waiting = [userGroups, cameraGroups, grants, users].find((r) => !r.data);
  if (waiting) return html`<${Pending} error=${waiting.error} />`;
  return html`<p class="muted">${T.accessHelp}</p>
    <${Status} state=${state} id="grant-status" />
    <${Matrix} userGroups=${userGroups.data} cameraGroups=${cameraGroups.data} grants=${grants.data}
      onSaved=${grants.reload} announce=${setState} />
    <${PersonalGrants} users=${users.data} cameraGroups=${cameraGroups.data} grants=${grants.data}
      onSaved=${grants.reload} announce=${setState} />`;
}
