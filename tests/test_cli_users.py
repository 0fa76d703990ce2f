"""`vigil users create-admin` and `vigil users list`, run as a user would run them."""

from __future__ import annotations

import os
import subprocess
import sys

from typer.testing import CliRunner

from tests.people import PASSWORD
from vigil.app import open_database, secret_box
from vigil.auth.service import AuthService
from vigil.cli import cli
from vigil.settings import Settings
from vigil.store.audit import Actor, AuditFilter
from vigil.store.library import LibraryStore


def env(settings: Settings) -> dict[str, str]:
    """The test's database and secret key, for a command run on its data folder."""
    return {"VIGIL_DATABASE__URL": settings.database_url, "VIGIL_SECRET_KEY": settings.secret_key}


def options(settings: Settings) -> list[str]:
    return ["--data-dir", str(settings.data_dir)]


def create_admin(
    settings: Settings, *args: str, password: str = PASSWORD
) -> subprocess.CompletedProcess[str]:
    """Run the real command line, in its own process, with the password on stdin."""
    return subprocess.run(
        [sys.executable, "-m", "vigil", "users", "create-admin", *args, "--password-stdin",
         *options(settings)],
        input=f"{password}\n",
        capture_output=True,
        text=True,
        env={**os.environ, **env(settings)},
        timeout=60,
        check=False,
    )  # fmt: skip


async def test_create_admin_makes_an_admin_who_can_sign_in(settings: Settings) -> None:
    result = create_admin(settings, "--username", "Ada", "--org", "Hill school")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "admin Ada created in organisation Hill school"
    assert PASSWORD not in result.stdout + result.stderr

    db = await open_database(settings)
    try:
        auth = AuthService(settings.auth, db, secret_box(settings))
        signed_in = await auth.login("ada", PASSWORD, None, Actor(ip="127.0.0.1"))
        assert signed_in.principal.is_admin
        org = await auth.users.org(signed_in.principal.org_id)
        assert org.name == "Hill school"
        entries = await auth.audit.query(org.id, AuditFilter(actions=["user.create"]))
        assert len(entries) == 1
        assert entries[0].user_id is None
        assert entries[0].username is None
        assert entries[0].detail == {"role": "admin", "via": "cli"}
        assert entries[0].target == f"user:{signed_in.principal.user_id}"
    finally:
        await db.close()

    taken = create_admin(settings, "--username", "ADA", "--org", "Other school")
    assert taken.returncode == 1
    assert "a user named 'ADA' already exists" in taken.stderr


def test_a_weak_password_is_refused_with_the_policys_reason(settings: Settings) -> None:
    weak = create_admin(settings, "--username", "ada", password="password123")
    assert weak.returncode == 2
    assert "common passwords" in weak.stderr
    assert "password123" not in weak.stdout + weak.stderr
    listed = CliRunner().invoke(cli, ["users", "list", *options(settings)], env=env(settings))
    assert listed.exit_code == 0, listed.output
    assert listed.output == ""


def test_without_stdin_the_password_is_asked_twice_and_not_echoed(settings: Settings) -> None:
    args = ["users", "create-admin", "--username", "ada", *options(settings)]
    mismatch = f"{PASSWORD}\nsomething-else-entirely\n{PASSWORD}\n{PASSWORD}\n"
    result = CliRunner().invoke(cli, args, input=mismatch, env=env(settings))
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert PASSWORD not in result.output
    assert "admin ada created in organisation My organisation" in result.output

    bad = ["users", "create-admin", "--username", "two words", "--password-stdin"]
    refused = CliRunner().invoke(cli, [*bad, *options(settings)], input=f"{PASSWORD}\n")
    assert refused.exit_code == 2
    assert "username" in refused.output

    listed = CliRunner().invoke(cli, ["users", "list", *options(settings)], env=env(settings))
    assert listed.output.split() == ["ada", "admin", "My", "organisation"]


def vigil(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vigil", *args, *options(settings)],
        capture_output=True,
        text=True,
        env={**os.environ, **env(settings)},
        timeout=60,
        check=False,
    )


async def test_plans_set_puts_an_organisation_on_a_plan(settings: Settings) -> None:
    assert create_admin(settings, "--username", "Ada", "--org", "Hill school").returncode == 0
    run = vigil(settings, "plans", "set", "hill SCHOOL", "--plan", "Starter", "--storage-gb", "2")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "Hill school is on plan Starter (2 GB)"
    db = await open_database(settings)
    try:
        plan = await LibraryStore(db).plan_of(1)
        assert plan is not None
        assert (plan.name, plan.storage_bytes, plan.max_users) == ("Starter", 2_000_000_000, None)
    finally:
        await db.close()
    missing = vigil(settings, "plans", "set", "Nowhere", "--plan", "Starter")
    assert missing.returncode != 0
    assert "no organisation named 'Nowhere'" in missing.stderr
