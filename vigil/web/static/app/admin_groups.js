// Groups (#admin?tab=groups): user groups (a class, a shift) and camera groups (a building,
// a classroom's cameras), each with its members; adding, renaming, changing members and
// deleting. Grants between them are on the Access tab.
import { html, fill, useState } from "./lib.js";
import { S } from "./strings.js";
import { ConfirmButton, Pending, Status, call, useAction, useResource } from "./rest.js";

const T = S.admin;

// One group: its name and members, saved together.
function GroupCard({ kind, group, members, onChanged }) {
  const field = kind === "user" ? "user_ids" : "camera_ids";
  const path = kind === "user" ? "/api/user-groups" : "/api/camera-groups";
  const [name, setName] = useState(group.name);
  const [chosen, setChosen] = useState(new Set(group[field]));
  const [state, run, setState] = useAction();
  const id = `${kind}-group-${group.id}`;
  function toggle(memberId, on) {
    const next = new Set(chosen);
    if (on) next.add(memberId);
    else next.delete(memberId);
    setChosen(next);
  }
  async function save(event) {
    event.preventDefault();
    const ids = members.map((m) => m.id).filter((mid) => chosen.has(mid));
    const body = { name, [field]: ids };
    const saved = await run(() => call(`${path}/${group.id}`, { method: "PATCH", body }), fill(T.groupSaved, { name }));
    if (saved !== undefined) onChanged();
  }
  async function remove() {
    try {
      await call(`${path}/${group.id}`, { method: "DELETE" });
      onChanged();
    } catch (error) {
      setState({ error: error.message });
    }
  }
  return html`<form class="panel group-card" data-group=${`${kind}:${group.id}`} onSubmit=${save} aria-labelledby=${`${id}-title`}>
    <h4 id=${`${id}-title`}>${group.name}</h4>
    <div class="field"><label for=${`${id}-name`}>${T.groupName}</label>
      <input id=${`${id}-name`} required maxlength="100" value=${name} onInput=${(e) => setName(e.target.value)} /></div>
    ${members.length === 0
      ? html`<p class="muted">${kind === "user" ? T.noPeopleYet : T.noCamerasYet}</p>`
      : html`<fieldset class="checks">
          <legend>${kind === "user" ? T.groupPeople : T.groupCameras}</legend>
          ${members.map((m) => html`<label class="check"><input type="checkbox" checked=${chosen.has(m.id)}
            onChange=${(e) => toggle(m.id, e.target.checked)} />${m.label}</label>`)}
        </fieldset>`}
    <div class="form-actions">
      <button type="submit" disabled=${state?.busy}>${T.saveGroup}</button>
      <${ConfirmButton} label=${T.delete} ariaLabel=${fill(T.deleteGroupLabel, { name: group.name })}
        question=${fill(kind === "user" ? T.deleteUserGroupQuestion : T.deleteCameraGroupQuestion, { name: group.name })}
        confirm=${T.delete} onConfirm=${remove} />
    </div>
    <${Status} state=${state?.busy ? null : state} />
  </form>`;
}

function NewGroup({ kind, onCreated }) {
  const [name, setName] = useState("");
  const [state, run] = useAction();
  const path = kind === "user" ? "/api/user-groups" : "/api/camera-groups";
  const id = `new-${kind}-group`;
  async function submit(event) {
    event.preventDefault();
    const created = await run(() => call(path, { method: "POST", body: { name } }), fill(T.groupAdded, { name }));
    if (created === undefined) return;
    setName("");
    onCreated();
  }
  return html`<form class="inline-row new-group" onSubmit=${submit}>
    <label for=${id}>${kind === "user" ? T.newUserGroup : T.newCameraGroup}</label>
    <input id=${id} required maxlength="100" value=${name} onInput=${(e) => setName(e.target.value)} />
    <button type="submit" disabled=${state?.busy}>${T.addGroup}</button>
    <${Status} state=${state?.busy ? null : state} />
  </form>`;
}

function GroupList({ kind, title, help, groups, members, onChanged }) {
  return html`<section class="group-section" aria-labelledby=${`${kind}-groups-title`}>
    <h3 id=${`${kind}-groups-title`}>${title}</h3>
    <p class="muted">${help}</p>
    <${NewGroup} kind=${kind} onCreated=${onChanged} />
    ${groups.length === 0
      ? html`<p class="muted">${T.noGroups}</p>`
      : html`<div class="group-grid">${groups.map(
          (g) => html`<${GroupCard} key=${g.id}
            kind=${kind} group=${g} members=${members} onChanged=${onChanged} />`,
        )}</div>`}
  </section>`;
}

export function GroupsTab({ cameras }) {
  const users = useResource("/api/users");
  const userGroups = useResource("/api/user-groups");
  const cameraGroups = useResource("/api/camera-groups");
  const waiting = [users, userGroups, cameraGroups].find((r) => !r.data);
  if (waiting) return html`<${Pending} error=${waiting.error} />`;
  if (!Array.isArray(cameras)) return html`<${Pending} error=${cameras && cameras.error} />`;
  const people = users.data.map((u) => ({ id: u.id, label: u.display_name ? `${u.username} (${u.display_name})` : u.username }));
  const cams = cameras.map((c) => ({ id: c.id, label: c.name }));
  return html`
    <${GroupList} kind="user" title=${T.userGroups} help=${T.userGroupsHelp} groups=${userGroups.data}
      members=${people} onChanged=${userGroups.reload} />
    <${GroupList} kind="camera" title=${T.cameraGroups} help=${T.cameraGroupsHelp} groups=${cameraGroups.data}
      members=${cams} onChanged=${cameraGroups.reload} />`;
}
