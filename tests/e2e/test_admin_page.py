"""The Admin page in a real browser: inviting a person (the link works), changing their
role and groups, disabling them; resetting someone's two-factor sign-in; groups made on the
page and a grants matrix change the API then answers; the organisation's two-factor rule;
the audit log narrowed by filters, paged, and downloaded as the CSV of the rows shown; the
storage chart drawn from the usage the API reports; the system's health; what a non-admin
sees and what the API answers them; the phone layout and axe-core on every section."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from playwright.async_api import Page

from tests.conftest import TEST_ORG, SecretWatch
from tests.e2e.site import (  # noqa: F401 (fixtures)
    MODULE_LOOP,
    PHONE,
    Site,
    assert_accessible,
    csp_clean,
    no_sideways_scroll,
    site_fixture,
)
from tests.e2e.test_cameras_page import SCREENSHOTS, shot
from tests.people import PASSWORD, make_user
from vigil.auth import totp
from vigil.link.messages import SegmentRecord
from vigil.sim.runner import SimulatedCameras
from vigil.store.audit import Actor
from vigil.store.cameras import CameraFields
from vigil.store.library import Usage
from vigil.store.models import Camera, Plan, User, UserGroup
from vigil.timeutil import now_ms

pytestmark = MODULE_LOOP

DAY_MS = 86_400_000
PAGE = 50  # audit entries a page
GB = 1_000_000_000
ADMIN_ROUTES = [
    "/api/users",
    "/api/user-groups",
    "/api/camera-groups",
    "/api/grants",
    "/api/audit",
    "/api/audit.csv",
    "/api/keys",
    "/api/storage",
    "/api/system",
    "/api/library/usage/history",
]


@dataclass
class Cameras:
    gate: Camera  # streaming from the simulator
    dock: Camera  # switched off


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cameras(site: Site, sim: SimulatedCameras) -> Cameras:
    create = site.services.cameras.create
    gate = await create(CameraFields(name="Gate", main_url=sim.url("cam1")), org_id=TEST_ORG)
    dock = await create(
        CameraFields(name="Loading dock", main_url="rtsp://127.0.0.1:9/x", enabled=False),
        org_id=TEST_ORG,
    )
    return Cameras(gate, dock)


async def api(page: Page, path: str, method: str = "GET", body: Any = None) -> Any:
    """The API's answer to the page's session (status and JSON), as the page would ask."""
    return await page.evaluate(
        """async ([path, method, body]) => {
            const csrf = document.cookie.split('; ').find((c) => c.startsWith('vigil_csrf='));
            const headers = { 'X-CSRF-Token': csrf ? decodeURIComponent(csrf.split('=')[1]) : '' };
            if (body !== null) headers['Content-Type'] = 'application/json';
            const r = await fetch(path, { method, headers, body: body === null ? undefined : JSON.stringify(body) });
            const text = await r.text();
            let json = null;
            try { json = JSON.parse(text); } catch {}
            return { status: r.status, json };
        }""",
        [path, method, body],
    )


async def test_inviting_a_person_then_changing_role_and_groups_and_disabling(
    site: Site, secret_watch: SecretWatch
) -> None:
    await site.services.auth.access.add(UserGroup(org_id=TEST_ORG, name="Class 4B", user_ids=[]))
    page = await site.page(site.admin, secret_watch, "/#admin")
    await page.get_by_role("button", name="Invite a person").click()
    await page.get_by_label("User name").fill("noor")
    await page.get_by_label("Email (optional)").fill("noor@example.org")
    await page.locator("#invite-role").select_option("viewer")
    await page.get_by_role("button", name="Invite", exact=True).click()
    link_box = page.locator("#invite-link")
    await link_box.wait_for()
    link = await link_box.input_value()
    token = link.split("#", 1)[1]
    secret_watch.add(token)
    assert link.startswith(site.base + "/invite#")
    mail = await page.get_by_role("link", name="Email it to noor@example.org").get_attribute("href")
    assert mail is not None
    assert mail.startswith("mailto:noor%40example.org?")
    row = page.locator("tr[data-user]", has_text="noor")
    await row.get_by_text("invited").wait_for()
    await shot(page, "admin-invite")

    # The link works: the person sets a password and is signed in.
    stranger = await site.browser.new_context()
    invited = await stranger.new_page()
    await invited.goto(link)
    await invited.fill("input[name=password]", PASSWORD)
    await invited.fill("input[name=repeat]", PASSWORD)
    await invited.click("button[type=submit]")
    await invited.wait_for_url(site.base + "/")
    assert await invited.inner_text("[data-username]") == "noor"

    # Their page: role, groups, disable.
    await page.reload()
    await row.get_by_text("active").wait_for()
    await row.get_by_role("link", name="noor").click()
    await page.get_by_role("heading", name="noor").wait_for()
    await page.get_by_label("Role of noor").select_option("operator")
    await page.get_by_role("button", name="Save role").click()
    await page.get_by_text("Role changed to operator.").wait_for()
    await page.get_by_role("checkbox", name="Class 4B").check()
    await page.get_by_role("button", name="Save groups").click()
    await page.get_by_text("Groups saved.").wait_for()
    await page.get_by_role("button", name="Disable", exact=True).click()
    await (
        page.get_by_role("group", name="Disable noor?", exact=False)
        .get_by_role("button", name="Disable")
        .click()
    )
    await page.get_by_text("Disabled: signed out everywhere, cannot sign in.").wait_for()
    await shot(page, "admin-person")

    users = {u["username"]: u for u in (await api(page, "/api/users"))["json"]}
    assert users["noor"]["role"] == "operator"
    assert users["noor"]["disabled"] is True
    [group] = [g for g in (await api(page, "/api/user-groups"))["json"] if g["name"] == "Class 4B"]
    assert users["noor"]["id"] in group["user_ids"]
    assert users["noor"]["groups"] == [group["id"]]
    # Disabled: their browser is signed out; the app, open there, goes to the sign-in page
    # on its next poll.
    await invited.wait_for_url("**/login**", timeout=15_000)
    answer = await stranger.request.get(site.base + "/api/me")
    assert answer.status == 401
    await page.get_by_role("link", name="Back to people").click()
    people = page.locator("tr[data-user]", has_text="noor")
    await people.get_by_text("disabled").wait_for()
    assert "Class 4B" in await people.inner_text()
    await assert_accessible(page)
    await stranger.close()
    await page.context.close()


async def test_an_admin_resets_a_persons_lost_two_factor(
    site: Site, secret_watch: SecretWatch
) -> None:
    person = await make_user(site.services, "yusuf", "viewer")
    users = site.services.auth.users
    secret = totp.new_secret()
    secret_watch.add(secret)
    await users.start_totp(person.id, site.services.auth.box.encrypt(secret))
    await users.enable_totp(person.id, 1, [])
    page = await site.page(site.admin, secret_watch, f"/#admin?tab=people&user={person.id}")
    facts = page.locator(".person .facts")
    await facts.get_by_text("on", exact=True).wait_for()
    await page.get_by_role("button", name="Reset two-factor").click()
    await (
        page.get_by_role("group", name="Turn off two-factor sign-in for yusuf", exact=False)
        .get_by_role("button", name="Reset two-factor")
        .click()
    )
    await page.get_by_text("Two-factor sign-in reset").wait_for()
    await facts.get_by_text("off", exact=True).wait_for()
    assert not (await users.get(TEST_ORG, person.id)).totp_enabled
    assert await page.get_by_role("button", name="Reset two-factor").count() == 0
    await page.context.close()


async def test_groups_made_on_the_page_and_a_grants_matrix_change_reach_the_api(
    site: Site, cameras: Cameras, secret_watch: SecretWatch
) -> None:
    guard = await make_user(site.services, "guard", "operator")
    page = await site.page(site.admin, secret_watch, "/#admin?tab=groups")
    await page.get_by_label("New user group").fill("Night shift")
    await (
        page.locator("form.new-group", has=page.get_by_label("New user group"))
        .get_by_role("button", name="Add")
        .click()
    )
    shift = page.locator("form.group-card", has=page.get_by_role("heading", name="Night shift"))
    await shift.get_by_role("checkbox", name="guard").check()
    await shift.get_by_role("button", name="Save").click()
    await shift.get_by_text("Saved “Night shift”.").wait_for()
    await page.get_by_label("New camera group").fill("Perimeter")
    await (
        page.locator("form.new-group", has=page.get_by_label("New camera group"))
        .get_by_role("button", name="Add")
        .click()
    )
    perimeter = page.locator("form.group-card", has=page.get_by_role("heading", name="Perimeter"))
    await perimeter.get_by_role("checkbox", name="Gate").check()
    await perimeter.get_by_role("button", name="Save").click()
    await perimeter.get_by_text("Saved “Perimeter”.").wait_for()
    await assert_accessible(page)
    await shot(page, "admin-groups")

    user_groups = {g["name"]: g for g in (await api(page, "/api/user-groups"))["json"]}
    camera_groups = {g["name"]: g for g in (await api(page, "/api/camera-groups"))["json"]}
    night, fence = user_groups["Night shift"], camera_groups["Perimeter"]
    assert night["user_ids"] == [guard.id]
    assert fence["camera_ids"] == [cameras.gate.id]

    await page.get_by_role("link", name="Access").click()
    cell = page.locator(f'[data-cell="{night["id"]}:{fence["id"]}"]')
    await cell.get_by_role("checkbox", name="Live").check()
    await page.get_by_text("Saved: Night shift on Perimeter: Live.").wait_for()
    await cell.get_by_role("checkbox", name="Export").check()
    await page.get_by_text("Saved: Night shift on Perimeter: Live, Export.").wait_for()

    def pair(grants: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            g
            for g in grants
            if g["user_group_id"] == night["id"] and g["camera_group_id"] == fence["id"]
        ]

    [made] = pair((await api(page, "/api/grants"))["json"])
    assert sorted(made["permissions"]) == ["export", "view_live"]
    # The guard sees the camera now, with those rights.
    [seen] = await _as(site, guard, secret_watch, "/api/cameras")
    assert seen["id"] == cameras.gate.id
    assert sorted(seen["permissions"]) == ["export", "view_live"]
    await shot(page, "admin-access")
    await assert_accessible(page)

    # Untick both: the grant goes, and with it the camera.
    await cell.get_by_role("checkbox", name="Live").uncheck()
    await page.get_by_text("Saved: Night shift on Perimeter: Export.").wait_for()
    await cell.get_by_role("checkbox", name="Export").uncheck()
    await page.get_by_text("Saved: Night shift has no rights on Perimeter.").wait_for()
    assert pair((await api(page, "/api/grants"))["json"]) == []
    assert await _as(site, guard, secret_watch, "/api/cameras") == []
    await page.context.close()


async def _as(site: Site, user: User, watch: SecretWatch, path: str) -> Any:
    """``path`` read with a session of ``user``."""
    signed = await site.services.auth.start_session(user, Actor())
    watch.add(signed.token)
    async with httpx.AsyncClient(base_url=site.base, cookies={"vigil_session": signed.token}) as c:
        response = await c.get(path)
        assert response.status_code == 200, response.text
        return response.json()


async def test_requiring_two_factor_takes_an_admin_without_it_to_enrolment(
    site: Site, secret_watch: SecretWatch
) -> None:
    await make_user(site.services, "lena", "viewer")
    page = await site.page(site.admin, secret_watch, "/#admin?tab=organisation")
    await page.locator("[data-without-mfa]", has_text="lena").wait_for()
    await assert_accessible(page)
    try:
        await page.get_by_role(
            "switch", name="Everyone must sign in with two-factor sign-in"
        ).click()
        await page.get_by_role("heading", name="Set up two-factor sign-in").wait_for()
        await page.locator("img[data-qr]").wait_for()
        org = await site.services.auth.users.org(TEST_ORG)
        assert org.require_mfa is True
    finally:
        await site.services.auth.users.update_org(TEST_ORG, {"require_mfa": False})
    await page.context.close()


async def test_the_audit_log_narrows_by_filter_and_downloads_the_rows_shown(
    site: Site, secret_watch: SecretWatch
) -> None:
    # More entries than a page, and three failed sign-ins.
    admin = Actor(org_id=TEST_ORG, user_id=site.admin.id, username="admin", ip="192.0.2.9")
    for n in range(PAGE + 10):
        await site.services.auth.audit.record(admin, "site.update", target=f"site:{n + 1}")
    async with httpx.AsyncClient(base_url=site.base) as anonymous:
        for _ in range(3):
            wrong = await anonymous.post(
                "/api/auth/login", json={"username": "admin", "password": "not-the-password"}
            )
            assert wrong.status_code == 401
    page = await site.page(site.admin, secret_watch, "/#admin?tab=audit")
    rows = page.locator("tr[data-entry]")
    await rows.first.wait_for()
    everything = await rows.count()
    await page.get_by_label("Action").fill("login")
    await page.get_by_label("Outcome").select_option("failure")
    await page.get_by_role("button", name="Show", exact=True).click()
    await page.wait_for_url("**action=login**")
    await page.wait_for_function(
        """() => {
            const shown = [...document.querySelectorAll('tr[data-entry]')];
            return shown.length > 0 && shown.every((r) => r.innerText.includes('failure'));
        }"""
    )
    shown_ids = [int(i) for i in await rows.evaluate_all("(rs) => rs.map((r) => r.dataset.entry)")]
    assert 3 <= len(shown_ids) < everything
    for text in await rows.all_inner_texts():
        assert "login" in text
        assert "failure" in text
    await page.get_by_text(f"{len(shown_ids)} entries").wait_for()
    await assert_accessible(page)
    await shot(page, "admin-audit")

    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download CSV").click()
    download = await download_info.value
    assert download.suggested_filename.startswith("vigil-audit-")
    table = list(csv.DictReader(io.StringIO(Path(await download.path()).read_text())))
    assert [int(r["id"]) for r in table] == shown_ids
    assert {(r["action"], r["outcome"]) for r in table} == {("login", "failure")}

    # More entries than a page: older ones come on asking, and the CSV has them all.
    await page.get_by_label("Action").fill("site.update")
    await page.get_by_label("Outcome").select_option("")
    await page.get_by_role("button", name="Show", exact=True).click()
    await page.get_by_text(f"{PAGE} entries shown; older ones below").wait_for()
    await page.get_by_role("button", name="Show older entries").click()
    await page.get_by_text(f"{PAGE + 10} entries", exact=True).wait_for()
    assert await page.get_by_role("button", name="Show older entries").count() == 0
    shown = await rows.evaluate_all("(rs) => rs.map((r) => Number(r.dataset.entry))")
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download CSV").click()
    table = list(
        csv.DictReader(io.StringIO(Path(await (await download_info.value).path()).read_text()))
    )
    assert [int(r["id"]) for r in table] == shown

    # Clearing the filters shows everything again (and the exports, themselves recorded).
    await page.get_by_role("link", name="Clear filters").click()
    await page.wait_for_function(
        "() => !location.hash.includes('action=')"
        " && document.querySelector('tr[data-entry]')?.innerText.includes('audit.export')"
    )
    await page.context.close()


async def test_storage_draws_the_usage_the_api_reports(
    site: Site, cameras: Cameras, secret_watch: SecretWatch
) -> None:
    services = site.services
    plan = Plan(name="School 50", storage_bytes=50 * GB, created_at=now_ms())
    await services.library.store.add(plan)
    await services.library.store.set_plan(TEST_ORG, plan.id)
    now = now_ms()
    # A week of samples: recordings grow by 2 GB a day, library pictures and clips a little.
    for day in range(8):
        usage = Usage(
            library_bytes=(day + 1) * 100_000_000 + day * 50_000_000,
            recordings_bytes=4 * GB + day * 2 * GB,
            by_kind={"image": (day + 1) * 100_000_000, "clip": day * 50_000_000},
        )
        await services.library.store.sample_usage(TEST_ORG, usage, now - (7 - day) * DAY_MS)
    # Footage of the loading dock (which records nothing itself): 300 MB in the last day.
    records = [
        SegmentRecord(
            camera_id=cameras.dock.id,
            path=f"seeded/{i}.mp4",
            start_ms=now - (i + 1) * 3_600_000,
            end_ms=now - (i + 1) * 3_600_000 + 2000,
            size=100_000_000,
            video_codec="h264",
        )
        for i in range(3)
    ]
    assert services.node is not None
    await services.segments.add(services.node.name, records)

    page = await site.page(site.admin, secret_watch, "/#admin?tab=storage")
    chart = page.locator("svg[data-usage-chart]")
    await chart.wait_for()
    history = (await api(page, "/api/library/usage/history"))["json"]
    last = history[-1]
    drawn = {
        await band.get_attribute("data-series"): int(await band.get_attribute("data-latest") or -1)
        for band in await chart.locator("path.band").all()
    }
    assert drawn == {"recordings": last["recordings_bytes"], **last["by_kind"]}
    legend = page.locator("[data-legend]")
    assert await legend.all_inner_texts() == [
        "Recordings: 18 GB",
        "Uploaded pictures: 800 MB",
        "Saved clips: 350 MB",
    ]
    # The areas fill the chart's width and stack up to the latest total.
    box = await chart.bounding_box()
    assert box is not None
    assert box["width"] > 500
    # The plan: used of its limit, and how long it lasts at the last week's growth.
    usage = (await api(page, "/api/library/usage"))["json"]
    plan_box = page.locator("[data-plan]")
    assert "Plan: School 50" in await plan_box.inner_text()
    assert "of 50 GB used" in await plan_box.inner_text()
    growth = (
        last["recordings_bytes"]
        + last["library_bytes"]
        - history[0]["recordings_bytes"]
        - history[0]["library_bytes"]
    ) / 7
    days_left = round(usage["remaining_bytes"] / growth)
    await page.locator("[data-projection]", has_text=f"full in {days_left} days").wait_for()
    # Per camera: the dock's footage.
    dock = page.locator(f'tr[data-camera-storage="{cameras.dock.id}"]')
    assert "Loading dock" in await dock.inner_text()
    assert "300 MB" in await dock.inner_text()
    await page.locator("[data-disk-days]").wait_for()
    await shot(page, "admin-storage")
    await assert_accessible(page)
    await page.context.close()


async def test_system_health_shows_the_cameras_the_node_and_its_disk(
    site: Site, cameras: Cameras, secret_watch: SecretWatch
) -> None:
    page = await site.page(site.admin, secret_watch, "/#admin?tab=system")
    gate = page.locator(f'tr[data-health-camera="{cameras.gate.id}"]')
    await gate.locator(".badge", has_text="streaming").wait_for(timeout=30_000)
    dock = page.locator(f'tr[data-health-camera="{cameras.dock.id}"]')
    assert "disabled" in await dock.inner_text()
    node = page.locator('tr[data-node="local"]')
    await node.get_by_text("connected").wait_for()
    system = (await api(page, "/api/system"))["json"]
    [local] = system["nodes"]
    disk = await node.locator("[data-node-disk]").inner_text()
    assert " free of " in disk
    assert await node.locator("meter").get_attribute("max") == str(local["disk"]["total_bytes"])
    assert "SSD MobileNet, 2 workers" in await node.inner_text()
    assert "draining" not in await node.inner_text()
    await page.locator("[data-camera-states]", has_text="streaming").wait_for()
    assert "Database: reachable" in await page.locator("[data-server]").inner_text()
    await shot(page, "admin-system")
    await assert_accessible(page)
    # A node being drained says so (vigil nodes drain), once the page is read again.
    await site.services.cameras.node_store.set_draining("local", True)
    try:
        await page.reload()
        await node.locator(".badge", has_text="draining").wait_for()
        await assert_accessible(page)
    finally:
        await site.services.cameras.node_store.set_draining("local", False)
    await page.context.close()


async def test_a_non_admin_neither_sees_nor_reaches_administration(
    site: Site, secret_watch: SecretWatch
) -> None:
    operator = await make_user(site.services, "olu", "operator")
    page = await site.page(operator, secret_watch, "/#live")
    await page.locator(".sidebar").get_by_role("link", name="Live").wait_for()
    assert await page.get_by_role("link", name="Admin", exact=True).count() == 0
    await page.goto(site.base + "/#admin?tab=people")
    await page.get_by_role("heading", name="For administrators").wait_for()
    assert await page.locator("nav.tabs").count() == 0
    assert await page.locator("tr[data-user]").count() == 0
    for path in ADMIN_ROUTES:
        answer = await api(page, path)
        assert answer["status"] == 403, (path, answer)
    changed = await api(page, "/api/org", "PATCH", {"require_mfa": True})
    assert changed["status"] == 403
    made = await api(page, "/api/users", "POST", {"username": "sneaky", "role": "admin"})
    assert made["status"] == 403
    await assert_accessible(page)
    await page.context.close()


async def test_every_section_on_a_phone_in_both_themes(
    site: Site, cameras: Cameras, secret_watch: SecretWatch
) -> None:
    page = await site.page(site.admin, secret_watch, "/#admin", viewport=PHONE, has_touch=True)
    for tab in ("people", "groups", "access", "organisation", "audit", "storage", "system"):
        await page.goto(f"{site.base}/#admin?tab={tab}")
        await page.locator(".admin-body").wait_for()
        await page.wait_for_function("() => !document.querySelector('.admin-body [data-pending]')")
        await no_sideways_scroll(page)
        for theme in ("light", "dark"):
            await page.evaluate(f"() => document.documentElement.dataset.theme = '{theme}'")
            await assert_accessible(page)
        if SCREENSHOTS:
            await page.screenshot(path=Path(SCREENSHOTS) / f"admin-{tab}-phone.png", full_page=True)
        await page.evaluate("() => delete document.documentElement.dataset.theme")
    # The bar at the bottom holds more pages than fit: whichever is shown, it is in view,
    # and the bar rests at a page's edge (a name cut at one end says there is more that way).
    for name in ("live", "recordings", "events", "library", "search", "cameras", "admin"):
        await page.goto(f"{site.base}/#{name}")
        await page.locator(f'.sidebar a[href="#{name}"][aria-current="page"]').wait_for()
        cut, current, at_end = await page.evaluate(BAR)
        assert current == "whole", name
        assert cut == [] or at_end, name
    await page.context.close()


# The names the bar at the bottom cuts at its left edge, whether the page shown is whole, and
# whether the bar is scrolled to its end.
BAR = """() => {
  const nav = document.querySelector("nav.sidebar");
  const bar = nav.getBoundingClientRect();
  const where = (a) => {
    const box = a.getBoundingClientRect();
    if (box.right <= bar.left + 1 || box.left >= bar.right - 1) return "out";
    if (box.left < bar.left - 1) return "cut";
    return box.right <= bar.right + 1 ? "whole" : "more";
  };
  const links = [...document.querySelectorAll("nav.sidebar a")];
  return [
    links.filter((a) => where(a) === "cut").map((a) => a.textContent),
    where(document.querySelector('nav.sidebar a[aria-current="page"]')),
    nav.scrollLeft + nav.clientWidth >= nav.scrollWidth - 1,
  ];
}"""
