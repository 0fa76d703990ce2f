"""API fuzzing: schemathesis sends every operation of the OpenAPI document (``/openapi.json``)
generated requests, valid and invalid, against a real Vigil server on a fresh SQLite data
folder, and the run fails on any 5xx answer that the operation does not document (a declared
503 such as "no live picture" for an offline camera is an answer, not a crash), on any
exception that escapes a route, and on any response body that does not match the schema
declared for its status. Three passes, all with seed 20240611 and at most 20 generated
examples per operation (plus schemathesis' boundary values and stateful sequences): an
admin's API key with every scope (every operation), another admin's browser session
(``/api/me`` and ``/api/auth``, which API keys may not use), and no credentials. About
10,000 requests, a minute and a half on 2 cores. ``tests/fuzz/run.py`` is the runner; the
server has a camera at a dead loopback URL with footage, an event, an export, a library item
and a share link, so that operations on each of them find one.

Generated requests carry the schema's example URLs (cameras, storage) and the server dials
them, so the run happens in a network namespace of its own, where only ``lo`` exists:
``unshare --net`` as root, ``unshare --map-root-user --net`` (a user namespace) otherwise.
The runner refuses to start anywhere else.

A failure lists each failing operation with schemathesis' ``curl`` line to reproduce it and
the server's traceback. To explore by hand, with another seed, more examples or more checks::

    unshare --net -- .venv/bin/python -m tests.fuzz.run /tmp/fuzz --seed 7 --max-examples 50
    unshare --net -- .venv/bin/python -m tests.fuzz.run /tmp/fuzz -- --checks all

then read ``/tmp/fuzz/*.txt`` (schemathesis' output) and ``/tmp/fuzz/server-errors.jsonl``.
``--database-url`` runs it on an empty PostgreSQL database instead (see ``--help``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fuzz.run import SERVER_ERRORS
from tests.fuzz.server_errors import read_server_errors

ROOT = Path(__file__).resolve().parents[2]
# Where `vigil serve` listens unless told otherwise: the curl lines point there.
LOCAL_SERVER = "http://127.0.0.1:8000"


def isolated(command: list[str]) -> list[str]:
    """``command`` in a network namespace of its own: as root a plain one, otherwise inside a
    user namespace where this user is root (``run.py`` brings its ``lo`` up)."""
    if os.geteuid() == 0:
        return ["unshare", "--net", "--", *command]
    return ["unshare", "--map-root-user", "--net", "--", *command]


def failures_report(work: Path, result: dict[str, Any]) -> str:
    """Every failing operation: schemathesis' account of it (with a curl line to reproduce
    it) and what the server logged for it; and any exception that escaped a route."""
    sections = []
    for run in result["passes"]:
        if not run["failures"] and run["exit_code"] == 0:
            continue
        output = (work / f"{run['name']}.txt").read_text(encoding="utf-8", errors="replace")
        found = re.search(r"^=+ (FAILURES|ERRORS) =+$.*?(?=^=+ (WARNINGS|SUMMARY) =+$)", output,
                          re.MULTILINE | re.DOTALL)  # fmt: skip
        account = found.group(0) if found else output[-4000:]
        account = re.sub(r"http://127\.0\.0\.1:\d+", LOCAL_SERVER, account)
        sections.append(f"--- pass {run['name']!r} (exit code {run['exit_code']}) ---\n{account}")
    # One section per distinct traceback, naming every request that ended in it.
    causes: dict[str, list[str]] = {}
    for error in read_server_errors(work / SERVER_ERRORS):
        if error.documented and not error.traceback:
            continue  # an answer the operation documents (503 for an offline camera)
        cause = our_frames(error.traceback) if error.traceback else f"answered {error.status}"
        request = f"{error.operation}: {error.method} {error.target[:200]}"
        if request not in causes.setdefault(cause, []):
            causes[cause].append(request)
    for cause, requests in causes.items():
        listed = "\n".join(requests[:10]) + (
            f"\n(and {len(requests) - 10} more)" * (len(requests) > 10)
        )
        sections.append(f"--- the server's traceback for:\n{listed}\n{cause}")
    if sections:
        sections.insert(0, HOW_TO_REPRODUCE)
    return "\n\n".join(sections)


HOW_TO_REPRODUCE = (
    f"Each curl line below goes to {LOCAL_SERVER} (`vigil serve`) with the fuzz run's own "
    "credentials: put in an admin's API key with every scope (pass 'api-key'), or a signed-in "
    "admin's vigil_session cookie and X-CSRF-Token (pass 'session'). A 'Stateful tests' "
    "failure lists its sequence; requests of earlier phases may have made the state it met."
)


def our_frames(traceback: str) -> str:
    """A traceback without the frames of installed packages (FastAPI, SQLAlchemy...)."""
    lines = traceback.strip().splitlines()
    kept: list[str] = []
    skipping = False
    for line in lines:
        if line.startswith("  File "):
            skipping = not line.startswith('  File "/') or "/lib/python3" in line
        elif not line.startswith(" "):
            skipping = False  # "Traceback...", the exception's message, "During handling..."
        if not skipping:
            kept.append(line)
    return "\n".join(kept)


@pytest.mark.timeout(600)
def test_no_generated_request_gets_a_server_error(tmp_path: Path) -> None:
    if sys.platform != "linux":
        pytest.skip("needs Linux network namespaces")
    assert shutil.which("unshare"), "needs unshare (util-linux)"
    work = tmp_path / "fuzz"
    command = isolated([sys.executable, "-m", "tests.fuzz.run", str(work)])
    completed = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=540, check=False
    )
    assert completed.returncode == 0, (
        f"the fuzz run did not finish ({completed.returncode}):\n{completed.stderr[-4000:]}"
    )
    result = json.loads((work / "result.json").read_text(encoding="utf-8"))
    summary = ", ".join(
        f"{p['name']}: {p['operations']} operations, {p['test_cases']} requests in {p['seconds']} s"
        for p in result["passes"]
    )
    print(f"fuzz (seed {result['seed']}, {result['max_examples']} examples each): {summary}")
    report = failures_report(work, result)
    assert not report, f"server errors ({summary}); files in {work}\n\n{report}"
